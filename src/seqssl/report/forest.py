"""The forest plot of the paired differences on the primary metric: one row per (arm vs baseline), the mean
difference and its 95% interval (the corrected t-test's over folds, or the paired bootstrap's over test
examples), a vertical line at 0, coloured by verdict."""
from __future__ import annotations

from pathlib import Path

from ..evaluate.schema import Comparison, Results
from .verdicts import metric_name

COLOURS = {"better": "tab:green", "worse": "tab:red"}


def forest_rows(results: Results) -> list[Comparison]:
    """The pooled primary-metric comparisons with a difference, in results.json's order."""
    return [c for c in results.comparisons if c.metric == results.primary_metric and c.delta_mean is not None]


def plot_forest(results: Results | dict, path: Path) -> bool:
    """Draw ``path``; False (nothing drawn) when there is no comparison."""
    results = Results.of(results)
    rows = forest_rows(results)
    if not rows:
        return False
    from .figures import panels, save
    fig, (ax,) = panels(1, width=7.0, height=1.0 + 0.4 * len(rows))
    for y, c in enumerate(reversed(rows)):
        colour = COLOURS.get(c.verdict or "", "tab:grey")
        if c.ci95 is not None:
            ax.plot(c.ci95, [y, y], color=colour, lw=2)
        ax.plot([c.delta_mean], [y], "o", color=colour)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(rows)), [f"{c.arm} vs {c.baseline}" for c in reversed(rows)], fontsize=8)
    metric = metric_name(results.primary_metric)
    test = (results.statistics or {}).get("test") or "no test"
    ax.set_xlabel(f"Δ {metric} (arm − baseline)\n95% interval: {test}", fontsize=8)
    ax.set_title("Paired differences\n(green: better, red: worse, grey: not distinguishable; Holm 5%)", fontsize=9)
    save(fig, path)
    return True
