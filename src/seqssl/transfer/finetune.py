"""Fine-tune an encoder + head on a labelled task, with early stopping on a validation split."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.collate import iterate_batches
from ..data.dataset import BINARY_OUTPUT_TASKS, IGNORE_INDEX, MULTILABEL_TASK, TOKEN_TASK, EncodedDataset
from ..evaluate.metrics import PRIMARY_METRIC, task_metrics
from ..losses import binary_loss, token_cross_entropy
from ..models.heads import PredictionHead, TokenHead
from ..runtime import autocast
from ..train.optim import build_optimizer, build_scheduler, clip_and_step
from .early_stopping import EarlyStopping


class SequencePredictor(nn.Module):
    """Encoder → pooled embedding → prediction head: one output per example, or ``n_targets`` outputs
    (multilabel)."""

    def __init__(self, encoder, cfg, n_targets: int | None = None):
        super().__init__()
        self.encoder = encoder
        self.n_targets = n_targets
        self.head = PredictionHead(encoder.hidden_size, cfg.head_hidden, n_targets or 1, cfg.head_dropout)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def forward(self, batch: dict) -> torch.Tensor:
        pooled = self.encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        out = self.head(pooled)
        return out if self.n_targets else out.squeeze(-1)


class TokenPredictor(nn.Module):
    """Encoder → token states → per-token head: class logits for every token."""

    def __init__(self, encoder, cfg, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = TokenHead(encoder.hidden_size, cfg.head_hidden, n_classes, cfg.head_dropout)

    def forward(self, batch: dict) -> torch.Tensor:
        states = self.encoder.token_states(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        return self.head(states)


def build_predictor(encoder, cfg, task: str, data: EncodedDataset) -> nn.Module:
    if task == TOKEN_TASK:
        return TokenPredictor(encoder, cfg, len(data.meta["classes"]))
    return SequencePredictor(encoder, cfg, len(data.meta["targets"]) if task == MULTILABEL_TASK else None)


def task_loss(task: str, output: torch.Tensor, target: torch.Tensor, cfg=None) -> torch.Tensor:
    """BCE or focal loss (``cfg.loss``) for binary outputs, unmeasured multilabel targets (NaN) left out;
    cross-entropy per token; MSE on standardised targets for regression."""
    if task in BINARY_OUTPUT_TASKS:
        name = getattr(cfg, "loss", "bce")
        measured = ~torch.isnan(target)
        return binary_loss(name, output.float(), torch.nan_to_num(target.float()),
                           alpha=getattr(cfg, "focal_alpha", None) if name == "focal" else None,
                           gamma=getattr(cfg, "focal_gamma", 2.0), mask=measured if task == MULTILABEL_TASK else None)
    if task == TOKEN_TASK:
        return token_cross_entropy(output, target, IGNORE_INDEX)
    return F.mse_loss(output.float(), target.float())


@torch.no_grad()
def predict_tokens(model: TokenPredictor, data: EncodedDataset, device: torch.device, batch_size: int = 512,
                   precision: str = "fp32") -> np.ndarray:
    """Class probabilities ``(labelled residues, classes)``, rows in :meth:`EncodedDataset.targets` order."""
    model.eval()
    parts: list = [None] * len(data)
    for positions, batch in iterate_batches(data, batch_size, rng=None):
        batch = {k: v.to(device) for k, v in batch.items() if k != "token_labels"}
        with autocast(device, precision):
            probs = model(batch).float().softmax(-1).cpu().numpy()
        for row, i in enumerate(positions):
            labelled = data.token_labels[i] != IGNORE_INDEX
            parts[i] = probs[row, : len(labelled)][labelled]
    n_classes = len(data.meta["classes"])
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, n_classes))


@torch.no_grad()
def predict(model: SequencePredictor, data: EncodedDataset, task: str, device: torch.device,
            batch_size: int = 512, precision: str = "fp32") -> np.ndarray:
    """Scores in dataset order: probabilities for classification, values for regression; for token
    tasks, per-residue class probabilities (:func:`predict_tokens`)."""
    if task == TOKEN_TASK:
        return predict_tokens(model, data, device, batch_size, precision)
    model.eval()
    scores = np.zeros((len(data), *(() if data.labels is None else data.labels.shape[1:])), dtype=np.float64)
    for positions, batch in iterate_batches(data, batch_size, rng=None):
        batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        with autocast(device, precision):
            out = model(batch).float()
        if task in BINARY_OUTPUT_TASKS:
            out = torch.sigmoid(out)
        else:
            out = out * model.target_std + model.target_mean
        scores[positions] = out.cpu().numpy()
    return scores


def fine_tune(encoder, train: EncodedDataset, val: EncodedDataset, cfg, task: str, *, device: torch.device,
              precision: str = "fp32", seed: int = 0, progress: bool = True, desc: str = "finetune"):
    """Train until the validation primary metric stops improving for ``cfg.patience`` epochs
    (capped at ``cfg.epochs`` or ``cfg.max_steps``); return the best model and the history."""
    torch.manual_seed(seed)
    model = build_predictor(encoder, cfg, task, train).to(device)
    if task == "regression":
        model.target_mean.fill_(float(train.labels.mean()))
        model.target_std.fill_(float(train.labels.std() + 1e-8))
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, per_epoch * cfg.epochs)
    encoder_lr = getattr(cfg, "encoder_lr", None)
    optimizer = build_optimizer(model.parameters(), cfg, slow=model.encoder.parameters(), slow_lr=encoder_lr)
    scheduler = build_scheduler(optimizer, cfg, total)
    rng = np.random.default_rng(seed)
    metric = PRIMARY_METRIC[task]
    stopping = EarlyStopping(metric, cfg.patience, cfg.min_delta, cfg.epochs, progress=progress, desc=desc,
                             select=getattr(cfg, "select", "best"))
    step = 0
    for epoch in range(cfg.epochs):
        started = time.perf_counter()
        model.train()
        losses = []
        for _, batch in iterate_batches(train, cfg.batch_size, rng):
            batch = {k: v.to(device) for k, v in batch.items()}
            target = batch.pop("token_labels" if task == TOKEN_TASK else "labels")
            if task == "regression":
                target = (target - model.target_mean) / model.target_std
            with autocast(device, precision):
                loss = task_loss(task, model(batch), target, cfg)
            loss.backward()
            clip_and_step(model, optimizer, scheduler, cfg.grad_clip)
            losses.append(float(loss.detach()))
            step += 1
            if step >= total:
                break
        seconds = time.perf_counter() - started
        scores = predict(model, val, task, device, precision=precision)
        value = task_metrics(task, val.targets(), scores).get(metric)
        if stopping.update(model, epoch, float(np.mean(losses)), value, seconds) or step >= total:
            break
    return model, stopping.finish(model, cfg.batch_size)
