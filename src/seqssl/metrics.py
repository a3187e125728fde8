"""Metric functions (scikit-learn / SciPy underneath); undefined metrics are ``None`` with a reason.

Pure functions of labels and scores: which of them a task reports, and which is its primary metric,
is said by its :mod:`seqssl.tasks` specification."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_squared_error,
    roc_auc_score,
)


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict:
    """Accuracy at ``threshold`` on probabilities, AUROC and average precision (scikit-learn's definitions;
    computed by :func:`auroc` and :func:`average_precision`, which the tests hold equal to
    ``roc_auc_score`` / ``average_precision_score``)."""
    y_true, y_score = np.asarray(y_true, dtype=float), np.asarray(y_score, dtype=float)
    out: dict[str, Any] = {"n": int(len(y_true)), "accuracy": float(np.mean((y_score >= threshold) == y_true))
                           if len(y_true) else None}
    if len(np.unique(y_true)) < 2:
        out.update(auroc=None, average_precision=None,
                   undefined_reason=f"only one class ({'none' if not len(y_true) else int(y_true[0])}) present")
        return out
    if not np.isfinite(y_score).all():  # a diverged model: scikit-learn refuses such scores, so do the metrics
        out.update(auroc=None, average_precision=None, undefined_reason="non-finite scores")
        return out
    out["auroc"] = auroc(y_true, y_score)
    out["average_precision"] = average_precision(y_true, y_score)
    return out


def auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve as the Mann–Whitney statistic, ties counted half (Hanley & McNeil 1982):
    (rank sum of the positives − n₁(n₁+1)/2) / (n₁ n₀), average ranks for tied scores. Written here rather
    than calling ``sklearn.metrics.roc_auc_score`` because the paired bootstrap of a fixed split calls it
    ~10⁵ times per run, per group, and scikit-learn's input checks cost ~0.4 ms a call (~20× the sum)."""
    positive = y_true == 1
    n1 = float(positive.sum())
    n0 = float(len(y_true)) - n1
    ranks = stats.rankdata(y_score)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def average_precision(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Average precision as scikit-learn defines it, AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct score
    thresholds from the highest down (tied scores form one threshold); written here for the reason given
    under :func:`auroc`."""
    order = np.argsort(-y_score, kind="mergesort")
    scores, labels = y_score[order], y_true[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(labels)[last_of_threshold]
    precision = true_positives / (last_of_threshold + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def regression_metrics(y_true, y_pred) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    out: dict[str, Any] = {"n": int(len(y_true)),
                           "mse": float(mean_squared_error(y_true, y_pred)) if len(y_true) else None}
    if len(y_true) < 3 or np.std(y_true) == 0 or np.std(y_pred) == 0:
        out.update(spearman=None, pearson=None, undefined_reason="constant targets or predictions")
        return out
    out["spearman"] = float(stats.spearmanr(y_true, y_pred).statistic)
    out["pearson"] = float(stats.pearsonr(y_true, y_pred).statistic)
    return out


def token_metrics(y_true, y_prob) -> dict:
    """Per-residue accuracy, balanced accuracy and macro-F1 over labelled residues only.

    ``y_true``: class index per labelled residue; ``y_prob``: ``(residues, classes)`` probabilities
    (the prediction is the argmax). Macro-F1 averages over the classes present in truth or prediction."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_prob = np.asarray(y_prob, dtype=float)
    out: dict[str, Any] = {"n": int(len(y_true))}
    if not len(y_true):
        out.update(per_residue_accuracy=None, per_residue_balanced_accuracy=None, per_residue_macro_f1=None,
                   undefined_reason="no labelled residues")
        return out
    y_pred = y_prob.argmax(axis=1)
    with warnings.catch_warnings():  # balanced accuracy warns when a predicted class is absent from truth
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(y_true, y_pred)
    out.update(per_residue_accuracy=float(accuracy_score(y_true, y_pred)),
               per_residue_balanced_accuracy=float(balanced),
               per_residue_macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)))
    return out


def multilabel_metrics(y_true, y_score, targets: list[str] | None = None) -> dict:
    """Per target, over its measured entries (NaN in ``y_true`` = unmeasured): average precision and AUROC
    (``average_precision@T``, ``auroc@T``). ``map``: mean average precision = the mean over targets of
    their average precision (targets with one class in the fold are left out, and named);
    ``macro_auroc`` likewise; ``accuracy``: at 0.5 over all measured entries."""
    y_true, y_score = np.asarray(y_true, dtype=float), np.asarray(y_score, dtype=float)
    names = targets or [str(j) for j in range(y_true.shape[1])]
    measured = ~np.isnan(y_true)
    out: dict[str, Any] = {
        "n": int(measured.sum()),
        "accuracy": float(((y_score >= 0.5) == (y_true == 1))[measured].mean()) if measured.any() else None}
    aps, aucs, undefined = [], [], []
    for j, name in enumerate(names):
        sub = binary_metrics(y_true[measured[:, j], j], y_score[measured[:, j], j])
        out[f"average_precision@{name}"], out[f"auroc@{name}"] = sub["average_precision"], sub["auroc"]
        if sub["average_precision"] is None:
            undefined.append(name)
        else:
            aps.append(sub["average_precision"])
            aucs.append(sub["auroc"])
    out["map"] = float(np.mean(aps)) if aps else None
    out["macro_auroc"] = float(np.mean(aucs)) if aucs else None
    if undefined:
        out["undefined_reason"] = f"targets with one class left out of the means: {', '.join(undefined)}"
    return out


def multiclass_metrics(y_true, y_prob) -> dict:
    """Accuracy, macro-F1 (over the classes present in truth or prediction) and macro one-vs-rest AUROC
    (the mean over classes that have both members and non-members in ``y_true``) of class probabilities
    ``(examples, classes)``; ``y_true`` holds class indices."""
    y_true = np.asarray(y_true).astype(np.int64)
    y_prob = np.asarray(y_prob, dtype=float).reshape(len(y_true), -1)
    out: dict = {"n": int(len(y_true))}
    if not len(y_true):
        out.update(accuracy=None, macro_f1=None, macro_auroc=None, undefined_reason="no examples")
        return out
    if y_prob.shape[1] <= y_true.max():  # a class the model never saw: probability 0
        y_prob = np.pad(y_prob, ((0, 0), (0, int(y_true.max()) + 1 - y_prob.shape[1])))
    y_pred = y_prob.argmax(axis=1)
    aucs = [roc_auc_score(y_true == c, y_prob[:, c]) for c in range(y_prob.shape[1])
            if 0 < (y_true == c).sum() < len(y_true)]
    out.update(accuracy=float(accuracy_score(y_true, y_pred)),
               macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
               macro_auroc=float(np.mean(aucs)) if aucs else None)
    if not aucs:
        out["undefined_reason"] = "only one class present"
    return out
