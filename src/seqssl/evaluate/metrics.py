"""Task metrics (scikit-learn / SciPy underneath); undefined metrics are ``None`` with a reason."""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, average_precision_score, mean_squared_error, roc_auc_score

PRIMARY_METRIC = {"classification": "auroc", "pair-classification": "auroc", "regression": "spearman"}


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict:
    """Accuracy at ``threshold`` on probabilities, AUROC and average precision."""
    y_true, y_score = np.asarray(y_true, dtype=float), np.asarray(y_score, dtype=float)
    out = {"n": int(len(y_true)), "accuracy": float(accuracy_score(y_true, y_score >= threshold))
           if len(y_true) else None}
    if len(np.unique(y_true)) < 2:
        out.update(auroc=None, average_precision=None,
                   undefined_reason=f"only one class ({'none' if not len(y_true) else int(y_true[0])}) present")
        return out
    out["auroc"] = float(roc_auc_score(y_true, y_score))
    out["average_precision"] = float(average_precision_score(y_true, y_score))
    return out


def regression_metrics(y_true, y_pred) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    out = {"n": int(len(y_true)), "mse": float(mean_squared_error(y_true, y_pred)) if len(y_true) else None}
    if len(y_true) < 3 or np.std(y_true) == 0 or np.std(y_pred) == 0:
        out.update(spearman=None, pearson=None, undefined_reason="constant targets or predictions")
        return out
    out["spearman"] = float(stats.spearmanr(y_true, y_pred).statistic)
    out["pearson"] = float(stats.pearsonr(y_true, y_pred).statistic)
    return out


def task_metrics(task: str, y_true, y_score) -> dict:
    if task in ("classification", "pair-classification"):
        return binary_metrics(y_true, y_score)
    return regression_metrics(y_true, y_score)
