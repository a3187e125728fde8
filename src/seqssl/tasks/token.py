"""Per-residue classification: one label character per residue (``.`` = unlabelled), from a column or a
label FASTA (:mod:`seqssl.tasks.labels.token`); a token head, cross entropy over labelled residues."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.dataset import IGNORE_INDEX
from ..data.tokenizers.vocab import SPECIAL_TOKENS
from ..errors import InputError
from ..losses import token_cross_entropy
from ..metrics import token_metrics
from .base import Labels, Task, register_task
from .labels.token import align_token_labels, labels_from_column, labels_from_fasta, token_classes


@register_task
class TokenClassification(Task):
    name = "token-classification"
    primary_metric = "per_residue_accuracy"
    table_metrics = ("per_residue_accuracy", "per_residue_balanced_accuracy", "per_residue_macro_f1")
    n_columns = (1, 1)
    per_token = True
    per_molecule = False

    def columns_problem(self, columns):
        return f"token-classification labels the residues of one sequence column, got {columns}"

    def columns_fix(self) -> str:
        return "pass one column in --columns"

    def check_label_source(self, data_cfg) -> None:
        if not data_cfg.label_column and not data_cfg.token_labels:
            raise InputError("no label column", fix="pass --label-column COL (one label character per residue) "
                                                    "or --token-labels LABELS.fasta")

    def read_labels(self, table, columns, data_cfg):
        if data_cfg.token_labels:
            table, labels = labels_from_fasta(table, data_cfg.token_labels)
        else:
            labels = labels_from_column(table, data_cfg.label_column)
        return table, Labels(labels, {"classes": token_classes(labels, data_cfg.token_classes)})

    def attach(self, encoded, labels, rows) -> None:
        classes = labels.meta["classes"]
        encoded.token_labels = align_token_labels(labels.values, [r[0] for r in rows], encoded.input_ids, classes)
        encoded.meta = {**encoded.meta, "classes": classes}

    def unlabelled(self, encoded) -> None:
        """Every residue (not the special tokens) is to be predicted: placeholder class 0 there."""
        encoded.token_labels = [np.where(ids >= len(SPECIAL_TOKENS), 0, IGNORE_INDEX) for ids in encoded.input_ids]

    def fold_labels(self, encoded) -> np.ndarray:
        """No per-example label: zeros (never stratified)."""
        return np.zeros(len(encoded), dtype=np.float32)

    def loss(self, output, target, cfg):
        return token_cross_entropy(output, target, IGNORE_INDEX)

    def to_scores(self, output, model):
        return output.softmax(-1)

    def metrics(self, y_true, y_score, targets=None) -> dict:
        return token_metrics(y_true, y_score)

    def metrics_of_rows(self, rows: pd.DataFrame) -> dict:
        """From the class characters of ``y_true`` and ``y_pred``: the metrics are those of the predicted class
        (its one-hot stands for the probabilities, whose argmax it is)."""
        classes = sorted(set(rows["y_true"].astype(str)) | set(rows["y_pred"].astype(str)))
        index = {c: i for i, c in enumerate(classes)}
        predicted = rows["y_pred"].astype(str).map(index).to_numpy()
        return self.metrics(rows["y_true"].astype(str).map(index).to_numpy(), np.eye(len(classes))[predicted])

    def prediction_rows(self, test, test_idx, fold, arm, scores) -> pd.DataFrame:
        """One row per labelled residue: ``row, position`` (1-based residue), ``fold, arm, y_true, y_pred``
        (class characters) and ``y_score`` (the predicted class's probability)."""
        classes = np.array(test.meta["classes"])
        example, position = test.target_positions()
        predicted = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
        return pd.DataFrame({"row": test_idx[example], "position": position, "fold": fold, "arm": arm,
                             "y_true": classes[test.targets()], "y_pred": classes[predicted],
                             "y_score": scores.max(axis=1) if len(scores) else np.zeros(0)})

    def report_lines(self, results) -> list[str]:
        return [f"Classes {', '.join(f'`{c}`' for c in results.classes or [])}. Metrics count labelled "
                "residues only (`.` and residues cut by truncation are left out), pooled over the test proteins; "
                "`predictions.csv` has one row per labelled residue (`position` is 1-based).", ""]
