"""Every script in examples/ runs end to end (quick settings; slow: about a minute each)."""
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


def _run(script: str, *args: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [script, *args])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")


@pytest.mark.slow
def test_tcr_binding_example(tmp_path, monkeypatch, capsys):
    _run("tcr_binding.py", "--out", str(tmp_path), "--quick", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert "per-peptide AUROC" in out and "y_score" in out


@pytest.mark.slow
def test_protein_regression_example_with_a_users_esm_directory(tmp_path, monkeypatch, capsys):
    from tiny_models import esm_directory
    esm_directory(tmp_path / "esm2_tiny")
    _run("protein_regression_esm.py", "--model", str(tmp_path / "esm2_tiny"), "--out", str(tmp_path / "cv"),
         "--quick", monkeypatch=monkeypatch)
    assert "esm2_tiny[lora]" in capsys.readouterr().out


@pytest.mark.slow
def test_molecules_example(tmp_path, monkeypatch, capsys):
    _run("molecules_bbbp.py", "--out", str(tmp_path), "--quick", monkeypatch=monkeypatch)
    assert "moses-mlm " in capsys.readouterr().out  # one mode in the quick run: no [mode] suffix
