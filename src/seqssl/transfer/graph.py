"""Train a molecular GNN (:class:`~seqssl.models.gnn.GraphPredictor`) on labelled graphs with early
stopping on the validation primary metric, like :func:`~seqssl.transfer.finetune.fine_tune`."""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from ..errors import InputError
from ..evaluate.metrics import PRIMARY_METRIC, task_metrics
from ..losses import BINARY_LOSSES, binary_loss
from ..models.gnn import GraphPredictor
from ..train.memory import PeakMemory
from ..train.optim import build_optimizer, build_scheduler, clip_and_step
from .early_stopping import EarlyStopping

GRAPH_TASKS = ("classification", "regression", "multilabel")


def _labelled(graphs, y: np.ndarray) -> list:
    """Shallow copies of the graphs (tensors shared) carrying ``y`` as a ``(1, n_targets)`` float row."""
    out = []
    for g, label in zip(graphs, y):
        g = copy.copy(g)
        g.y = torch.as_tensor(np.asarray(label, dtype=np.float32)).reshape(1, -1)
        out.append(g)
    return out


def _check(task: str, loss: str, graphs, y: np.ndarray, name: str) -> None:
    if task not in GRAPH_TASKS:
        raise InputError(f"task '{task}' is not supported for graphs", fix=f"use one of {', '.join(GRAPH_TASKS)}")
    if loss not in BINARY_LOSSES:
        raise InputError(f"unknown loss '{loss}'", fix=f"use {' or '.join(BINARY_LOSSES)}")
    if loss == "focal" and task == "regression":
        raise InputError("focal loss needs a classification or multilabel task", fix="use --loss bce")
    if not len(graphs):
        raise InputError(f"no {name} molecules", fix="check the data and --invalid-smiles")
    if len(graphs) != len(y):
        raise ValueError(f"{name}: {len(graphs)} graphs but {len(y)} labels")
    if task == "multilabel" and y.ndim != 2:
        raise ValueError(f"{name}: multilabel labels must be a (n, n_targets) matrix")


def _loss(task: str, model, out: torch.Tensor, y: torch.Tensor, loss: str, alpha, gamma) -> torch.Tensor:
    if task == "regression":
        return F.mse_loss(out.float(), ((y.squeeze(-1) - model.target_mean) / model.target_std).float())
    if task == "multilabel":
        known = ~torch.isnan(y)
        return binary_loss(loss, out, y, alpha=alpha, gamma=gamma, mask=known)
    return binary_loss(loss, out, y.squeeze(-1), alpha=alpha, gamma=gamma)


@torch.no_grad()
def predict_graphs(model: GraphPredictor, graphs, task: str, device: torch.device, batch_size: int = 512
                   ) -> np.ndarray:
    """Scores in input order: probabilities (``(n,)``, or ``(n, n_targets)`` for multilabel) or, for
    regression, values on the original scale."""
    model.eval()
    parts = []
    for batch in DataLoader(list(graphs), batch_size=batch_size, shuffle=False):
        out = model(batch.to(device)).float()
        out = out * model.target_std + model.target_mean if task == "regression" else torch.sigmoid(out)
        parts.append(out.cpu().numpy().astype(np.float64))
    if not parts:
        return np.zeros((0,) if model.n_outputs == 1 else (0, model.n_outputs))
    return np.concatenate(parts)


def fit_graph_model(kind: str, train_graphs, train_y, val_graphs, val_y, cfg, task: str, *,
                    device: torch.device, seed: int, loss: str = "bce", focal_alpha: float | None = None,
                    focal_gamma: float = 2.0, progress: bool = False, desc: str = "gnn",
                    model_kwargs: dict | None = None):
    """Train a ``kind`` (gcn | gat | gatv2) :class:`GraphPredictor` with AdamW until the validation
    primary metric stops improving for ``cfg.patience`` epochs (capped at ``cfg.epochs`` or
    ``cfg.max_steps``); return the best model and its details.

    ``cfg``: the ``finetune`` config section (lr, batch_size, epochs, patience, min_delta, weight_decay,
    grad_clip, scheduler, head_hidden, head_dropout). ``task``: ``classification`` (labels 0/1),
    ``regression`` (standardised on the training labels) or ``multilabel`` (a ``(n, n_targets)`` 0/1
    matrix, NaN = missing, masked out of the loss; validation metric ``map``). ``loss``: ``bce`` or
    ``focal`` (:func:`~seqssl.losses.focal_loss` with ``focal_alpha``, ``focal_gamma``).
    ``model_kwargs``: passed to :class:`GraphPredictor` (hidden, layers, heads, dropout, pooling).

    Details: ``history`` (per epoch: epoch, train_loss, val_<metric>, seconds), ``best_val``,
    ``epochs_run``, ``stopped_early``, ``best_epoch``, ``batch_size``, ``epoch_seconds`` (mean wall
    time of a training epoch, validation excluded) and ``peak_memory_mb`` (:class:`PeakMemory`)."""
    train_y, val_y = np.asarray(train_y, dtype=np.float64), np.asarray(val_y, dtype=np.float64)
    _check(task, loss, train_graphs, train_y, "training")
    _check(task, loss, val_graphs, val_y, "validation")
    device = torch.device(device)
    n_outputs = train_y.shape[1] if task == "multilabel" else 1
    alpha = focal_alpha if loss == "focal" else None
    with PeakMemory(device) as memory:
        torch.manual_seed(seed)
        kwargs = {"head_hidden": cfg.head_hidden, "head_dropout": cfg.head_dropout, **(model_kwargs or {})}
        model = GraphPredictor(kind, train_graphs[0].x.shape[1], train_graphs[0].edge_attr.shape[1],
                               n_outputs=n_outputs, **kwargs).to(device)
        if task == "regression":
            model.target_mean.fill_(float(train_y.mean()))
            model.target_std.fill_(float(train_y.std() + 1e-8))
        generator = torch.Generator()
        generator.manual_seed(seed)
        loader = DataLoader(_labelled(train_graphs, train_y), batch_size=cfg.batch_size, shuffle=True,
                            generator=generator)
        per_epoch = len(loader)
        total = per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, per_epoch * cfg.epochs)
        optimizer = build_optimizer(model.parameters(), cfg)
        scheduler = build_scheduler(optimizer, cfg, total)
        metric = PRIMARY_METRIC[task]
        stopping = EarlyStopping(metric, cfg.patience, cfg.min_delta, cfg.epochs, progress=progress, desc=desc,
                             select=getattr(cfg, "select", "best"))
        step = 0
        for epoch in range(cfg.epochs):
            model.train()
            losses, start = [], time.perf_counter()
            for batch in loader:
                batch = batch.to(device)
                value = _loss(task, model, model(batch), batch.y, loss, alpha, focal_gamma)
                value.backward()
                clip_and_step(model, optimizer, scheduler, cfg.grad_clip)
                losses.append(float(value.detach()))
                step += 1
                if step >= total:
                    break
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start
            scores = predict_graphs(model, val_graphs, task, device)
            value = task_metrics(task, val_y, scores).get(metric)
            if stopping.update(model, epoch, float(np.mean(losses)), value, seconds) or step >= total:
                break
        details = stopping.finish(model, cfg.batch_size)
    return model, {**details, "peak_memory_mb": memory.peak_mb}
