"""End-to-end molecules: `seqssl crossval` with SMILES transformers, graph networks and fingerprints on real
BBBP and BELKA-format rows; scaffold folds, invalid SMILES, multilabel MAP, BCE vs focal."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from crossval_checks import check_binary_metrics_against_predictions
from seqssl.data.builtin import builtin_path
from seqssl.data.molecules import murcko_scaffold


@pytest.fixture(scope="module")
def bbbp_slice(tmp_path_factory):
    """300 real BBBP rows, including two SMILES RDKit cannot parse."""
    frame = pd.read_csv(builtin_path("bbbp"))
    from rdkit import Chem, RDLogger
    RDLogger.DisableLog("rdApp.*")
    bad = frame[[Chem.MolFromSmiles(s) is None for s in frame.smiles]].iloc[:2]
    good = frame.drop(bad.index).sample(298, random_state=0)
    path = tmp_path_factory.mktemp("bbbp") / "bbbp.csv"
    pd.concat([good.iloc[:100], bad, good.iloc[100:]]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def moses_slice(tmp_path_factory):
    path = tmp_path_factory.mktemp("moses") / "moses.csv"
    pd.read_csv(builtin_path("moses")).iloc[:400].to_csv(path, index=False)
    return path


def _args(data, corpus, out, *extra):
    return ["crossval", "--data", str(data), "--columns", "smiles", "--label-column", "BBBP",
            "--task", "classification", "--alphabet", "smiles", "--split", "scaffold", "--folds", "3",
            "--pretrain-data", str(corpus), "--pretrain-columns", "SMILES", "--max-steps", "3",
            "--epochs", "2", "--batch-size", "32", "--too-long", "truncate", "--out", str(out), "--quiet", *extra]


def test_invalid_smiles_named_by_file_line_and_rdkit_reason(bbbp_slice, moses_slice, tmp_path, capsys):
    code = run_cli(_args(bbbp_slice, moses_slice, tmp_path / "cv", "--arms", "none,ecfp"))
    assert code == 2
    err = capsys.readouterr().err
    assert str(bbbp_slice) in err and "line 102" in err and "column 'smiles'" in err
    assert "--invalid-smiles skip" in err


def test_molecule_crossval_table_with_graph_arms_and_scaffold_folds(bbbp_slice, moses_slice, tmp_path):
    out = tmp_path / "cv"
    assert run_cli(_args(bbbp_slice, moses_slice, out, "--arms", "none,mlm,gcn,gat,ecfp,kmer",
                         "--invalid-smiles", "skip")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["invalid_smiles_skipped"] == 2 and results["split"] == "scaffold"
    assert list(results["arms"]) == ["none", "mlm", "gcn", "gat", "ecfp", "kmer"]
    for arm in ("none", "mlm", "gcn", "gat"):
        for run in results["arms"][arm]["runs"]:
            assert run["batch_size"] == 32 and run["epoch_seconds"] > 0 and run["peak_memory_mb"] > 0
    assert check_binary_metrics_against_predictions(out) == 3 * 6  # each fold's metrics: scikit-learn's
    # scaffold folds: no Murcko scaffold in two test folds (each molecule is tested once)
    predictions = pd.read_csv(out / "predictions.csv")
    kept = pd.read_csv(bbbp_slice).drop(index=[100, 101]).reset_index(drop=True)
    tested = predictions[predictions.arm == "gcn"]
    assert sorted(tested.row) == list(range(len(kept)))
    scaffolds = kept.smiles.map(murcko_scaffold)
    per_fold = tested.groupby("fold").row.apply(lambda rows: set(scaffolds[rows]) - {""})
    for a in per_fold.index:
        for b in per_fold.index:
            assert a == b or not (per_fold[a] & per_fold[b])
    report = (out / "report.md").read_text()
    assert "2 rows skipped" in report and "## Run table" in report and "peak memory (MB)" in report
    assert "![embedding_map.png](embedding_map.png)" in report and (out / "embedding_map.png").stat().st_size > 0
    assert all("embedding_map" not in run for arm in results["arms"].values() for run in arm["runs"])
    part = json.loads((out / "parts" / "fold_0" / "mlm.json").read_text())["info"]["embedding_map"]
    assert len(part["x"]) == len(part["label"]) == len(tested[tested.fold == 0])  # fold 0's test molecules
    assert {"ecfp"} <= {c["baseline"] for c in results["comparisons"]}


def test_belka_long_layout_as_multilabel_with_focal_loss(tmp_path):
    frame = pd.read_csv(builtin_path("belka_sample"))
    binders = frame[frame.binds == 1]
    rows = pd.concat([binders, frame[frame.binds == 0].sample(240, random_state=0)]).sample(frac=1, random_state=1)
    data = tmp_path / "belka.csv"
    rows.to_csv(data, index=False)
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(data), "--columns", "molecule_smiles", "--label-column", "binds",
                    "--target-column", "protein_name", "--task", "multilabel", "--alphabet", "smiles",
                    "--arms", "none,gcn,ecfp", "--folds", "2", "--split", "stratified", "--epochs", "2",
                    "--batch-size", "64", "--max-length", "128", "--loss", "focal", "--focal-gamma", "2",
                    "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["targets"] == ["BRD4", "HSA", "sEH"] and results["primary_metric"] == "map"
    assert results["config"]["finetune"]["loss"] == "focal"
    for arm in results["arms"].values():
        for fold in arm["folds"]:
            per_target = [fold[f"average_precision@{t}"] for t in results["targets"]]
            defined = [v for v in per_target if v is not None]
            assert fold["map"] == pytest.approx(np.mean(defined))
    predictions = pd.read_csv(out / "predictions.csv")
    assert set(predictions.target) == {"BRD4", "HSA", "sEH"}
    assert len(predictions[predictions.arm == "gcn"]) == len(rows)  # one measured pair per input row


def test_graph_arms_take_the_simple_atom_feature_set(bbbp_slice, moses_slice, tmp_path):
    out = tmp_path / "cv"
    assert run_cli(_args(bbbp_slice, moses_slice, out, "--arms", "gcn", "--atom-features", "simple",
                         "--invalid-smiles", "skip")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["crossval"]["gcn"]["atom_features"] == "simple" and "gcn" in results["arms"]
    assert run_cli(_args(bbbp_slice, moses_slice, tmp_path / "bad", "--arms", "gcn", "--atom-features",
                         "complex")) == 2
