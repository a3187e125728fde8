"""What a cross-validation may claim: Holm's correction over the primary-metric comparisons and a verdict per
comparison ("better" / "not distinguishable" / "worse"). How a report words them (the verdict lines, the note on
the tests, the smoke-run rule) is :mod:`seqssl.report.verdicts`."""
from __future__ import annotations

from .stats import holm

ALPHA = 0.05
LOWER_IS_BETTER = ("mse",)  # metrics where a negative difference is an improvement


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


HOMES = {name: f"seqssl.report.verdicts.{name}" for name in (
    "METRIC_NAMES", "SMOKE_PRETRAIN_STEPS", "SMOKE_MIN_FOLDS", "family_size", "metric_name", "verdict_lines",
    "format_p", "smoke_reasons", "smoke_line", "comparison_note")}
HOMES["_clause"] = "seqssl.report.verdicts.clause"


def __getattr__(name: str):
    """The report's wording of the verdicts moved to :mod:`seqssl.report.verdicts` (one release)."""
    from ..deprecated import moved
    return moved(__name__, name, HOMES)
