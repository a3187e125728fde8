"""The tables of a cross-validation as DataFrames: results (mean ± std per row and subset), paired differences,
cost, and seed 003's run table (``run_table.csv`` as numbers, report.md as text)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluate.schema import Comparison, Results
from ..evaluate.stats import BOOTSTRAP, N_BOOT
from ..tasks import get_task
from .verdicts import format_p


def table_metrics(results: Results | dict) -> tuple[str, ...]:
    """The metrics the results table shows for the run's task (and, when measured, the primary metric
    within groups, macro-averaged)."""
    results = Results.of(results)
    task = get_task(results.task)
    first = results.first_arm().mean
    grouped = tuple(f"{m}_per_group" for m in (task.primary_metric,) if f"{m}_per_group" in first)
    return task.table_metrics + grouped


def mean_std_text(mean, std, single: bool = False) -> str:
    """'mean ± std' over folds; the mean alone for a single fixed split (no spread to show)."""
    if mean is None:
        return "—"
    return f"{mean:.3f}" if single else f"{mean:.3f} ± {std:.3f}"


def subsets(results: Results | dict) -> list[str]:
    """``all`` plus each negative type found in the metric keys (``auroc@swapped`` → ``swapped``)."""
    first = Results.of(results).first_arm().mean
    return ["all"] + sorted({k.split("@", 1)[1] for k in first if "@" in k})


def subset_key(metric: str, subset: str) -> str:
    return metric if subset == "all" else f"{metric}@{subset}"


def metric_columns(results: Results | dict) -> list[str]:
    return [subset_key(m, g) for g in subsets(results) for m in table_metrics(results)]


def results_table(results: Results | dict) -> pd.DataFrame:
    """One row per arm and evaluation subset, one column per metric, 'mean ± std' over folds."""
    results = Results.of(results)
    rows = []
    single = results.single_split and results.repeats == 1
    for arm, body in results.arms.items():
        for subset in subsets(results):
            rows.append({"arm": arm, "subset": subset,
                         **{m: mean_std_text(body.mean.get(subset_key(m, subset)),
                                             body.std.get(subset_key(m, subset)), single)
                            for m in table_metrics(results)}})
    return pd.DataFrame(rows).set_index(["arm", "subset"])


def comparisons_table(results: Results | dict, metrics: list[str] | None = None) -> pd.DataFrame:
    """The paired differences on ``metrics`` (default: the primary metric, pooled and per subset)."""
    results = Results.of(results)
    metrics = metrics or [c for c in metric_columns(results) if c.split("@")[0] == results.primary_metric]
    return pd.DataFrame([comparison_row(c) for c in results.comparisons
                         if c.metric in metrics and c.delta_mean is not None])


def comparison_row(c: Comparison) -> dict:
    """One line of the paired-differences table: the difference, its 95% CI and p from the comparison's
    test, the Holm-corrected p, the verdict, and the uncorrected paired t p-value for reference."""
    ci, n_boot = c.ci95, N_BOOT if c.test == BOOTSTRAP else None
    return {"arm": c.arm, "vs": c.baseline, "metric": c.metric, "delta": f"{c.delta_mean:+.3f}",
            "95% CI": "—" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]",
            "p": format_p(c.p_value, n_boot), "Holm p": format_p(c.p_holm, n_boot),
            "verdict": c.verdict or "—", "p (paired t)": format_p(c.p_paired_t)}


COST_COLUMNS = {"batch_size": "batch size", "peak_memory_mb": "peak memory (MB)",
                "epoch_seconds": "epoch time (s)", "epochs_run": "epochs run", "pretrain_seconds": "pretraining (s)",
                "seconds": "total (s)"}


def cost_values(results: Results | dict) -> pd.DataFrame:
    """Per arm, the mean over folds of what it cost (numbers; NaN where an arm has none): fine-tuning batch
    size, peak memory (GPU: allocated by torch; CPU: the process's resident set), seconds per training epoch,
    epochs, pretraining seconds, and the total: pretraining (once per fold, shared by an arm's modes and label
    fractions) + the arm's fit."""
    rows = []
    for arm, body in Results.of(results).arms.items():
        row: dict = {"arm": arm}
        for key, label in COST_COLUMNS.items():
            values = [r[key] for r in body.runs if r.get(key) is not None]
            row[label] = float(np.mean(values)) if values else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def cost_table(results: Results | dict) -> pd.DataFrame:
    """:func:`cost_values` as text for the console and report.md (``—`` where an arm has none)."""
    table = cost_values(results)
    for key, label in COST_COLUMNS.items():
        digits = 0 if key in ("batch_size", "peak_memory_mb") else 1
        table[label] = [f"{v:.{digits}f}" if pd.notna(v) else "—" for v in table[label]]
    return table


def run_values(results: Results | dict) -> pd.DataFrame:
    """Seed 003's run table, as numbers (``run_table.csv``: pandas reads every metric and cost as a number,
    an empty cell where there is none): one row per arm and transfer mode with its cost (:func:`cost_values`),
    the validation metric it was selected on and the test metric's mean and std over folds, the run id and
    date."""
    results = Results.of(results)
    primary = results.primary_metric
    table = cost_values(results)
    validation, mean, std = [], [], []
    for body in results.arms.values():
        chosen = [r["best_val"] for r in body.runs if isinstance(r.get("best_val"), (int, float))]
        validation.append(float(np.mean(chosen)) if chosen else np.nan)
        mean.append(body.mean.get(primary, np.nan))
        std.append(body.std.get(primary, np.nan))
    table.insert(1, "mode", [arm[arm.index("[") + 1:-1] if arm.endswith("]") else None for arm in results.arms])
    table.insert(2, "data", data_name(results))
    table.insert(3, "split", split_description(results))
    table[f"validation {primary}"] = pd.array(validation, dtype="float64")
    table[f"test {primary}"] = pd.array([np.nan if v is None else v for v in mean], dtype="float64")
    table[f"test {primary} std"] = pd.array([np.nan if v is None else v for v in std], dtype="float64")
    table["run id"], table["date"] = results.run_id, results.date
    return table


def data_name(results: Results) -> str:
    """The labelled data set of a run, as its file or folder name (seed 003's run table names it)."""
    path = (results.config or {}).get("data", {}).get("path")
    return Path(str(path)).name if path else "—"


def split_description(results: Results) -> str:
    """How the run split its rows: the split, its folds, and what it grouped by or read (``grouped by cdr3_b_aa,
    5 folds``; ``column split``)."""
    data = (results.config or {}).get("data", {})
    crossval = (results.config or {}).get("crossval", {})
    split = results.split or "—"
    detail = {"grouped": data.get("group_column"), "cluster": crossval.get("cluster_threshold"),
              "column": data.get("split_column")}.get(split)
    text = f"{split} ({detail})" if detail else split
    folds = results.n_folds
    return f"{text}, {folds} folds" if folds and folds > 1 else text


def run_table(results: Results | dict) -> pd.DataFrame:
    """:func:`run_values` as text for report.md: ``mean ± std`` and ``—``."""
    results = Results.of(results)
    primary = results.primary_metric
    values = run_values(results)
    table = cost_table(results)
    table.insert(1, "mode", values["mode"].fillna("—"))
    table.insert(2, "data", values["data"])
    table.insert(3, "split", values["split"])
    table[f"validation {primary}"] = [f"{v:.3f}" if pd.notna(v) else "—" for v in values[f"validation {primary}"]]
    table[f"test {primary}"] = [f"{m:.3f} ± {0 if pd.isna(s) else s:.3f}" if pd.notna(m) else "—"
                                for m, s in zip(values[f"test {primary}"], values[f"test {primary} std"])]
    table["run id"], table["date"] = results.get("run_id", "—"), results.get("date", "—")
    return table
