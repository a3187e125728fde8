"""What a report says of the comparisons: one verdict line per row of the table (from the verdicts
:mod:`seqssl.evaluate.verdicts` set), the note naming the tests and Holm's correction, p-values as text, and the
rule that marks a smoke-sized run as not a result."""
from __future__ import annotations

from ..evaluate.schema import Comparison, Results
from ..evaluate.stats import BOOTSTRAP, CORRECTED_T, N_BOOT

METRIC_NAMES = {"auroc": "AUROC", "average_precision": "AP", "map": "mAP", "macro_auroc": "macro AUROC",
                "spearman": "Spearman", "pearson": "Pearson", "mse": "MSE", "accuracy": "accuracy",
                "per_residue_accuracy": "per-residue accuracy"}
SMOKE_PRETRAIN_STEPS = 100  # below this many optimiser steps a pretraining arm has barely trained (the quick
#                            demo: 30; the demo: 200, half an epoch of its 100k corpus, reported as a result)
SMOKE_MIN_FOLDS = 3  # fewer folds than this (k-fold splits only) is no estimate of spread


def family_size(results: Results | dict) -> int:
    """How many comparisons Holm's correction covered."""
    return sum(c.p_holm is not None for c in Results.of(results).comparisons)


def clause(c: Comparison, metric: str) -> str:
    """"better than `kmer` (Δ AUROC +0.030, 95% CI [..], Holm p = ..)"."""
    ci = "" if c.ci95 is None else f", 95% CI [{c.ci95[0]:+.3f}, {c.ci95[1]:+.3f}]"
    n_boot = N_BOOT if c.test == BOOTSTRAP else None
    p = "" if c.p_holm is None else f", Holm p = {format_p(c.p_holm, n_boot)}"
    relation = {"better": "better than", "worse": "worse than"}.get(c.verdict or "", f"{c.verdict} from")
    return f"{relation} `{c.baseline}` (Δ {metric_name(metric)} {c.delta_mean:+.3f}{ci}{p})"


def metric_name(metric: str) -> str:
    """How prose names a metric: ``AUROC``, ``per-group AUROC`` (``auroc_per_group``), else the key."""
    base, per_group = (metric[:-len("_per_group")], True) if metric.endswith("_per_group") else (metric, False)
    name = METRIC_NAMES.get(base, base)
    return f"per-group {name}" if per_group else name


def verdict_lines(results: Results | dict) -> list[str]:
    """One line per row of the table with comparisons, on the primary metric pooled over the test folds:
    "`simclr`: better than `none` (Δ AUROC +0.030, 95% CI [..], Holm p = ..) / not distinguishable from
    `kmer` (..)"."""
    results = Results.of(results)
    primary = results.primary_metric
    rows: dict[str, list[str]] = {}
    for c in results.comparisons:
        if c.metric == primary and c.delta_mean is not None and c.verdict:
            rows.setdefault(c.arm, []).append(clause(c, primary))
    return [f"`{arm}`: " + " / ".join(clauses) for arm, clauses in rows.items()]


def format_p(p: float | None, n_boot: int | None = None) -> str:
    if p is None:
        return "—"
    if p == 0 and n_boot:
        return f"< {1 / n_boot:.3g}"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def smoke_reasons(results: Results | dict) -> list[str]:
    """Why a run is smoke-sized: it checks that the pipeline runs, and its numbers are not a result. The rule:
    (1) an arm pretrains (``results.pretraining``, or a run with ``pretrain_seconds``) and
    ``pretrain.max_steps`` is set below 100 (``SMOKE_PRETRAIN_STEPS``); (2) ``finetune.max_steps`` is set
    (fine-tuning cut at a step count, not trained to early stopping or its epochs); (3) a k-fold split (not a
    fixed split from a column) with fewer than 3 folds. ``seqssl demo --quick`` (30 pretraining steps) is one."""
    results = Results.of(results)
    cfg, reasons = results.config, []
    steps = cfg.get("pretrain", {}).get("max_steps")
    pretrains = bool(results.pretraining) or any(
        "pretrain_seconds" in r for body in results.arms.values() for r in body.runs)
    if pretrains and steps is not None and steps < SMOKE_PRETRAIN_STEPS:
        reasons.append(f"pretraining capped at {steps} steps (pretrain.max_steps < {SMOKE_PRETRAIN_STEPS})")
    if cfg.get("finetune", {}).get("max_steps") is not None:
        reasons.append(f"fine-tuning capped at {cfg['finetune']['max_steps']} steps (finetune.max_steps)")
    folds = results.n_folds if "n_folds" in results.keys else SMOKE_MIN_FOLDS
    if results.split != "column" and folds < SMOKE_MIN_FOLDS:
        reasons.append(f"{results.n_folds} folds (< {SMOKE_MIN_FOLDS})")
    return reasons


def smoke_line(results: Results | dict) -> str | None:
    """``SMOKE RUN: <reasons>: a check that the pipeline runs, not a result.``, or None."""
    reasons = smoke_reasons(results)
    return f"SMOKE RUN: {'; '.join(reasons)}: a check that the pipeline runs, not a result." if reasons else None


def bootstrap_description(statistics: dict) -> str:
    """The paired bootstrap as the note names it: what was resampled, within which cells, over repeats."""
    within = statistics.get("resampled_within", "all test rows")
    repeats = statistics.get("repeats_resampled")
    n_boot = statistics.get("n_boot", N_BOOT)
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
    return test + "; percentile 95% CI of the difference; p = 2·min(P(diff ≤ 0), P(diff ≥ 0)))"


def comparison_note(results: Results | dict) -> str:
    """Markdown under the paired-differences table naming the tests and the correction."""
    results = Results.of(results)
    stats_info, n = results.statistics or {}, family_size(results)
    family = (f"Holm-corrected across the {n} primary-metric comparisons (`{results.primary_metric}` pooled "
              "and on each subset, every row against every baseline); verdicts at Holm-corrected 5%, and from "
              "the 95% CI for the other metrics")
    if stats_info.get("test") == BOOTSTRAP:
        test = bootstrap_description(stats_info)
    elif stats_info.get("test") == CORRECTED_T:
        ratio = stats_info.get("test_train_ratio")
        test = ("Corrected resampled t-test (Nadeau & Bengio 2003) on the per-fold differences: variance × "
                f"(1/k + n_test/n_train), n_test/n_train = {ratio:.3f}, k − 1 degrees of freedom")
    else:
        return "No test: the task's metrics cannot be recomputed from its prediction rows on a single split."
    return (f"{test}; {family}. `p (paired t)` is the uncorrected paired t-test, for reference only: it "
            "ignores that training folds overlap and overstates significance.")
