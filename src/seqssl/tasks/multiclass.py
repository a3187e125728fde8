"""Multiclass classification: labels of any number of classes (strings or integers), stratified folds, a
softmax head with cross entropy, accuracy (primary), macro-F1 and macro one-vs-rest AUROC, a multinomial
logistic regression for the linear arms (k-mer, probe), and a confusion matrix in the report."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from ..data.dataset import _label_text
from ..errors import InputError
from ..metrics import multiclass_metrics
from .base import Labels, Task, register_task
from .binary import C_GRID


def class_names(values: pd.Series) -> list[str]:
    """The distinct labels, in numeric order when every one is an integer, else in text order."""
    distinct = sorted(set(values))
    if all(v.lstrip("-").isdigit() for v in distinct):
        return sorted(distinct, key=int)
    return distinct


@register_task
class Multiclass(Task):
    name = "multiclass"
    primary_metric = "accuracy"
    hf_problem_type = "single_label_classification"
    table_metrics = ("accuracy", "macro_f1", "macro_auroc")
    stratified = True
    per_molecule = False  # the graph arms predict one value or one row of binary targets per molecule
    linear_grid = C_GRID
    confusion_matrix = True

    def read_labels(self, table, columns, data_cfg):
        text = _label_text(table, data_cfg.label_column)
        classes = class_names(text)
        if len(classes) < 2:
            raise InputError(f"only one class ('{classes[0]}') in the labels", path=table.path,
                             column=data_cfg.label_column, fix="multiclass needs at least two classes")
        index = {c: i for i, c in enumerate(classes)}
        return table, Labels(text.map(index).to_numpy(dtype=np.float32), {"classes": classes})

    def score_shape(self, data) -> tuple:
        return (len(data.meta["classes"]),)

    def n_outputs(self, data) -> int:
        return len(data.meta["classes"])

    def loss(self, output, target, cfg):
        return F.cross_entropy(output.float(), target.long())

    def to_scores(self, output, model):
        return output.softmax(-1)

    def linear_model(self, strength, seed):
        return LogisticRegression(C=strength, max_iter=2000, random_state=seed)  # lbfgs: multinomial

    def linear_scores(self, model, x) -> np.ndarray:
        """Class probabilities, one column per class index up to the largest seen in training (classes
        unseen in training get 0; stratified folds keep every class in training)."""
        probs = model.predict_proba(x)
        out = np.zeros((probs.shape[0], int(model.classes_.max()) + 1))
        out[:, model.classes_.astype(int)] = probs
        return out

    def metrics(self, y_true, y_score, targets=None) -> dict:
        return multiclass_metrics(y_true, y_score)

    def metrics_of_rows(self, rows: pd.DataFrame) -> dict:
        """From the ``p_CLASS`` columns (the class order) and the class names in ``y_true``."""
        columns = [c for c in rows.columns if c.startswith("p_")]
        index = {c[2:]: i for i, c in enumerate(columns)}
        return self.metrics(rows["y_true"].astype(str).map(index).to_numpy(), rows[columns].to_numpy(dtype=float))

    def prediction_rows(self, test, test_idx, fold, arm, scores) -> pd.DataFrame:
        """One row per test example: ``y_true`` and ``y_pred`` as class names, ``y_score`` the predicted
        class's probability, and ``p_CLASS`` per class."""
        classes = np.array(test.meta["classes"])
        predicted = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
        frame = pd.DataFrame({"row": test_idx, "fold": fold, "arm": arm, "y_true": classes[test.labels.astype(int)],
                              "y_pred": classes[predicted], "y_score": scores.max(axis=1) if len(scores) else []})
        for j, name in enumerate(classes):
            frame[f"p_{name}"] = scores[:, j] if len(scores) else []
        return frame
