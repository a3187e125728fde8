"""Binary classification of one sequence, or of a pair or more (``[CLS] a [SEP] b [SEP] (c [SEP] ...)``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression

from ..data.dataset import read_binary_labels
from ..losses import binary_loss
from ..metrics import binary_metrics
from .base import Labels, Task, register_task

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # inverse L2 strengths tried on the validation split


def binary_training_loss(output: torch.Tensor, target: torch.Tensor, cfg, mask=None) -> torch.Tensor:
    """BCE or focal loss (``cfg.loss``, Lin et al. 2017) on logits; ``mask`` leaves entries out."""
    name = getattr(cfg, "loss", "bce")
    return binary_loss(name, output.float(), torch.nan_to_num(target.float()),
                       alpha=getattr(cfg, "focal_alpha", None) if name == "focal" else None,
                       gamma=getattr(cfg, "focal_gamma", 2.0), mask=mask)


@register_task
class Classification(Task):
    """One sequence column (or several, joined), labels 0/1 (or true/false); sigmoid output, AUROC."""

    name = "classification"
    streams = True
    primary_metric = "auroc"
    hf_problem_type = "single_label_classification"
    table_metrics = ("accuracy", "auroc", "average_precision")
    binary = True
    stratified = True
    curves = True
    linear_grid = C_GRID

    def read_labels(self, table, columns, data_cfg):
        return table, Labels(read_binary_labels(table, data_cfg.label_column, data_cfg.positive_label))

    def read_block_labels(self, table, columns, data_cfg):
        """A block need not hold ``--positive-label``'s value (the file must)."""
        return table, Labels(read_binary_labels(table, data_cfg.label_column, data_cfg.positive_label, whole=False))

    def loss(self, output, target, cfg):
        return binary_training_loss(output, target, cfg)

    def to_scores(self, output, model):
        return torch.sigmoid(output)

    def linear_model(self, strength, seed):
        return LogisticRegression(C=strength, max_iter=2000, solver="liblinear", random_state=seed)

    def linear_scores(self, model, x) -> np.ndarray:
        return model.predict_proba(x)[:, 1]

    def metrics(self, y_true, y_score, targets=None) -> dict:
        return binary_metrics(y_true, y_score)

    def prediction_rows(self, test, test_idx, fold, arm, scores) -> pd.DataFrame:
        """``row, fold, arm, y_true, y_score`` per test example; ``y_true`` the label as an integer (0/1)."""
        rows = super().prediction_rows(test, test_idx, fold, arm, scores)
        if test.labels is not None and len(rows) and not np.isnan(rows["y_true"].to_numpy(dtype=float)).any():
            rows["y_true"] = rows["y_true"].astype(np.int64)
        return rows


@register_task
class PairClassification(Classification):
    """Two or more sequence columns (e.g. CDR3β and peptide; or CDR3α, CDR3β and peptide) joined as one input,
    one segment per column; the last is what the others are paired with (groups per-group metrics and knn)."""

    name = "pair-classification"
    n_columns = (2, None)
    per_molecule = False

    def columns_problem(self, columns):
        return f"pair-classification needs two --columns (or more), got {len(columns)}: {columns}"

    def columns_fix(self) -> str:
        return "pass --columns A,B (or A,B,C: one segment per column) or use --task classification"
