"""Fitness regression on the bundled GB1 data with its own fixed split (`--split column`), the
position-specific k-mer baseline, regression metrics against SciPy / scikit-learn, and the bundled
protein files themselves."""
import fnmatch
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
from scipy import stats
from sklearn.metrics import mean_squared_error

from conftest import run_cli
from seqssl.data.builtin import BUILTIN, builtin_path
from seqssl.data.formats.readers import read_table
from seqssl.data.splits import column_split
from seqssl.errors import InputError
from seqssl.metrics import regression_metrics
from seqssl.transfer.kmer import KmerFeatures

TINY = "model: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}\nfinetune: {head_hidden: 16}\n"
PROTEIN_FILES = ["flip_gb1_three_vs_rest", "flip_gb1_low_vs_high", "flip_conservation_sequences",
                 "flip_conservation_labels"]


@pytest.fixture(scope="module")
def gb1_frame():
    return pd.read_csv(builtin_path("flip_gb1_three_vs_rest"), dtype=str, keep_default_na=False)


@pytest.fixture
def gb1_slice(tmp_path, gb1_frame):
    """40 train, 12 validation and 30 test rows of GB1 three_vs_rest."""
    f = gb1_frame
    parts = [f[(f.set == "train") & (f.validation == "")].iloc[:40], f[f.validation == "True"].iloc[:12],
             f[f.set == "test"].iloc[:30]]
    path = tmp_path / "gb1.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def test_bundled_protein_files_ship_and_read():
    for name in PROTEIN_FILES:
        assert builtin_path(name).is_file(), name
    gb1 = read_table(builtin_path("flip_gb1_three_vs_rest"))
    assert list(gb1.frame.columns) == ["sequence", "target", "set", "validation"] and len(gb1) == 8733
    seqs = read_table(builtin_path("flip_conservation_sequences"))
    labels = read_table(builtin_path("flip_conservation_labels"))
    assert len(seqs) == len(labels) == 1500 and seqs.frame["id"].tolist() == labels.frame["id"].tolist()
    assert (seqs.frame["sequence"].str.len() == labels.frame["sequence"].str.len()).all()
    assert seqs.frame["sequence"].str.len().max() <= 250
    assert sum(builtin_path(n).stat().st_size for n in PROTEIN_FILES) < 1_000_000
    # the wheel's package data covers every bundled file, the licence and DATA.md
    globs = tomllib.loads(Path(__file__).parents[1].joinpath("pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["seqssl.data.builtin"]
    for name in [BUILTIN[n] for n in PROTEIN_FILES] + ["LICENSE_FLIP", "DATA.md"]:
        assert any(fnmatch.fnmatch(name, g) for g in globs), name
    assert "AFL-3.0" in builtin_path("flip_gb1_three_vs_rest").with_name("LICENSE_FLIP").read_text()


def test_gb1_varies_only_at_four_sites(gb1_frame):
    grid = np.array([list(s) for s in gb1_frame["sequence"]])
    varying = [i + 1 for i in range(grid.shape[1]) if len(set(grid[:, i])) > 1]
    assert grid.shape[1] == 265 and varying == [39, 40, 41, 54]


def test_regression_metrics_match_scipy_and_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(size=80)
    p = 0.5 * y + rng.normal(size=80)
    m = regression_metrics(y, p)
    assert m["spearman"] == pytest.approx(stats.spearmanr(y, p).statistic)
    assert m["pearson"] == pytest.approx(stats.pearsonr(y, p).statistic)
    assert m["mse"] == pytest.approx(mean_squared_error(y, p))


def test_kmer_adds_position_one_hot_only_for_one_length():
    f = KmerFeatures(max_k=1).fit([("ACA",), ("ACC",)])
    assert f.positions is not None
    x = f.positions.transform(["ACC", "CA"]).toarray()  # alphabet A, C; 3 positions
    np.testing.assert_array_equal(x, [[1, 0, 0, 1, 0, 1], [0, 1, 1, 0, 0, 0]])
    assert KmerFeatures(max_k=1).fit([("ACA",), ("AC",)]).positions is None


def test_column_split_reads_train_test_and_validation(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("s,set,v\nA,train,\nC,Train,True\nD,test,\nE,valid,\nF,train,False\n")
    table = read_table(path)
    train, val, test = column_split(table, "set", "v")
    assert train.tolist() == [0, 4] and test.tolist() == [2] and val.tolist() == [1, 3]
    train, val, test = column_split(table, "set")
    assert train.tolist() == [0, 1, 4] and val.tolist() == [3]
    path.write_text("s,set\nA,train\nC,test\nD,holdout\n")
    with pytest.raises(InputError, match=r"line 4.*split value 'holdout' is not train, test \(or test:NAME\) or valid"):
        column_split(read_table(path), "set")
    path.write_text("s,set\nA,train\nC,test:cb513\nD,TEST:ts115\n")  # named test sets are test rows
    assert column_split(read_table(path), "set").test.tolist() == [1, 2]
    path.write_text("s,set,v\nA,train,\nC,test,True\n")
    with pytest.raises(InputError, match="a test row is marked as validation"):
        column_split(read_table(path), "set", "v")


def test_crossval_regression_on_gb1_fixed_split(gb1_slice, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "cv"
    args = ["crossval", "--data", str(gb1_slice), "--columns", "sequence", "--label-column", "target",
            "--task", "regression", "--arms", "none,kmer", "--split", "column", "--split-column", "set",
            "--validation-column", "validation", "--too-long", "truncate", "--max-steps", "2",
            "--batch-size", "16", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out), "--quiet"]
    assert run_cli(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["split"] == "column" and results["n_folds"] == 1 and results["split_column"] == "set"
    assert results["leakage"][0]["train"] == 40 and results["leakage"][0]["val"] == 12
    assert results["leakage"][0]["test"] == 30 and results["leakage"][0]["val_from"] == "column"
    for arm in ("none", "kmer"):
        fold = results["arms"][arm]["folds"][0]
        assert np.isfinite(fold["mse"]) and fold["spearman"] is not None and np.isfinite(fold["pearson"])
    assert results["arms"]["kmer"]["runs"][0]["position_features"] is True
    preds = pd.read_csv(out / "predictions.csv")
    assert list(preds.columns) == ["row", "fold", "arm", "y_true", "y_score"] and len(preds) == 2 * 30
    kmer = preds[preds.arm == "kmer"]
    assert results["arms"]["kmer"]["folds"][0]["spearman"] == pytest.approx(
        stats.spearmanr(kmer.y_true, kmer.y_score).statistic)
    report = (out / "report.md").read_text()
    assert "1 fold," in report and "Fixed split from column `set`" in report and "not cross-validation" in report


def test_split_column_without_column_split_is_refused(gb1_slice, tmp_path, capsys):
    args = ["crossval", "--data", str(gb1_slice), "--columns", "sequence", "--label-column", "target",
            "--task", "regression", "--arms", "kmer", "--split", "random", "--split-column", "set",
            "--too-long", "truncate", "--out", str(tmp_path / "o"), "--quiet"]
    assert run_cli(args) == 2
    assert "--split-column is used by --split column" in capsys.readouterr().err
