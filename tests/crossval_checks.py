"""A cross-validation's reported metrics recomputed from the scores it wrote: results.json against
predictions.csv, with scikit-learn."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score


def sklearn_binary_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict:
    """AUROC, average precision and accuracy at 0.5, by scikit-learn (None where one class is missing)."""
    two_classes = len(np.unique(y_true)) == 2
    return {"auroc": roc_auc_score(y_true, y_score) if two_classes else None,
            "average_precision": average_precision_score(y_true, y_score) if two_classes else None,
            "accuracy": accuracy_score(y_true, y_score >= 0.5)}


def check_binary_metrics_against_predictions(out: Path, negative_types: np.ndarray | None = None,
                                             tolerance: float = 1e-9) -> int:
    """Each row of ``out/results.json`` (arm, or arm[mode]): its metrics in fold ``k`` equal scikit-learn's on
    that arm's fold-``k`` rows of ``out/predictions.csv``, and its mean is the mean of those. With
    ``negative_types`` (one per data row, "" for the positives) also ``METRIC@TYPE``, on the positives and the
    negatives of that type. Returns how many (arm, fold) pairs were checked."""
    results = json.loads((Path(out) / "results.json").read_text())
    predictions = pd.read_csv(Path(out) / "predictions.csv")
    checked = 0
    for arm, body in results["arms"].items():
        rows = predictions[predictions.arm == arm]
        assert sorted(rows.fold.unique()) == list(range(len(body["folds"]))), arm
        recomputed = []
        for k, reported in enumerate(body["folds"]):
            fold = rows[rows.fold == k]
            y, s = fold.y_true.to_numpy(float), fold.y_score.to_numpy(float)
            ours = sklearn_binary_metrics(y, s)
            if negative_types is not None:
                types = negative_types[fold.row.to_numpy()]
                for kind in sorted(set(types) - {""}):
                    keep = (types == kind) | (types == "")
                    sub = sklearn_binary_metrics(y[keep], s[keep])
                    ours.update({f"{m}@{kind}": v for m, v in sub.items()})
            for metric, value in ours.items():
                assert reported[metric] == pytest.approx(value, abs=tolerance), (arm, k, metric)
            recomputed.append(ours)
            checked += 1
        for metric in recomputed[0]:
            values = [r[metric] for r in recomputed if r[metric] is not None]
            if values:
                assert body["mean"][metric] == pytest.approx(np.mean(values), abs=tolerance), (arm, metric)
    return checked
