"""Train a molecular GNN (:class:`~seqssl.models.gnn.GraphPredictor`) on labelled graphs with early
stopping on the validation primary metric, like :func:`~seqssl.transfer.finetune.fine_tune`."""
from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from ..data.collate import epoch_order
from ..errors import InputError
from ..losses import BINARY_LOSSES
from ..models.gnn import GraphPredictor
from ..tasks import Task, as_task
from ..train.memory import PeakMemory
from .training import train_with_early_stopping


def _labelled(graphs, y: np.ndarray) -> list:
    """Shallow copies of the graphs (tensors shared) carrying ``y`` as a ``(1, n_targets)`` float row."""
    out = []
    for g, label in zip(graphs, y):
        g = copy.copy(g)
        g.y = torch.as_tensor(np.asarray(label, dtype=np.float32)).reshape(1, -1)
        out.append(g)
    return out


def _check(task: Task, loss: str, graphs, y: np.ndarray | None, name: str) -> None:
    """The task, the loss and the molecules (``y``: their labels, checked to be as many; None for labels read by
    rows, as many as the rows by construction)."""
    if not task.per_molecule:
        raise InputError(f"task '{task.name}' is not supported for graphs",
                         fix="use a task with one label (or one row of targets) per molecule")
    if loss not in BINARY_LOSSES:
        raise InputError(f"unknown loss '{loss}'", fix=f"use {' or '.join(BINARY_LOSSES)}")
    if loss == "focal" and task.standardise_targets:
        raise InputError("focal loss needs a classification or multilabel task", fix="use --loss bce")
    if not len(graphs):
        raise InputError(f"no {name} molecules", fix="check the data and --invalid-smiles")
    if y is not None and len(graphs) != len(y):
        raise ValueError(f"{name}: {len(graphs)} graphs but {len(y)} labels")


def _targets(y: torch.Tensor, model: GraphPredictor, task: Task) -> torch.Tensor:
    """A graph batch's ``(B, n_targets)`` labels as the task's loss expects them (one output: squeezed;
    regression: standardised)."""
    target = y if model.n_outputs > 1 else y.squeeze(-1)
    return (target - model.target_mean) / model.target_std if task.standardise_targets else target


@torch.no_grad()
def predict_graphs(model: GraphPredictor, graphs, task: str | Task, device: torch.device, batch_size: int = 512
                   ) -> np.ndarray:
    """Scores in input order: probabilities (``(n,)``, or ``(n, n_targets)`` for multilabel) or, for
    regression, values on the original scale."""
    task = as_task(task)
    model.eval()
    parts = []
    for batch in DataLoader(list(graphs), batch_size=batch_size, shuffle=False):
        out = model(batch.to(device)).float()
        parts.append(task.to_scores(out, model).cpu().numpy().astype(np.float64))
    if not parts:
        return np.zeros((0,) if model.n_outputs == 1 else (0, model.n_outputs))
    return np.concatenate(parts)


def label_moments(labels_at: Callable[[np.ndarray], np.ndarray], rows: int, chunk_rows: int = 1 << 20
                  ) -> tuple[float, float]:
    """The mean and (population) standard deviation of the labels of rows ``0 .. rows - 1``, read ``chunk_rows`` at a
    time and merged by the pairwise update of Chan, Golub and LeVeque (1979; eq. 2.1), so that a streamed training
    set's labels are never held whole. Written by hand: NumPy's ``mean``/``std`` need the whole array."""
    count, mean, m2 = 0, 0.0, 0.0
    for start in range(0, rows, chunk_rows):
        values = np.asarray(labels_at(np.arange(start, min(start + chunk_rows, rows))), dtype=np.float64).ravel()
        n, chunk_mean = len(values), float(values.mean())
        delta, total = chunk_mean - mean, count + n
        m2 += float(((values - chunk_mean) ** 2).sum()) + delta * delta * count * n / total
        mean, count = mean + delta * n / total, total
    return mean, (m2 / count) ** 0.5 if count else 0.0


