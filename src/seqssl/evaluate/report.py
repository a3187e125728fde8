"""Moved to :mod:`seqssl.report` (tables, notes, console, Markdown, figures); these names work for one release."""
from __future__ import annotations

HOMES = {
    **{name: f"seqssl.report.tables.{name}" for name in (
        "table_metrics", "subsets", "metric_columns", "results_table", "comparisons_table", "comparison_row",
        "COST_COLUMNS", "cost_values", "cost_table", "run_values", "data_name", "split_description", "run_table")},
    **{name: f"seqssl.report.notes.{name}" for name in (
        "convergence_note", "split_note", "retrieval_lines", "against_chance", "external_model_lines",
        "tuning_lines")},
    **{name: f"seqssl.report.figures.{name}" for name in ("running_mean", "SMOOTH_FROM", "plot_loss_curve")},
    "_plot_metric_bars": "seqssl.report.figures.plot_metric_bars",
    "_plot_learning_curve": "seqssl.report.figures.plot_learning_curve",
    "_plot_curves": "seqssl.report.figures.plot_curves",
    "_plot_loss_curve": "seqssl.report.figures.plot_loss_curve",
    "_plot_pretraining": "seqssl.report.figures.plot_pretraining",
    "_fmt": "seqssl.report.tables.mean_std_text",
    "_key": "seqssl.report.tables.subset_key",
    "_settings": "seqssl.report.notes.settings_text",
    "print_summary": "seqssl.report.console.print_summary",
    "write_report": "seqssl.report.markdown.write_report",
}


def __getattr__(name: str):
    from ..deprecated import moved
    return moved(__name__, name, HOMES)
