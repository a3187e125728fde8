"""Multilabel: several binary targets per input, some unmeasured (NaN), read wide or long
(:mod:`seqssl.tasks.labels.multilabel`); mean average precision over targets as the primary metric."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.formats.table import require_columns
from ..metrics import multilabel_metrics
from ..models.linear import PerTargetLogistic
from .base import Labels, Task, register_task
from .binary import C_GRID, binary_training_loss
from .labels.multilabel import multilabel_targets, stratification_labels


@register_task
class Multilabel(Task):
    name = "multilabel"
    streams = True
    primary_metric = "map"
    hf_problem_type = "multi_label_classification"
    # row "all": the means over targets; a target's row: its own AP and AUROC
    table_metrics = ("map", "macro_auroc", "average_precision", "auroc", "accuracy")
    stratified = True
    linear_grid = C_GRID

    def read_labels(self, table, columns, data_cfg):
        names = [c.strip() for c in data_cfg.label_column.split(",")]
        table, values, targets = multilabel_targets(table, columns, names, data_cfg.target_column)
        return table, Labels(values, {"targets": targets})

    def stream_targets(self, data_cfg, first_block):
        """Wide: the label columns; long: the target values of the first block (a later unseen one is an error)."""
        if not data_cfg.target_column:
            return [c.strip() for c in data_cfg.label_column.split(",")]
        block = first_block()
        require_columns(block, [data_cfg.target_column])
        return sorted(set(block.frame[data_cfg.target_column].astype(str).str.strip()))

    def fold_labels(self, encoded) -> np.ndarray:
        """Whether any measured target is positive."""
        return stratification_labels(encoded.labels)

    def colour_labels(self, encoded) -> np.ndarray:
        return self.fold_labels(encoded)

    def n_outputs(self, data) -> int:
        return len(data.meta["targets"])

    def unlabelled(self, encoded) -> None:
        encoded.labels = np.zeros((len(encoded), len(encoded.meta["targets"])), dtype=np.float32)

    def loss(self, output, target, cfg):
        return binary_training_loss(output, target, cfg, mask=~torch.isnan(target))

    def to_scores(self, output, model):
        return torch.sigmoid(output)

    def linear_model(self, strength, seed):
        return PerTargetLogistic(strength, seed)

    def linear_scores(self, model, x) -> np.ndarray:
        return model.predict_proba(x)

    def metrics(self, y_true, y_score, targets=None) -> dict:
        return multilabel_metrics(y_true, y_score, targets)

    def metrics_of_rows(self, rows: pd.DataFrame) -> dict:
        """The long rows pivoted back to (example × target) matrices, unmeasured entries NaN."""
        slot = rows["_slot"] if "_slot" in rows.columns else rows["row"]
        keyed = rows.assign(_example=slot.to_numpy())
        truth = keyed.pivot(index="_example", columns="target", values="y_true")
        scores = keyed.pivot(index="_example", columns="target", values="y_score")[truth.columns]
        return self.metrics(truth.to_numpy(dtype=float), scores.to_numpy(dtype=float), [str(t) for t in truth.columns])

    def prediction_rows(self, test, test_idx, fold, arm, scores) -> pd.DataFrame:
        """One row per measured (input, target), with a ``target`` column."""
        example, target = np.nonzero(~np.isnan(test.labels))
        names = np.array(test.meta["targets"])
        return pd.DataFrame({"row": test_idx[example], "target": names[target], "fold": fold, "arm": arm,
                             "y_true": test.labels[example, target], "y_score": scores[example, target]})

    def subset_note(self, results) -> list[str]:
        return ["`map` (mean average precision) = the mean over targets of each target's average precision over "
                "its measured entries; `macro_auroc` likewise; subset rows: each target alone.", ""]
