"""The console summary of a run at 80 columns: no line wider, no cell cut (every cell of the results, cost and
paired-differences tables appears whole), on committed results with long arm names and many comparisons."""
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from seqssl.report import print_summary
from seqssl.report.tables import comparisons_table, cost_table, results_table

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _render(results: dict, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_summary(results, console)
    return console.export_text()


@pytest.mark.parametrize("name", ["tcr_builtin_grouped_cpu.json", "tcr_gpu_all_objectives.json",
                                  "tcr_modes_stratified_fractions_cpu.json"])
def test_the_summary_reads_at_80_columns_with_nothing_cut(name):
    results = json.loads((RESULTS / name).read_text())
    text = _render(results, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    cells = {str(v) for frame in (results_table(results).reset_index(), cost_table(results))
             for v in frame.to_numpy().ravel()}
    comparisons = comparisons_table(results)
    cells |= {str(v) for column in ("delta", "95% CI", "p", "Holm p", "verdict") for v in comparisons[column]}
    missing = [c for c in cells if c not in text]
    assert not missing, missing[:5]


def test_a_wide_terminal_keeps_one_table_each():
    results = json.loads((RESULTS / "tcr_builtin_grouped_cpu.json").read_text())
    text = _render(results, 250)
    assert "(1/2)" not in text and "p (paired t)" in text
