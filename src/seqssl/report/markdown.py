"""Human-readable output of a cross-validation: the console table, report.md and PNG plots."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write_text
from ..tasks import get_task
from .forest import plot_forest
from .stats import BOOTSTRAP, N_BOOT
from .verdicts import comparison_note, format_p, smoke_line, verdict_lines


def table_metrics(results: dict) -> tuple[str, ...]:
    """The metrics the results table shows for the run's task (and, when measured, the primary metric
    within groups, macro-averaged)."""
    task = get_task(results["task"])
    first = next(iter(results["arms"].values()))["mean"]
    grouped = tuple(f"{m}_per_group" for m in (task.primary_metric,) if f"{m}_per_group" in first)
    return task.table_metrics + grouped


def _fmt(mean, std, single: bool = False) -> str:
    """'mean ± std' over folds; the mean alone for a single fixed split (no spread to show)."""
    if mean is None:
        return "—"
    return f"{mean:.3f}" if single else f"{mean:.3f} ± {std:.3f}"


def subsets(results: dict) -> list[str]:
    """``all`` plus each negative type found in the metric keys (``auroc@swapped`` → ``swapped``)."""
    first = next(iter(results["arms"].values()))["mean"]
    return ["all"] + sorted({k.split("@", 1)[1] for k in first if "@" in k})


def _key(metric: str, subset: str) -> str:
    return metric if subset == "all" else f"{metric}@{subset}"


def metric_columns(results: dict) -> list[str]:
    return [_key(m, g) for g in subsets(results) for m in table_metrics(results)]


def results_table(results: dict) -> pd.DataFrame:
    """One row per arm and evaluation subset, one column per metric, 'mean ± std' over folds."""
    rows = []
    single = results.get("n_folds") == 1 and results.get("repeats", 1) == 1
    for arm, body in results["arms"].items():
        for subset in subsets(results):
            rows.append({"arm": arm, "subset": subset,
                         **{m: _fmt(body["mean"].get(_key(m, subset)), body["std"].get(_key(m, subset)), single)
                            for m in table_metrics(results)}})
    return pd.DataFrame(rows).set_index(["arm", "subset"])


def comparisons_table(results: dict, metrics: list[str] | None = None) -> pd.DataFrame:
    metrics = metrics or [c for c in metric_columns(results) if c.split("@")[0] == results["primary_metric"]]
    rows = []
    for c in results["comparisons"]:
        if c["metric"] not in metrics or c["delta_mean"] is None:
            continue
        rows.append(comparison_row(c))
    return pd.DataFrame(rows)


def comparison_row(c: dict) -> dict:
    """One line of the paired-differences table: the difference, its 95% CI and p from the comparison's
    test, the Holm-corrected p, the verdict, and the uncorrected paired t p-value for reference."""
    ci, n_boot = c["ci95"], N_BOOT if c.get("test") == BOOTSTRAP else None
    return {"arm": c["arm"], "vs": c["baseline"], "metric": c["metric"], "delta": f"{c['delta_mean']:+.3f}",
            "95% CI": "—" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]",
            "p": format_p(c.get("p_value"), n_boot), "Holm p": format_p(c.get("p_holm"), n_boot),
            "verdict": c.get("verdict") or "—", "p (paired t)": format_p(c.get("p_paired_t"))}


def convergence_note(results: dict) -> str | None:
    """Say plainly when fine-tuning runs hit the epoch cap instead of stopping early (or that every run
    had the same fixed budget, ``finetune.select: last``)."""
    if results["config"]["finetune"].get("select") == "last":
        return (f"Fixed budget: every fine-tuning run trained {results['config']['finetune']['epochs']} epochs "
                "and kept its last weights (finetune.select: last); validation metrics were recorded, not used.")
    capped = {arm: sum(not r.get("stopped_early", True) for r in body["runs"])
              for arm, body in results["arms"].items()}
    capped = {a: n for a, n in capped.items() if n}
    if not capped:
        return None
    cap = results["config"]["finetune"]["epochs"]
    listed = ", ".join(f"{a} {n}/{results['n_folds']}" for a, n in capped.items())
    return (f"Not converged: fine-tuning runs that reached the {cap}-epoch cap before early stopping: {listed}. "
            f"This compares arms at equal fine-tuning compute, which favours arms that converge faster; "
            f"raise --epochs (finetune.epochs) for an at-convergence comparison.")


def split_note(results: dict) -> str | None:
    """Say plainly that a fixed split from a column is one train/test evaluation, not cross-validation."""
    if results.get("split") != "column":
        return None
    validation = (f"validation rows marked in `{results['validation_column']}` or `valid` in the split column"
                  if results.get("validation_column") else
                  "validation rows marked `valid` in the split column, otherwise carved from train")
    spread = ("There is no spread over folds, so no ± std; arms are compared by a paired bootstrap over the "
              "test examples." if results.get("repeats", 1) == 1 else
              f"± is the std over {results['repeats']} fine-tuning repeats; arms are compared by a paired "
              "bootstrap over the test examples and the repeats.")
    return (f"Fixed split from column `{results['split_column']}`: one train/test evaluation (a single \"fold\"), "
            f"not cross-validation; {validation}. {spread}")


def print_summary(results: dict, console=None) -> None:
    """The verdict lines, the results, cost and paired-differences tables, and the notes, readable at any
    console width (at 80 columns nothing is cut: :mod:`.console`)."""
    from rich.console import Console
    from rich.markup import escape

    from .console import print_comparisons, print_frame
    console = console or Console()
    for line in [smoke_line(results), *verdict_lines(results)]:
        if line:
            console.print(escape(line))
    repeats = results.get("repeats", 1)
    main_title = (("Fixed split: test metrics" if repeats == 1 else
                   f"Fixed split: mean ± std over {repeats} fine-tuning repeats") if results.get("n_folds") == 1
                  else "Cross-validation: mean ± std over folds")
    print_frame(console, main_title, results_table(results).reset_index(), ["arm", "subset"])
    print_frame(console, "Cost per arm (mean over folds)", cost_table(results), ["arm"])
    print_comparisons(console, "Paired differences (arm − baseline, per fold)", comparisons_table(results))
    for note in (split_note(results), convergence_note(results)):
        if note:
            console.print(note)


def _plot_metric_bars(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = metric_columns(results)
    cols = [c for c in cols if not c.startswith("mse")]
    arms = list(results["arms"])
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(cols) * len(arms) / 2), 4))
    width = 0.8 / len(arms)
    for j, arm in enumerate(arms):
        means = [results["arms"][arm]["mean"].get(c) or 0 for c in cols]
        stds = [results["arms"][arm]["std"].get(c) or 0 for c in cols]
        ax.bar(np.arange(len(cols)) + j * width, means, width, yerr=stds, capsize=3, label=arm)
    ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2, cols, rotation=30, ha="right")
    ax.set_ylabel("mean over folds (± std)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_learning_curve(results: dict, path: Path) -> bool:
    """Primary metric against the share of training labels, one line per arm (``--label-fractions``)."""
    curves: dict[str, list] = {}
    for name, body in results["arms"].items():
        arm, _, fraction = name.partition("@")
        if fraction:
            curves.setdefault(arm, []).append((float(fraction), body["mean"].get(results["primary_metric"]),
                                               body["std"].get(results["primary_metric"]) or 0.0))
    if not curves:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, points in curves.items():
        points = sorted(p for p in points if p[1] is not None)
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points], marker="o",
                    capsize=3, label=arm)
    ax.set_xscale("log")
    ax.set_xlabel("share of each training fold's labels")
    ax.set_ylabel(f"{results['primary_metric']} (mean ± std over folds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _plot_curves(predictions: pd.DataFrame, path: Path) -> None:
    """ROC and precision–recall curves of every arm, test folds pooled (multilabel: every measured
    (molecule, target) pair pooled), side by side."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    from .figures import panels, save
    fig, (roc_ax, pr_ax) = panels(2, width=5.0, height=5.0)
    for arm, sub in predictions.groupby("arm", sort=False):
        if sub["y_true"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(sub["y_true"], sub["y_score"])
        roc_ax.plot(fpr, tpr, label=arm)
        precision, recall, _ = precision_recall_curve(sub["y_true"], sub["y_score"])
        pr_ax.plot(recall, precision, label=arm)
    roc_ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test folds pooled")
    prevalence = float(predictions.groupby("arm", sort=False)["y_true"].mean().iloc[0]) if len(predictions) else 0.0
    pr_ax.axhline(prevalence, color="k", ls="--", lw=0.8, label=f"chance ({prevalence:.2f})")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test folds pooled", ylim=(0, 1.02))
    roc_ax.legend(fontsize=7)
    pr_ax.legend(fontsize=7)
    save(fig, path)


SMOOTH_FROM = 50  # logged records per fold from which the pretraining-loss plot shows a running mean


def running_mean(values: list[float], window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start; NaNs skipped): per-batch losses
    of contrastive objectives are noisy enough to hide the trend of a long run."""
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy()


def _plot_loss_curve(ax, history: list[dict], alpha: float) -> int | None:
    """One fold's loss against the step: as logged when short (with markers, so even one record shows); for
    a long run, faint as logged behind a running mean over ~4% of its records. Returns the window, or None."""
    steps, losses = [h["step"] for h in history], [h["loss"] for h in history]
    if len(history) < SMOOTH_FROM:
        ax.plot(steps, losses, color="tab:blue", alpha=alpha, linewidth=1, marker="o", markersize=2)
        return None
    window = max(2, len(history) // 25)
    ax.plot(steps, losses, color="tab:blue", alpha=0.15, linewidth=0.6)
    ax.plot(steps, running_mean(losses, window), color="tab:blue", alpha=alpha, linewidth=1.2)
    return window


def _plot_pretraining(results: dict, path: Path) -> bool:
    """One panel per objective (losses of different objectives are on different scales), one line per fold."""
    from matplotlib.ticker import MaxNLocator

    from .figures import panels, save
    curves = {arm: [f for f in folds if f["history"]] for arm, folds in results.get("pretraining", {}).items()}
    curves = {arm: folds for arm, folds in curves.items() if folds}
    if not curves:
        return False
    fig, axes = panels(len(curves), 3.6, 2.8)
    for ax, (arm, folds) in zip(axes, curves.items()):
        windows = [_plot_loss_curve(ax, f["history"], 0.35 + 0.65 / len(folds)) for f in folds]
        smoothed = max((w for w in windows if w), default=None)
        note = f"; running mean of {smoothed} logs" if smoothed else ""
        ax.set_title(f"{arm} ({len(folds)} fold{'s' if len(folds) > 1 else ''}{note})", fontsize=9)
        ax.set_xlabel("optimiser step", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # long runs' step labels would overlap
        ax.tick_params(labelsize=7)
    save(fig, path)
    return True


COST_COLUMNS = {"batch_size": "batch size", "peak_memory_mb": "peak memory (MB)",
                "epoch_seconds": "epoch time (s)", "epochs_run": "epochs run", "pretrain_seconds": "pretraining (s)",
                "seconds": "total (s)"}


def cost_values(results: dict) -> pd.DataFrame:
    """Per arm, the mean over folds of what it cost (numbers; NaN where an arm has none): fine-tuning batch
    size, peak memory (GPU: allocated by torch; CPU: the process's resident set), seconds per training epoch,
    epochs, pretraining seconds, and the total: pretraining (once per fold, shared by an arm's modes and label
    fractions) + the arm's fit."""
    rows = []
    for arm, body in results["arms"].items():
        row: dict = {"arm": arm}
        for key, label in COST_COLUMNS.items():
            values = [r[key] for r in body.get("runs", []) if r.get(key) is not None]
            row[label] = float(np.mean(values)) if values else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def cost_table(results: dict) -> pd.DataFrame:
    """:func:`cost_values` as text for the console and report.md (``—`` where an arm has none)."""
    table = cost_values(results)
    for key, label in COST_COLUMNS.items():
        digits = 0 if key in ("batch_size", "peak_memory_mb") else 1
        table[label] = [f"{v:.{digits}f}" if pd.notna(v) else "—" for v in table[label]]
    return table


def run_values(results: dict) -> pd.DataFrame:
    """Seed 003's run table, as numbers (``run_table.csv``: pandas reads every metric and cost as a number,
    an empty cell where there is none): one row per arm and transfer mode with its cost (:func:`cost_values`),
    the validation metric it was selected on and the test metric's mean and std over folds, the run id and
    date."""
    primary = results["primary_metric"]
    table = cost_values(results)
    validation, mean, std = [], [], []
    for body in results["arms"].values():
        chosen = [r["best_val"] for r in body.get("runs", []) if isinstance(r.get("best_val"), (int, float))]
        validation.append(float(np.mean(chosen)) if chosen else np.nan)
        mean.append(body["mean"].get(primary, np.nan))
        std.append(body["std"].get(primary, np.nan))
    table.insert(1, "mode", [arm[arm.index("[") + 1:-1] if arm.endswith("]") else None for arm in results["arms"]])
    table.insert(2, "data", data_name(results))
    table.insert(3, "split", split_description(results))
    table[f"validation {primary}"] = pd.array(validation, dtype="float64")
    table[f"test {primary}"] = pd.array([np.nan if v is None else v for v in mean], dtype="float64")
    table[f"test {primary} std"] = pd.array([np.nan if v is None else v for v in std], dtype="float64")
    table["run id"], table["date"] = results.get("run_id"), results.get("date")
    return table


def data_name(results: dict) -> str:
    """The labelled data set of a run, as its file or folder name (seed 003's run table names it)."""
    path = (results.get("config") or {}).get("data", {}).get("path")
    return Path(str(path)).name if path else "—"


def split_description(results: dict) -> str:
    """How the run split its rows: the split, its folds, and what it grouped by or read (``grouped by cdr3_b_aa,
    5 folds``; ``column split``)."""
    data = (results.get("config") or {}).get("data", {})
    crossval = (results.get("config") or {}).get("crossval", {})
    split = results.get("split") or "—"
    detail = {"grouped": data.get("group_column"), "cluster": crossval.get("cluster_threshold"),
              "column": data.get("split_column")}.get(split)
    text = f"{split} ({detail})" if detail else split
    folds = results.get("n_folds")
    return f"{text}, {folds} folds" if folds and folds > 1 else text


def run_table(results: dict) -> pd.DataFrame:
    """:func:`run_values` as text for report.md: ``mean ± std`` and ``—``."""
    primary = results["primary_metric"]
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


def retrieval_lines(results: dict) -> list[str]:
    """Markdown for the top-k retrieval of test positives (second column from the first)."""
    rows = [{"arm": arm, **{k: f"{v:.3f}" for k, v in body["retrieval"].items()
                            if k.startswith(("top", "random", "frequency")) and isinstance(v, float)},
             **against_chance(body["retrieval"].get("top_1_vs_random"), "random"),
             **against_chance(body["retrieval"].get("top_1_vs_frequency"), "frequency")}
            for arm, body in results["arms"].items() if "retrieval" in body]
    if not rows:
        return []
    return ["## Retrieval (encoder before fine-tuning)", "",
            "Each test positive's first sequence queries all distinct second sequences by cosine similarity (a "
            "clip encoder: tower to tower); top-k is the fraction whose own partner ranks in the top k (mean over "
            "folds). Chance: random_top_k = k/N; frequency_top_k, the best ranking that ignores the query (the "
            "most frequent partners first), which a random encoder can reach when partners are few and unequal.",
            "", pd.DataFrame(rows).to_markdown(index=False), ""]


def against_chance(tested: dict | None, chance: str) -> dict:
    """The column of top-1 − ``chance`` top-1 (corrected resampled t over folds), or none."""
    if not tested or tested.get("ci95") is None:
        return {}
    low, high = tested["ci95"]
    p = "—" if tested["p_value"] is None else f"{tested['p_value']:.3f}"
    return {f"top-1 − {chance} top-1 (95% CI, p)": f"{tested['delta_mean']:+.3f} [{low:+.3f}, {high:+.3f}], p={p}"}


def external_model_lines(results: dict) -> list[str]:
    """The note on ``model:PATH`` arms: not pretrained per fold, so the leakage counts above do not cover them."""
    models = results.get("external_models") or {}
    if not models:
        return []
    listed = "; ".join(f"`{name}` ({m.get('path') or m.get('package')})" for name, m in models.items())
    return [f"Models brought to the run ({listed}) were not pretrained on its folds: the leakage accounting above "
            "does not apply to them. Whether their pretraining data contained this data set's test sequences is "
            "for their authors to state.", ""]


def tuning_lines(results: dict) -> list[str]:
    """Markdown: how fine-tuning was repeated (``finetune.repeats``) and which settings the search
    (``finetune.search``) chose per row and fold, with the validation value each candidate reached."""
    lines = []
    repeats = results.get("repeats", 1)
    if repeats > 1:
        spread = ("± is the std over the repeats" if results["n_folds"] == 1 else
                  "each fold's value is the mean over its repeats, ± the std of those means over folds")
        lines += [f"Fine-tuning repeated {repeats} times per fold and row, with the same {repeats} seeds for "
                  f"every arm (seqssl.evaluate.tuning); {spread}. Arms whose fit needs no seed (k-mers, "
                  "nearest neighbours) were fitted once.", ""]
    chosen = [{"row": arm, "fold": r["fold"], "chosen": _settings(r["search"]["chosen"]),
               "validation": " · ".join(f"{_settings(c['settings'])}: {c['best_val']:.3f}"
                                        for c in r["search"]["candidates"])}
              for arm, body in results["arms"].items() for r in body.get("runs", []) if "search" in r]
    if chosen:
        lines += ["## Fine-tuning settings chosen on the validation split", "",
                  "Every combination of `finetune.search` fitted per fold and row; the best validation value "
                  "chose (the test rows played no part).", "",
                  pd.DataFrame(chosen).to_markdown(index=False, disable_numparse=True), ""]
    return lines


def _settings(settings: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in settings.items())


def write_report(results: dict, out: Path, predictions: pd.DataFrame, maps: dict | None = None) -> None:
    """``report.md`` with the tables, the leakage counts and the plots it links, and ``report.html``, the
    same with the plots embedded (one file to open or send); ``maps``: per arm, the t-SNE points of
    :mod:`seqssl.evaluate.embedding_map`."""
    from .embedding_map import plot_embedding_maps
    from .figures import plot_confusion
    from .html import write_html_report
    out = Path(out)
    plots = ["differences.png"] if plot_forest(results, out / "differences.png") else []
    _plot_metric_bars(results, out / "metrics.png")
    plots.append("metrics.png")
    task = get_task(results["task"])
    if task.curves:
        _plot_curves(predictions, out / "roc.png")  # ROC and precision-recall side by side
        plots.append("roc.png")
    if task.confusion_matrix and plot_confusion(predictions, out / "confusion.png"):
        plots.append("confusion.png")
    if _plot_pretraining(results, out / "pretraining_loss.png"):
        plots.append("pretraining_loss.png")
    if _plot_learning_curve(results, out / "label_fractions.png"):
        plots.append("label_fractions.png")
    if plot_embedding_maps(maps or {}, out / "embedding_map.png", continuous=task.continuous,
                           names=results.get("classes"), label=results["config"].get("data", {}).get("label_column")):
        plots.append("embedding_map.png")
    leak = pd.DataFrame(results["leakage"])
    single = results["n_folds"] == 1
    lines = ["# seqssl cross-validation report", "",
             *([smoke_line(results), ""] if smoke_line(results) else []),
             *([*(f"- {line}" for line in verdict_lines(results)), ""] if verdict_lines(results) else []),
             f"Task `{results['task']}`, {results['n_folds']} fold{'' if single else 's'}, "
             f"split `{results['split']}`, seed {results['seed']}, primary metric `{results['primary_metric']}`; "
             f"wall time {results['wall_seconds']:.0f} s.", "",
             *([split_note(results), ""] if split_note(results) else []),
             *([f"{results['invalid_smiles_skipped']} rows skipped: SMILES that RDKit cannot parse "
                "(`--invalid-smiles skip`).", ""] if results.get("invalid_smiles_skipped") else []),
             *([f"{results['v_genes_skipped']} rows skipped: V genes not in the IMGT table, or missing "
                "(`--unknown-v-genes skip`).", ""] if results.get("v_genes_skipped") else []),
             *task.report_lines(results),
             "## Results (test split)" if single else "## Results (mean ± std over test folds)", "",
             results_table(results).reset_index().to_markdown(index=False, disable_numparse=True), "",
             *(task.subset_note(results) if len(subsets(results)) > 1 else []),
             "## Run table (mean over folds; also run_table.csv)", "",
             run_table(results).to_markdown(index=False, disable_numparse=True), "",
             *([convergence_note(results), ""] if convergence_note(results) else []),
             *tuning_lines(results),
             "## Paired differences against the baselines", "",
             (comparisons_table(results).to_markdown(index=False, disable_numparse=True)
              if results["comparisons"] else "none"),
             "",
             *([comparison_note(results), ""] if results["comparisons"] else []),
             *retrieval_lines(results),
             "## Folds and leakage control", "",
             leak.to_markdown(index=False), "",
             *external_model_lines(results),
             "`pretrain_removed_test_sequences`: entries of the unlabelled corpus removed because they contain "
             "a sequence of that fold's test set. `test_sequences_in_train[@COLUMN]`: test rows whose sequence "
             "(in that column) also occurs in the training fold; `test_pairs_in_train`: test rows whose whole "
             "pair does; `removed_from_test`: exact duplicates of a training row dropped from the test fold "
             "(`crossval.remove_duplicates`, `--remove-duplicates`).", "", "## Plots", ""]
    lines += [f"![{p}]({p})" for p in plots]
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "report.md", text)
    run_id = f" {results['run_id']}" if results.get("run_id") else ""
    write_html_report(text, out / "report.html", title=f"seqssl cross-validation report{run_id}")
