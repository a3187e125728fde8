"""Fine-tune an encoder + head on a labelled task, with early stopping on a validation split."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..data.collate import iterate_batches
from ..data.dataset import IGNORE_INDEX, EncodedDataset
from ..errors import InputError
from ..models.heads import PredictionHead, TokenHead
from ..runtime import autocast
from ..tasks import Task, as_task
from .training import train_with_early_stopping


class SequencePredictor(nn.Module):
    """Encoder → pooled embedding → prediction head: one output per example, or ``n_targets`` outputs
    (multilabel)."""

    target_mean: torch.Tensor  # buffers (regression standardisation), declared for the type checker
    target_std: torch.Tensor

    def __init__(self, encoder, cfg, n_targets: int | None = None):
        super().__init__()
        self.encoder = encoder
        self.n_targets = n_targets
        if cfg.head == "classifier" and encoder.pooling != "cls":
            raise InputError("finetune.head classifier reads the first token, as transformers' classification "
                             f"heads do; this encoder pools by {encoder.pooling}",
                             fix="set model.pooling cls (a new encoder) or model.loaded_pooling cls (a loaded one)")
        hidden = encoder.hidden_size if cfg.head == "classifier" else cfg.head_hidden
        self.head = PredictionHead(encoder.hidden_size, hidden, n_targets or 1, cfg.head_dropout,
                                   "tanh" if cfg.head == "classifier" else "gelu")
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    @property
    def frozen(self) -> bool:
        """Whether no encoder weight trains (``--mode probe-mlp``): the encoder then runs in eval mode, no graph."""
        return not any(p.requires_grad for p in self.encoder.parameters())

    def pooled(self, batch: dict) -> torch.Tensor:
        if not self.frozen:
            return self.encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        self.encoder.eval()  # a frozen embedding is the same at every epoch: no dropout
        with torch.no_grad():
            return self.encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])

    def forward(self, batch: dict) -> torch.Tensor:
        out = self.head(self.pooled(batch))
        return out if self.n_targets else out.squeeze(-1)

    def batch_extras(self, data: EncodedDataset) -> dict[str, np.ndarray]:
        """Per-example inputs the model reads besides the tokens (none here)."""
        return {}


class PerValuePredictor(SequencePredictor):
    """A pair model with one output per value of its last column seen in training (e.g. each peptide), added to a
    shared output: ``z = s(h) + o_v(h)`` for a seen value ``v``, ``z = s(h)`` for an unseen one, ``h`` the pooled
    joined input. The per-epitope models TCR tools fit for seen epitopes (e.g. TCRGP, Jokinen et al. 2021; tcrdist's
    per-epitope classifiers) share nothing across epitopes; here the encoder and ``s`` are shared, so a value with
    few examples borrows from the others and an unseen one falls back to the joined-pair model ``s``. The value
    of each example is its ``group_keys`` entry (the last column, or ``--group-metric``)."""

    def __init__(self, encoder, cfg, values: list[str]):
        super().__init__(encoder, cfg, None)
        self.values = list(values)
        self.head = PredictionHead(encoder.hidden_size, cfg.head_hidden, len(self.values) + 1, cfg.head_dropout)

    def batch_extras(self, data: EncodedDataset) -> dict[str, np.ndarray]:
        """``value_index``: 1 + the position of each example's value among :attr:`values`, 0 when unseen."""
        if data.group_keys is None:
            raise InputError("the per-value head needs each example's value of the last column",
                             fix="give two or more --columns (e.g. cdr3_b_aa,peptide), or --group-metric COL")
        where = {value: i + 1 for i, value in enumerate(self.values)}
        return {"value_index": np.array([where.get(str(k), 0) for k in data.group_keys], dtype=np.int64)}

    def forward(self, batch: dict) -> torch.Tensor:
        out = self.head(self.pooled(batch))
        index = batch["value_index"]
        own = out.gather(1, index[:, None]).squeeze(1) * (index > 0)
        return out[:, 0] + own