def new_graph_model(kind: str, atom_dim: int, bond_dim: int, labels_at: Callable[[np.ndarray], np.ndarray],
                    rows: int, task: Task, cfg, model_kwargs: dict | None = None) -> GraphPredictor:
    """A :class:`GraphPredictor` for ``task`` (one output, or one per target column of the labels: read from the
    first row) with the head of the finetune section ``cfg``; regression: standardised on the ``rows`` training
    labels (:func:`label_moments`). ``labels_at(positions)``: the training labels of those rows."""
    kwargs = {"head_hidden": cfg.head_hidden, "head_dropout": cfg.head_dropout, **(model_kwargs or {})}
    first = np.asarray(labels_at(np.arange(1)))
    model = GraphPredictor(kind, atom_dim, bond_dim, n_outputs=first.shape[1] if first.ndim == 2 else 1, **kwargs)
    if task.standardise_targets:
        mean, std = label_moments(labels_at, rows)
        model.target_mean.fill_(mean)
        model.target_std.fill_(std + 1e-8)
    return model


def fit_graph_model(kind: str, train_graphs, train_y, val_graphs, val_y, cfg, task: str | Task, *,
                    device: torch.device, seed: int, loss: str = "bce", focal_alpha: float | None = None,
                    focal_gamma: float = 2.0, progress: bool = False, desc: str = "gnn",
                    model_kwargs: dict | None = None):
    """Train a ``kind`` (gcn | gat | gatv2) :class:`GraphPredictor` with AdamW until the validation
    primary metric stops improving for ``cfg.patience`` epochs (capped at ``cfg.epochs`` or
    ``cfg.max_steps``); return the best model and its details.

    ``cfg``: the ``finetune`` config section (lr, batch_size, epochs, patience, min_delta, weight_decay,
    grad_clip, scheduler, head_hidden, head_dropout). ``task``: one predicted per molecule
    (classification, regression standardised on the training labels, or multilabel: a ``(n, n_targets)``
    0/1 matrix, NaN = missing, masked out of the loss). ``loss``: ``bce`` or ``focal``
    (:func:`~seqssl.losses.focal_loss` with ``focal_alpha``, ``focal_gamma``). ``model_kwargs``: passed to
    :class:`GraphPredictor` (hidden, layers, heads, dropout, pooling).

    Details: ``history`` (per epoch: epoch, train_loss, val_<metric>, seconds), ``best_val``,
    ``epochs_run``, ``stopped_early``, ``best_epoch``, ``batch_size``, ``epoch_seconds`` (mean wall
    time of a training epoch, validation excluded) and ``peak_memory_mb`` (:class:`PeakMemory`)."""
    task = as_task(task)
    train_y, val_y = np.asarray(train_y, dtype=np.float64), np.asarray(val_y, dtype=np.float64)
    _check(task, loss, train_graphs, train_y, "training")
    _check(task, loss, val_graphs, val_y, "validation")
    device = torch.device(device)
    loss_cfg = SimpleNamespace(loss=loss, focal_alpha=focal_alpha if loss == "focal" else None, focal_gamma=focal_gamma)
    with PeakMemory(device) as memory:
        torch.manual_seed(seed)
        model = new_graph_model(kind, train_graphs[0].x.shape[1], train_graphs[0].edge_attr.shape[1],
                                train_y.__getitem__, len(train_y), task, cfg, model_kwargs).to(device)
        generator = torch.Generator()
        generator.manual_seed(seed)
        loader = DataLoader(_labelled(train_graphs, train_y), batch_size=cfg.batch_size, shuffle=True,
                            generator=generator)

        def step_loss(batch) -> torch.Tensor:
            batch = batch.to(device)
            return task.loss(model(batch), _targets(batch.y, model, task), loss_cfg)

        def validate() -> float | None:
            scores = predict_graphs(model, val_graphs, task, device)
            return task.metrics(val_y, scores).get(task.primary_metric)

        details = train_with_early_stopping(
            model, batches=lambda: loader, per_epoch=len(loader), step_loss=step_loss, validate=validate, cfg=cfg,
            metric=task.primary_metric, device=device, progress=progress, desc=desc)
    return model, {**details, "peak_memory_mb": memory.peak_mb}


