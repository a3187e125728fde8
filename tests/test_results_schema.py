"""The typed ``Results`` that evaluate produces and report reads: every committed results.json reads into it and
writes back identical (key order included), named keys are typed attributes, unknown keys survive, and the old
import paths of the report's functions still work, with a deprecation warning naming the new one."""
import json
from pathlib import Path

import pytest

from seqssl.evaluate.schema import ArmResults, Comparison, Results

ROOT = Path(__file__).resolve().parents[1]


def is_results(path: Path) -> bool:
    data = json.loads(path.read_text())
    return isinstance(data, dict) and {"arms", "comparisons"} <= set(data)


COMMITTED = sorted(p for p in (ROOT / "docs" / "results").rglob("*.json") if is_results(p))


def test_committed_results_files_exist():
    assert len(COMMITTED) >= 10


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_results_json_round_trips_exactly(path):
    text = path.read_text()
    data = json.loads(text)
    results = Results.from_dict(data)
    assert results.to_dict() == data
    assert list(results.to_dict()) == list(data)  # key order too
    assert json.dumps(results.to_dict(), indent=1) == json.dumps(data, indent=1)


def test_named_keys_are_typed_and_unknown_keys_survive():
    data = {"task": "classification", "primary_metric": "auroc", "split": "grouped", "n_folds": 2,
            "arms": {"none": {"folds": [{"auroc": 0.5}], "mean": {"auroc": 0.5}, "std": {"auroc": 0.0}, "runs": [],
                              "seconds": 1.0, "novel": [1, 2]}},
            "comparisons": [{"arm": "kmer", "baseline": "none", "metric": "auroc", "delta_mean": 0.1, "ci95": None,
                             "p_value": None, "deltas": [0.1]}],
            "future_key": {"a": 1}}
    results = Results.from_dict(data)
    assert isinstance(results.arms["none"], ArmResults) and results.arms["none"].mean == {"auroc": 0.5}
    assert isinstance(results.comparisons[0], Comparison) and results.comparisons[0].delta_mean == 0.1
    assert results.comparisons[0].verdict is None and "verdict" not in results.to_dict()["comparisons"][0]
    assert results.arms["none"].extra == {"novel": [1, 2]} and results.extra == {"future_key": {"a": 1}}
    assert results.repeats == 1 and results.run_id is None and results.get("run_id", "—") == "—"
    assert results.to_dict() == data
    assert Results.of(results) is results and Results.of(data).to_dict() == data


@pytest.mark.parametrize("old, name, new", [
    ("seqssl.evaluate.report", "print_summary", "seqssl.report.console"),
    ("seqssl.evaluate.report", "write_report", "seqssl.report.markdown"),
    ("seqssl.evaluate.report", "results_table", "seqssl.report.tables"),
    ("seqssl.evaluate.verdicts", "smoke_line", "seqssl.report.verdicts"),
    ("seqssl.evaluate.console", "print_frame", "seqssl.report.console"),
    ("seqssl.evaluate.figures", "panels", "seqssl.report.figures"),
    ("seqssl.evaluate.embedding_map", "plot_embedding_maps", "seqssl.report.embedding_maps"),
])
def test_old_report_import_paths_forward_with_a_deprecation_warning(old, name, new):
    import importlib
    with pytest.warns(DeprecationWarning, match=f"moved to {new}.{name}"):
        found = getattr(importlib.import_module(old), name)
    assert found is getattr(importlib.import_module(new), name)


def test_a_name_that_never_existed_is_an_attribute_error():
    import seqssl.evaluate.report as old
    with pytest.raises(AttributeError):
        old.no_such_function  # noqa: B018


def test_evaluate_does_not_import_report():
    """evaluate sits below report: running a cross-validation's modules loads no report module."""
    import subprocess
    import sys
    code = ("import sys, seqssl.evaluate.crossval, seqssl.evaluate.results, seqssl.evaluate.verdicts; "
            "print(sorted(m for m in sys.modules if m.startswith('seqssl.report')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