class TokenPredictor(nn.Module):
    """Encoder → token states → per-token head: class logits for every token."""

    def __init__(self, encoder, cfg, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = TokenHead(encoder.hidden_size, cfg.head_hidden, n_classes, cfg.head_dropout)

    def forward(self, batch: dict) -> torch.Tensor:
        states = self.encoder.token_states(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        return self.head(states)


def build_predictor(encoder, cfg, task: str | Task, data: EncodedDataset,
                    per_value: bool = False) -> SequencePredictor | TokenPredictor:
    """The model fine-tuned for ``task``; ``per_value``: a :class:`PerValuePredictor` over the values of ``data``
    (binary tasks only)."""
    task = as_task(task)
    if task.per_token:
        return TokenPredictor(encoder, cfg, len(data.meta["classes"]))
    if per_value:
        if not task.binary or data.group_keys is None:
            raise InputError("the per-value head is for binary pair tasks (one output per value of the last column)",
                             fix="use --mode full, or --task pair-classification with two or more --columns")
        return PerValuePredictor(encoder, cfg, sorted({str(k) for k in data.group_keys}))
    return SequencePredictor(encoder, cfg, task.n_outputs(data))


def batch_extras(model: nn.Module, data: EncodedDataset) -> dict[str, np.ndarray]:
    """What ``model`` reads per example besides tokens (:meth:`SequencePredictor.batch_extras`)."""
    extras = getattr(model, "batch_extras", None)
    return extras(data) if extras is not None else {}


def target_key(task: Task) -> str:
    """The batch entry a task's model is trained against."""
    return "token_labels" if task.per_token else "labels"


@torch.no_grad()
def predict_tokens(model: nn.Module, data: EncodedDataset, device: torch.device, batch_size: int = 512,
                   precision: str = "fp32") -> np.ndarray:
    """Class probabilities ``(labelled residues, classes)``, rows in :meth:`EncodedDataset.targets` order."""
    model.eval()
    parts: list = [None] * len(data)
    for positions, batch in iterate_batches(data, batch_size, rng=None):
        batch = {k: v.to(device) for k, v in batch.items() if k != "token_labels"}
        with autocast(device, precision):
            probs = model(batch).float().softmax(-1).cpu().numpy()
        assert data.token_labels is not None, "token tasks score labelled residues"
        for row, i in enumerate(positions):
            labelled = data.token_labels[i] != IGNORE_INDEX
            parts[i] = probs[row, : len(labelled)][labelled]
    n_classes = len(data.meta["classes"])
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, n_classes))


@torch.no_grad()
def predict(model: SequencePredictor | TokenPredictor, data: EncodedDataset, task: str | Task, device: torch.device,
            batch_size: int = 512, precision: str = "fp32") -> np.ndarray:
    """Scores in dataset order: probabilities for classification, values for regression; for token
    tasks, per-residue class probabilities (:func:`predict_tokens`)."""
    task = as_task(task)
    if task.per_token:
        return predict_tokens(model, data, device, batch_size, precision)
    model.eval()
    scores = np.zeros((len(data), *task.score_shape(data)), dtype=np.float64)
    for positions, batch in iterate_batches(data, batch_size, rng=None, extras=batch_extras(model, data)):
        batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        with autocast(device, precision):
            out = model(batch).float()
        scores[positions] = task.to_scores(out, model).cpu().numpy()
    return scores


def fine_tune(encoder, train: EncodedDataset, val: EncodedDataset, cfg, task: str | Task, *, device: torch.device,
              precision: str = "fp32", seed: int = 0, progress: bool = True, desc: str = "finetune",
              per_value: bool = False, model=None):
    """Train until the validation primary metric stops improving for ``cfg.patience`` epochs
    (capped at ``cfg.epochs`` or ``cfg.max_steps``); return the best model and the history. ``per_value``: the
    head of :class:`PerValuePredictor`. ``model``: a predictor to continue training (``finetune --resume``)
    instead of a new head on ``encoder``."""
    task = as_task(task)
    torch.manual_seed(seed)
    continuing = model is not None
    model = (model if continuing else build_predictor(encoder, cfg, task, train, per_value)).to(device)
    extras = batch_extras(model, train)
    if task.standardise_targets and not continuing:
        # regression: one output per example, labels to standardise
        labels = train.labels  # a streamed subset gathers them on each read
        assert isinstance(model, SequencePredictor) and labels is not None
        model.target_mean.fill_(float(labels.mean()))
        model.target_std.fill_(float(labels.std() + 1e-8))
    rng = np.random.default_rng(seed)

    def step_loss(batch) -> torch.Tensor:
        batch = {k: v.to(device) for k, v in batch[1].items()}
        target = batch.pop(target_key(task))
        if task.standardise_targets:
            assert isinstance(model, SequencePredictor)
            target = (target - model.target_mean) / model.target_std
        with autocast(device, precision):
            return task.loss(model(batch), target, cfg)

    def validate() -> float | None:
        return task.metrics(val.targets(), predict(model, val, task, device, precision=precision)).get(
            task.primary_metric)

    details = train_with_early_stopping(
        model, batches=lambda: iterate_batches(train, cfg.batch_size, rng, extras=extras),
        per_epoch=math.ceil(len(train) / cfg.batch_size),
        step_loss=step_loss, validate=validate, cfg=cfg, metric=task.primary_metric, device=device,
        progress=progress, desc=desc, slow_params=model.encoder.parameters())
    return model, details