class MoleculeGraphs:
    """Graphs held in memory, read as a graph source (:meth:`graph_batch`), like a streamed labelled cache."""

    def __init__(self, graphs: list):
        self.graphs = graphs

    def __len__(self) -> int:
        return len(self.graphs)

    def graph_batch(self, positions):
        from torch_geometric.data import Batch
        return Batch.from_data_list([self.graphs[i] for i in positions])


def source_batches(source, labels_at: Callable[[np.ndarray], np.ndarray], batch_size: int,
                   rng: np.random.Generator):
    """One epoch of a graph source in random order, each batch carrying its ``(B, n_targets)`` labels as ``y``
    (``labels_at(positions)``: read for the batch's rows only)."""
    order = epoch_order(len(source), rng)  # int32: the same order as rng.permutation, half the memory
    for start in range(0, len(order), batch_size):
        positions = order[start:start + batch_size]
        batch = source.graph_batch(positions)
        batch.y = torch.from_numpy(np.asarray(labels_at(positions), dtype=np.float32)).reshape(len(positions), -1)
        yield batch


@torch.no_grad()
def predict_source(model: GraphPredictor, source, task: str | Task, device: torch.device, batch_size: int = 512
                   ) -> np.ndarray:
    """:func:`predict_graphs` of a graph source (in memory or memory-mapped), batch by batch in order."""
    task = as_task(task)
    model.eval()
    parts = [task.to_scores(model(source.graph_batch(np.arange(i, min(i + batch_size, len(source)))).to(device))
                            .float(), model).cpu().numpy().astype(np.float64)
             for i in range(0, len(source), batch_size)]
    if not parts:
        return np.zeros((0,) if model.n_outputs == 1 else (0, model.n_outputs))
    return np.concatenate(parts)


def fit_graph_source(kind: str, train, train_labels_at: Callable[[np.ndarray], np.ndarray], val, val_y: np.ndarray,
                     cfg, task: Task, *,
                     device: torch.device, seed: int, atom_dim: int, bond_dim: int, progress: bool = False,
                     desc: str = "gnn", model_kwargs: dict | None = None, start: GraphPredictor | None = None):
    """:func:`fit_graph_model` on graph sources (objects with ``len`` and ``graph_batch(positions)``: a streamed
    labelled cache, or :class:`MoleculeGraphs`), so that training reads one batch of molecules at a time; ``cfg``
    the finetune section (its loss settings included). Batches are drawn by ``numpy``'s generator seeded with
    ``seed``, not by torch_geometric's loader. ``train_labels_at(positions)``: the training rows' labels, read
    batch by batch (a streamed training set's are never gathered whole); ``val_y``: the validation rows' (a bounded
    sample). ``start``: a model to continue training (``finetune --resume``)."""
    val_y = np.asarray(val_y, dtype=np.float64)
    _check(task, cfg.loss, range(len(train)), None, "training")
    _check(task, cfg.loss, range(len(val)), val_y, "validation")
    torch.manual_seed(seed)
    model = (start if start is not None else
             new_graph_model(kind, atom_dim, bond_dim, train_labels_at, len(train), task, cfg, model_kwargs)).to(device)
    rng = np.random.default_rng(seed)
    loss_cfg = SimpleNamespace(loss=cfg.loss, focal_alpha=cfg.focal_alpha if cfg.loss == "focal" else None,
                               focal_gamma=cfg.focal_gamma)

    def step_loss(batch) -> torch.Tensor:
        batch = batch.to(device)
        return task.loss(model(batch), _targets(batch.y, model, task), loss_cfg)

    def validate() -> float | None:
        return task.metrics(val_y, predict_source(model, val, task, device)).get(task.primary_metric)

    with PeakMemory(device) as memory:
        details = train_with_early_stopping(
            model, batches=lambda: source_batches(train, train_labels_at, cfg.batch_size, rng),
            per_epoch=-(-len(train) // cfg.batch_size), step_loss=step_loss, validate=validate, cfg=cfg,
            metric=task.primary_metric, device=device, progress=progress, desc=desc)
    return model, {**details, "peak_memory_mb": memory.peak_mb}
