"""Paired comparisons of arms over the same folds: mean difference, 95% CI, paired tests."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats


def paired_comparison(arm: list, baseline: list) -> dict:
    """Per-fold differences ``arm - baseline`` (folds where either is undefined are dropped),
    their mean and sample std, a t-based 95% confidence interval, the paired t-test and the
    Wilcoxon signed-rank p-values (two-sided)."""
    pairs = [(a, b) for a, b in zip(arm, baseline) if a is not None and b is not None]
    deltas = np.array([a - b for a, b in pairs], dtype=float)
    out = {"deltas": deltas.tolist(), "n_folds": int(len(deltas)),
           "delta_mean": float(deltas.mean()) if len(deltas) else None,
           "delta_std": None, "ci95": None, "p_value": None, "p_value_wilcoxon": None}
    if len(deltas) >= 2:
        sd = float(deltas.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(deltas) - 1) * sd / math.sqrt(len(deltas)))
        out.update(delta_std=sd, ci95=[out["delta_mean"] - half, out["delta_mean"] + half])
        if sd > 0:
            out["p_value"] = float(stats.ttest_rel([a for a, _ in pairs], [b for _, b in pairs]).pvalue)
            if np.any(deltas != 0):
                out["p_value_wilcoxon"] = float(stats.wilcoxon(deltas).pvalue)
    return out


def mean_std(values: list) -> tuple[float | None, float | None]:
    """Mean and sample std over folds, ignoring undefined (``None``) folds."""
    xs = np.array([v for v in values if v is not None], dtype=float)
    if not len(xs):
        return None, None
    return float(xs.mean()), float(xs.std(ddof=1)) if len(xs) > 1 else 0.0
