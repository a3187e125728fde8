"""The :class:`Task` base class and its registry (the shape of :mod:`seqssl.objectives.registry`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import InputError
from ..options import DeclaresOptions
from ..registry import Registry

TASKS: Registry[Task] = Registry("task")  # filled by the task modules, see seqssl/tasks/__init__.py


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    return TASKS.register(cls)


def get_task(name: str) -> Task:
    """The registered task called ``name``; an unknown name is the user's input error."""
    return TASKS.lookup(name)


def as_task(task: str | Task) -> Task:
    """A task given by name or already resolved."""
    return task if isinstance(task, Task) else get_task(task)


def task_metrics(task: str | Task, y_true, y_score, targets: list[str] | None = None) -> dict:
    """``get_task(task).metrics(...)``: the task's metrics of one set of predictions."""
    return as_task(task).metrics(y_true, y_score, targets)


@dataclass
class Labels:
    """Labels read from a table, before tokenisation: ``values`` (one entry per row; a matrix for
    multilabel, label strings for per-residue tasks) and what the task records of them in ``meta``."""

    values: Any  # an array (a matrix for multilabel), or TokenLabels for per-residue tasks
    meta: dict = field(default_factory=dict)

    def subset(self, keep: np.ndarray) -> Labels:
        return Labels(self.values[keep], self.meta)


class Task(DeclaresOptions):
    """Defaults shared by the per-sequence tasks; subclasses override what differs."""

    kind = "task"  # its settings: self.options(config) (seqssl.options)
    name: str = ""
    primary_metric: str = ""
    table_metrics: tuple[str, ...] = ()
    binary = False  # one 0/1 label per example
    stratified = False  # folds and validation splits keep the class balance of :meth:`fold_labels`
    n_columns: tuple[int, int | None] = (1, None)  # how many sequence columns the task reads (min, max; None: any)
    per_token = False  # one label per residue (token head, one prediction row per residue)
    per_molecule = True  # graph and fingerprint arms can predict it (one value per molecule)
    standardise_targets = False  # train on (y - mean) / std, predict on the original scale
    curves = False  # the report draws ROC and precision-recall curves
    continuous = False  # colour the embedding map by a continuous value
    confusion_matrix = False  # the report draws a confusion matrix per arm
    hf_problem_type: str | None = None  # transformers' problem_type for a sequence-classification export (None: none)
    streams = False  # finetune --stream reads its labels block by block (read_block_labels)

    # --- reading labels -------------------------------------------------------------------------
    def check_columns(self, columns: list[str]) -> None:
        low, high = self.n_columns
        if len(columns) < low or (high is not None and len(columns) > high):
            raise InputError(self.columns_problem(columns), fix=self.columns_fix())

    def columns_problem(self, columns: list[str]) -> str:
        return f"--columns takes one or more column names, got {len(columns)}: {columns}"

    def columns_fix(self) -> str:
        return "pass --columns COL, or --columns A,B,C for several (one segment per column)"

    def check_label_source(self, data_cfg) -> None:
        if not data_cfg.label_column:
            raise InputError("no label column", fix="pass --label-column COL")

    def read_labels(self, table, columns: list[str], data_cfg):
        """``(table, Labels)``: the labels of every row, validated (file, line, column on error)."""
        raise NotImplementedError

    def read_block_labels(self, table, columns: list[str], data_cfg):
        """:meth:`read_labels` of one block of a streamed file (``finetune --stream``), whose rules may only hold
        for the whole file."""
        return self.read_labels(table, columns, data_cfg)

    def stream_targets(self, data_cfg, first_block) -> list[str] | None:
        """The names of a streamed file's label columns, fixed before its blocks are read (``first_block()``: its
        first block as a table); None: one label per row."""
        return None

    def attach(self, encoded, labels: Labels, rows: list[tuple]) -> None:
        """Put the labels on the tokenised rows (``encoded.labels`` and ``encoded.meta``)."""
        encoded.labels = labels.values
        encoded.meta = {**encoded.meta, **labels.meta}

    def unlabelled(self, encoded) -> None:
        """Give rows without labels (new data to predict) placeholder labels of the right shape, so the
        scoring and :meth:`prediction_rows` paths run unchanged (their ``y_true`` means nothing)."""
        encoded.labels = np.zeros(len(encoded), dtype=np.float32)

    def fold_labels(self, encoded) -> np.ndarray:
        """One label per example, for stratified splitting."""
        return encoded.labels

    def colour_labels(self, encoded) -> np.ndarray:
        """What colours an example in the embedding map."""
        return encoded.labels

    # --- the model ------------------------------------------------------------------------------
    def score_shape(self, data) -> tuple:
        """The shape of one example's scores (``()``: one number; multilabel: one per target)."""
        first = data.labels_at([0]) if len(data) else data.labels  # one row's: a streamed subset reads no more
        return () if first is None else tuple(first.shape[1:])

    def n_outputs(self, data) -> int | None:
        """Outputs per example (``None``: one, squeezed)."""
        return None

    def loss(self, output: torch.Tensor, target: torch.Tensor, cfg) -> torch.Tensor:
        raise NotImplementedError

    def to_scores(self, output: torch.Tensor, model) -> torch.Tensor:
        """Model outputs → what metrics and predictions use (probabilities or values)."""
        raise NotImplementedError

    # --- linear models (k-mer, fingerprint and probe arms) ---------------------------------------
    linear_grid: tuple[float, ...] = ()

    def linear_model(self, strength: float, seed: int):
        """An unfitted regularised linear model of strength ``strength`` (scikit-learn interface)."""
        raise InputError(f"no linear model for task '{self.name}'")

    def linear_scores(self, model, x) -> np.ndarray:
        raise NotImplementedError

    # --- evaluation -----------------------------------------------------------------------------
    def metrics(self, y_true, y_score, targets: list[str] | None = None) -> dict:
        raise NotImplementedError

    def metrics_of_rows(self, rows: pd.DataFrame) -> dict:
        """The metrics recomputed from prediction rows (:meth:`prediction_rows`'s; ``_slot`` numbers the examples
        when a resample repeats one): what a fixed split's bootstrap recomputes on each resample."""
        return self.metrics(rows["y_true"].to_numpy(dtype=float), rows["y_score"].to_numpy(dtype=float))

    def prediction_rows(self, test, test_idx: np.ndarray, fold: int, arm: str, scores: np.ndarray) -> pd.DataFrame:
        """``row, fold, arm, y_true, y_score`` per test example."""
        return pd.DataFrame({"row": test_idx, "fold": fold, "arm": arm, "y_true": test.labels, "y_score": scores})

    def report_lines(self, results) -> list[str]:
        """Markdown the report adds under its task line (how the metrics are counted); ``results``: the run's
        :class:`~seqssl.evaluate.schema.Results`."""
        return []

    def subset_note(self, results) -> list[str]:
        """Markdown under the results table saying what its subset rows are (``results``: as
        :meth:`report_lines`)."""
        return ["Subset `all`: the whole test fold; any other subset: the positives plus the negatives of that "
                "type only.", ""]
