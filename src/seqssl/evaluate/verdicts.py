"""What a cross-validation may claim: Holm's correction over the primary-metric comparisons, a verdict per
comparison ("better" / "not distinguishable" / "worse"), the verdict lines at the top of the report and the
console, and the rule that marks a smoke-sized run as not a result."""
from __future__ import annotations

from .stats import BOOTSTRAP, CORRECTED_T, N_BOOT, holm

ALPHA = 0.05
LOWER_IS_BETTER = ("mse",)  # metrics where a negative difference is an improvement
METRIC_NAMES = {"auroc": "AUROC", "average_precision": "AP", "map": "mAP", "macro_auroc": "macro AUROC",
                "spearman": "Spearman", "pearson": "Pearson", "mse": "MSE", "accuracy": "accuracy",
                "per_residue_accuracy": "per-residue accuracy"}
SMOKE_PRETRAIN_STEPS = 100  # below this many optimiser steps a pretraining arm has barely trained (the quick
#                            demo: 30; the demo: 200, half an epoch of its 100k corpus, reported as a result)
SMOKE_MIN_FOLDS = 3  # fewer folds than this (k-fold splits only) is no estimate of spread


def in_family(comparison: dict, primary: str) -> bool:
    """The Holm family of a table: every comparison on the primary metric, pooled and on each ``@subset``,
    every row against every baseline."""
    return comparison["metric"].split("@")[0] == primary


def verdict(delta: float | None, ci: list | None, p_holm: float | None, metric: str = "",
            alpha: float = ALPHA) -> str | None:
    """``better`` / ``worse`` (the arm against the baseline) when the difference is significant, else
    ``not distinguishable``: at Holm-corrected ``alpha`` when ``p_holm`` is known, otherwise when the 95% CI
    excludes 0 (a zero-width CI, no spread at all, says nothing). ``None`` when nothing was tested."""
    if delta is None:
        return None
    if p_holm is not None:
        distinct = p_holm < alpha
    elif ci is not None:
        distinct = ci[0] < ci[1] and (ci[0] > 0 or ci[1] < 0)
    else:
        return None
    if not distinct or delta == 0:
        return "not distinguishable"
    ahead = delta < 0 if metric.split("@")[0] in LOWER_IS_BETTER else delta > 0
    return "better" if ahead else "worse"


def add_verdicts(comparisons: list[dict], primary: str) -> list[dict]:
    """Set ``p_holm`` (Holm over the primary-metric family; ``None`` outside it) and ``verdict`` on each
    comparison, in place; returns the list."""
    family = [i for i, c in enumerate(comparisons) if in_family(c, primary)]
    adjusted = holm([comparisons[i]["p_value"] for i in family])
    for c in comparisons:
        c["p_holm"] = None
    for i, p in zip(family, adjusted):
        comparisons[i]["p_holm"] = p
    for c in comparisons:
        c["verdict"] = verdict(c["delta_mean"], c["ci95"], c["p_holm"], c["metric"])
    return comparisons


def family_size(results: dict) -> int:
    return sum(c.get("p_holm") is not None for c in results.get("comparisons", []))


def _clause(c: dict, metric: str) -> str:
    ci = "" if c["ci95"] is None else f", 95% CI [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"
    n_boot = N_BOOT if c.get("test") == BOOTSTRAP else None
    p = "" if c.get("p_holm") is None else f", Holm p = {format_p(c['p_holm'], n_boot)}"
    relation = {"better": "better than", "worse": "worse than"}.get(c["verdict"], f"{c['verdict']} from")
    return f"{relation} `{c['baseline']}` (Δ {metric_name(metric)} {c['delta_mean']:+.3f}{ci}{p})"


def metric_name(metric: str) -> str:
    """How prose names a metric: ``AUROC``, ``per-group AUROC`` (``auroc_per_group``), else the key."""
    base, per_group = (metric[:-len("_per_group")], True) if metric.endswith("_per_group") else (metric, False)
    name = METRIC_NAMES.get(base, base)
    return f"per-group {name}" if per_group else name


def verdict_lines(results: dict) -> list[str]:
    """One line per row of the table with comparisons, on the primary metric pooled over the test folds:
    "`simclr`: better than `none` (Δ AUROC +0.030, 95% CI [..], Holm p = ..) / not distinguishable from
    `kmer` (..)"."""
    primary = results["primary_metric"]
    rows: dict[str, list[str]] = {}
    for c in results.get("comparisons", []):
        if c["metric"] == primary and c["delta_mean"] is not None and c.get("verdict"):
            rows.setdefault(c["arm"], []).append(_clause(c, primary))
    return [f"`{arm}`: " + " / ".join(clauses) for arm, clauses in rows.items()]


