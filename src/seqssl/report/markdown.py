"""``report.md`` (tables, notes, leakage counts and the plots it links) and ``report.html`` (the same, plots
embedded), written from a :class:`~seqssl.evaluate.schema.Results`. The report is a list of sections, each a
function of the results that returns its Markdown lines (none when it has nothing to say); a new section is one
more function in :data:`SECTIONS`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..evaluate.schema import Results
from ..io import atomic_write_text
from ..tasks import get_task
from .notes import convergence_note, external_model_lines, retrieval_lines, split_note, tuning_lines
from .tables import comparisons_table, results_table, run_table, subsets
from .verdicts import comparison_note, smoke_line, verdict_lines

LEAKAGE_NOTE = ("`pretrain_removed_test_sequences`: entries of the unlabelled corpus removed because they contain "
                "a sequence of that fold's test set. `test_sequences_in_train[@COLUMN]`: test rows whose sequence "
                "(in that column) also occurs in the training fold; `test_pairs_in_train`: test rows whose whole "
                "pair does; `removed_from_test`: exact duplicates of a training row dropped from the test fold "
                "(`crossval.remove_duplicates`, `--remove-duplicates`).")


def paragraph(text: str | None) -> list[str]:
    """A paragraph and its blank line, or nothing."""
    return [text, ""] if text else []


def headline(results: Results) -> list[str]:
    """The title, the smoke-run line, one verdict per row, and what was run."""
    single = results.single_split
    return ["# seqssl cross-validation report", "", *paragraph(smoke_line(results)),
            *([*(f"- {line}" for line in verdict_lines(results)), ""] if verdict_lines(results) else []),
            f"Task `{results.task}`, {results.n_folds} fold{'' if single else 's'}, split `{results.split}`, "
            f"seed {results.seed}, primary metric `{results.primary_metric}`; wall time {results.wall_seconds:.0f} s.",
            "", *paragraph(split_note(results))]


def skipped_rows(results: Results) -> list[str]:
    """Rows the run left out, and why."""
    return [*paragraph(f"{results.invalid_smiles_skipped} rows skipped: SMILES that RDKit cannot parse "
                       "(`--invalid-smiles skip`)." if results.invalid_smiles_skipped else None),
            *paragraph(f"{results.v_genes_skipped} rows skipped: V genes not in the IMGT table, or missing "
                       "(`--unknown-v-genes skip`)." if results.v_genes_skipped else None)]


def task_lines(results: Results) -> list[str]:
    return get_task(results.task).report_lines(results)


def results_section(results: Results) -> list[str]:
    """The results table (mean ± std over folds, or the test split's values) and what its subsets are."""
    title = "## Results (test split)" if results.single_split else "## Results (mean ± std over test folds)"
    return [title, "", results_table(results).reset_index().to_markdown(index=False, disable_numparse=True), "",
            *(get_task(results.task).subset_note(results) if len(subsets(results)) > 1 else [])]


def run_section(results: Results) -> list[str]:
    """Seed 003's run table, then whether fine-tuning converged."""
    return ["## Run table (mean over folds; also run_table.csv)", "",
            run_table(results).to_markdown(index=False, disable_numparse=True), "",
            *paragraph(convergence_note(results))]


def differences_section(results: Results) -> list[str]:
    """The paired differences against the baselines and the note naming their tests."""
    if not results.comparisons:
        return ["## Paired differences against the baselines", "", "none", ""]
    return ["## Paired differences against the baselines", "",
            comparisons_table(results).to_markdown(index=False, disable_numparse=True), "",
            *paragraph(comparison_note(results))]


def leakage_section(results: Results) -> list[str]:
    """Each fold's sizes and leakage counts, the note on models brought to the run, and what the counts mean."""
    return ["## Folds and leakage control", "", pd.DataFrame(results.leakage).to_markdown(index=False), "",
            *external_model_lines(results), LEAKAGE_NOTE, ""]


SECTIONS: list[Callable[[Results], list[str]]] = [
    headline, skipped_rows, task_lines, results_section, run_section, tuning_lines, differences_section,
    retrieval_lines, leakage_section]


def draw_plots(results: Results, out: Path, predictions: pd.DataFrame, maps: dict | None) -> list[str]:
    """Every figure the run has data for, drawn into ``out``; their file names, in the report's order."""
    from .embedding_maps import plot_embedding_maps
    from .figures import plot_confusion, plot_curves, plot_learning_curve, plot_metric_bars, plot_pretraining
    from .forest import plot_forest
    task = get_task(results.task)
    plots = ["differences.png"] if plot_forest(results, out / "differences.png") else []
    plot_metric_bars(results, out / "metrics.png")
    plots.append("metrics.png")
    if task.curves:
        plot_curves(predictions, out / "roc.png")  # ROC and precision-recall side by side
        plots.append("roc.png")
    if task.confusion_matrix and plot_confusion(predictions, out / "confusion.png"):
        plots.append("confusion.png")
    if plot_pretraining(results, out / "pretraining_loss.png"):
        plots.append("pretraining_loss.png")
    if plot_learning_curve(results, out / "label_fractions.png"):
        plots.append("label_fractions.png")
    if plot_embedding_maps(maps or {}, out / "embedding_map.png", continuous=task.continuous, names=results.classes,
                           label=results.config.get("data", {}).get("label_column")):
        plots.append("embedding_map.png")
    return plots


def report_text(results: Results, plots: list[str]) -> str:
    """report.md: every section in order, then the plots."""
    lines = [line for section in SECTIONS for line in section(results)]
    lines += ["## Plots", "", *(f"![{p}]({p})" for p in plots)]
    return "\n".join(lines) + "\n"


def write_report(results: Results | dict, out: Path, predictions: pd.DataFrame, maps: dict | None = None) -> None:
    """``run_table.csv``, ``report.md`` with the tables, the leakage counts and the plots it links, and
    ``report.html``, the same with the plots embedded (one file to open or send); ``maps``: per arm, the t-SNE
    points of :mod:`seqssl.evaluate.embedding_map`."""
    from .html import write_html_report
    from .tables import run_values
    results, out = Results.of(results), Path(out)
    atomic_write_text(out / "run_table.csv", run_values(results).to_csv(index=False))
    text = report_text(results, draw_plots(results, out, predictions, maps))
    atomic_write_text(out / "report.md", text)
    run_id = f" {results.run_id}" if results.run_id else ""
    write_html_report(text, out / "report.html", title=f"seqssl cross-validation report{run_id}")
