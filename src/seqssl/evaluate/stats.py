"""Paired comparisons of arms over the same folds (mean difference, 95% CI, naive and corrected paired
t-tests), Holm's correction, and the paired bootstrap over test examples of a single fixed split."""
from __future__ import annotations

import math
from typing import Any

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


CORRECTED_T = "corrected resampled t (Nadeau & Bengio 2003)"
BOOTSTRAP = "paired bootstrap over test examples"
N_BOOT = 1000  # bootstrap resamples of a fixed split's test examples


def corrected_resampled_t(deltas, test_train_ratio: float) -> dict:
    """The corrected resampled t-test of Nadeau & Bengio (2003), "Inference for the generalization error",
    Machine Learning 52(3):239–281, in the k-fold form of Bouckaert & Frank (2004), "Evaluating the
    replicability of significance tests for comparing learning algorithms", PAKDD:

        t = m / sqrt((1/k + n_test/n_train) · s²),   k − 1 degrees of freedom,
        95% CI = m ± t_{0.975, k−1} · sqrt((1/k + n_test/n_train) · s²),

    with ``deltas`` the per-fold differences d_1..d_k (``None`` folds dropped), m their mean and s² their
    sample variance. The naive paired t uses 1/k alone; the added n_test/n_train accounts for the overlap of
    the training sets across folds, which makes fold scores correlated. p is two-sided; with zero spread
    (s = 0) the CI is [m, m] and p is undefined (``None``)."""
    d = np.array([x for x in deltas if x is not None], dtype=float)
    k = len(d)
    out: dict[str, Any] = {"delta_mean": float(d.mean()) if k else None, "t": None, "df": k - 1 if k else None,
                           "ci95": None, "p_value": None}
    if k < 2:
        return out
    se = math.sqrt((1.0 / k + test_train_ratio) * float(d.var(ddof=1)))
    half = float(stats.t.ppf(0.975, k - 1)) * se
    out["ci95"] = [out["delta_mean"] - half, out["delta_mean"] + half]
    if se > 0:
        out["t"] = out["delta_mean"] / se
        out["p_value"] = float(2 * stats.t.sf(abs(out["t"]), k - 1))
    return out


def holm(p_values: list) -> list:
    """Holm's (1979) step-down correction of one family of p-values
    (``statsmodels.stats.multitest.multipletests(method="holm")``); ``None`` entries are left out of the
    family and stay ``None``."""
    from statsmodels.stats.multitest import multipletests
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if present:
        adjusted = multipletests([p_values[i] for i in present], method="holm")[1]
        for i, p in zip(present, adjusted):
            out[i] = float(p)
    return out


def bootstrap_difference(arm_values, baseline_values) -> dict:
    """A paired bootstrap's verdict on ``arm − baseline`` from the metric recomputed on the same B resamples
    of the test examples for both (Efron & Tibshirani 1993, ch. 13 and 16): the percentile 95% CI of the
    differences and the two-sided p = 2 · min(P(diff ≤ 0), P(diff ≥ 0)), clipped to 1. Resamples where
    either metric is undefined (``None``/NaN) are dropped."""
    a = np.array([np.nan if v is None else v for v in arm_values], dtype=float)
    b = np.array([np.nan if v is None else v for v in baseline_values], dtype=float)
    diff = (a - b)[~(np.isnan(a) | np.isnan(b))]
    if not len(diff):
        return {"ci95": None, "p_value": None, "n_resamples": 0}
    p = 2 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0)))
    return {"ci95": [float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))],
            "p_value": min(1.0, p), "n_resamples": int(len(diff))}


def bootstrap_replicates(metric, n: int, n_boot: int = 1000, seed: int = 0, cells: list | None = None) -> list:
    """``metric(idx)`` on ``n_boot`` resamples ``idx`` of ``range(n)`` drawn with replacement (with ``cells``,
    lists of positions: within each cell, keeping its size); the same ``seed`` and cells give the same
    resamples, so two arms' replicates are paired."""
    rng = np.random.default_rng(seed)
    if cells is None:
        return [metric(rng.integers(0, n, n)) for _ in range(n_boot)]
    return [metric(np.concatenate([c[rng.integers(0, len(c), len(c))] for c in cells])) for _ in range(n_boot)]


def paired_bootstrap(y_true, score_arm, score_baseline, metric, n_boot: int = 1000, seed: int = 0) -> dict:
    """The paired bootstrap CI and p of ``metric(arm) − metric(baseline)`` over test examples (see
    :func:`bootstrap_difference`); ``metric(y_true, y_score) -> float | None``."""
    y_true, score_arm, score_baseline = map(np.asarray, (y_true, score_arm, score_baseline))
    arm = bootstrap_replicates(lambda i: metric(y_true[i], score_arm[i]), len(y_true), n_boot, seed)
    base = bootstrap_replicates(lambda i: metric(y_true[i], score_baseline[i]), len(y_true), n_boot, seed)
    observed = metric(y_true, score_arm), metric(y_true, score_baseline)
    return {"delta_mean": None if None in observed else observed[0] - observed[1], **bootstrap_difference(arm, base)}
