"""Optional dependencies: a feature that needs a missing extra is a one-line error naming it, before any work."""
import sys

import pytest

from conftest import run_cli
from seqssl.errors import InputError
from seqssl.extras import require


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_geometric", None)  # as if not installed
    with pytest.raises(InputError, match=r"seqssl\[molecules\]"):
        require("torch_geometric", "the gcn arm")


def test_graph_arm_without_the_molecules_extra(small_binding_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    out = tmp_path / "cv"
    code = run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa", "--label-column", "label",
                    "--task", "classification", "--arms", "kmer,gcn", "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "the gcn arm needs the torch_geometric package" in err and "pip install 'seqssl[molecules]'" in err
    assert not out.exists()  # refused before anything was written