def format_p(p: float | None, n_boot: int | None = None) -> str:
    if p is None:
        return "—"
    if p == 0 and n_boot:
        return f"< {1 / n_boot:.3g}"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def smoke_reasons(results: dict) -> list[str]:
    """Why a run is smoke-sized: it checks that the pipeline runs, and its numbers are not a result. The rule:
    (1) an arm pretrains (``results["pretraining"]``, or a run with ``pretrain_seconds``) and
    ``pretrain.max_steps`` is set below 100 (``SMOKE_PRETRAIN_STEPS``); (2) ``finetune.max_steps`` is set
    (fine-tuning cut at a step count, not trained to early stopping or its epochs); (3) a k-fold split (not a
    fixed split from a column) with fewer than 3 folds. ``seqssl demo --quick`` (30 pretraining steps) is one."""
    cfg, reasons = results.get("config", {}), []
    steps = cfg.get("pretrain", {}).get("max_steps")
    pretrains = bool(results.get("pretraining")) or any(
        "pretrain_seconds" in r for body in results.get("arms", {}).values() for r in body.get("runs", []))
    if pretrains and steps is not None and steps < SMOKE_PRETRAIN_STEPS:
        reasons.append(f"pretraining capped at {steps} steps (pretrain.max_steps < {SMOKE_PRETRAIN_STEPS})")
    if cfg.get("finetune", {}).get("max_steps") is not None:
        reasons.append(f"fine-tuning capped at {cfg['finetune']['max_steps']} steps (finetune.max_steps)")
    if results.get("split") != "column" and results.get("n_folds", SMOKE_MIN_FOLDS) < SMOKE_MIN_FOLDS:
        reasons.append(f"{results['n_folds']} folds (< {SMOKE_MIN_FOLDS})")
    return reasons


def smoke_line(results: dict) -> str | None:
    """``SMOKE RUN: <reasons>: a check that the pipeline runs, not a result.``, or None."""
    reasons = smoke_reasons(results)
    return f"SMOKE RUN: {'; '.join(reasons)}: a check that the pipeline runs, not a result." if reasons else None


def comparison_note(results: dict) -> str:
    """Markdown under the paired-differences table naming the tests and the correction."""
    stats_info, n = results.get("statistics", {}), family_size(results)
    family = (f"Holm-corrected across the {n} primary-metric comparisons (`{results['primary_metric']}` pooled "
              "and on each subset, every row against every baseline); verdicts at Holm-corrected 5%, and from "
              "the 95% CI for the other metrics")
    if stats_info.get("test") == BOOTSTRAP:
        within = stats_info.get("resampled_within", "all test rows")
        repeats = stats_info.get("repeats_resampled")
        n_boot = stats_info.get('n_boot', N_BOOT)
        test = (f"Paired bootstrap over test examples ({n_boot} resamples of whole test examples, each with all "
                "its prediction rows, the same for every row of the table"
                if within.startswith("examples") else
                f"Paired bootstrap over test examples ({n_boot} resamples of the test rows, the same for every "
                f"row of the table, drawn within each {within} cell"
                if within != "all test rows" else
                f"Paired bootstrap over test examples ({n_boot} resamples of the test rows, the same for every "
                "row of the table")
        test += ((f"; and of each row's {repeats} fine-tuning repeats, the metric averaged over the drawn "
                  "repeats, so the interval holds the training seed's spread too") if repeats else "")
        test += "; percentile 95% CI of the difference; p = 2·min(P(diff ≤ 0), P(diff ≥ 0)))"
    elif stats_info.get("test") == CORRECTED_T:
        ratio = stats_info.get("test_train_ratio")
        test = ("Corrected resampled t-test (Nadeau & Bengio 2003) on the per-fold differences: variance × "
                f"(1/k + n_test/n_train), n_test/n_train = {ratio:.3f}, k − 1 degrees of freedom")
    else:
        return "No test: the task's metrics cannot be recomputed from its prediction rows on a single split."
    return (f"{test}; {family}. `p (paired t)` is the uncorrected paired t-test, for reference only: it "
            "ignores that training folds overlap and overstates significance.")
