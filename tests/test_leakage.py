"""The leakage report on a hand-made split, and --remove-duplicates end to end."""
import json

import numpy as np
import pandas as pd

from conftest import run_cli
from seqssl.evaluate.leakage import duplicate_report, sequence_key


def test_duplicate_report_on_a_hand_made_split():
    rows = [("CASSA", "GILGFVFTL"), ("CASSB", "NLVPMVATV"), ("cassa", "NLVPMVATV"),   # train
            ("CASSA", "GILGFVFTL"), ("CASSA", "KLGGALQAK"), ("CASSC", "NLVPMVATV"), ("CASSB", "nlvpmvatv")]  # test
    counts, exact = duplicate_report(rows, np.arange(3), np.arange(3, 7), columns=["cdr3", "peptide"])
    assert counts == {"test_sequences_in_train@cdr3": 3, "test_sequences_in_train@peptide": 3,
                      "test_pairs_in_train": 2}
    assert exact.tolist() == [True, False, False, True]
    single, exact = duplicate_report([("AAC",), ("GGT",), ("aac",), ("TTT",)], np.array([0, 1]), np.array([2, 3]))
    assert single == {"test_sequences_in_train": 1} and exact.tolist() == [True, False]


def test_molecules_compare_as_canonical_smiles():
    rows = [("OCC",), ("CCO",), ("c1ccccc1",)]
    counts, exact = duplicate_report(rows, np.array([0]), np.array([1, 2]), sequence_key(True))
    assert counts == {"test_sequences_in_train": 1} and exact.tolist() == [True, False]


def test_remove_duplicates_drops_exact_duplicates_from_the_test_folds(tmp_path, small_binding_csv):
    frame = pd.read_csv(small_binding_csv)
    doubled = pd.concat([frame, frame.iloc[:30]], ignore_index=True)  # 30 exact duplicate rows
    data = tmp_path / "dup.csv"
    doubled.to_csv(data, index=False)
    args = ["crossval", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--task", "pair-classification", "--arms", "kmer", "--folds", "2", "--split", "stratified",
            "--quiet"]
    assert run_cli([*args, "--out", str(tmp_path / "kept")]) == 0
    assert run_cli([*args, "--out", str(tmp_path / "removed"), "--remove-duplicates"]) == 0
    kept = json.loads((tmp_path / "kept" / "results.json").read_text())
    removed = json.loads((tmp_path / "removed" / "results.json").read_text())
    pairs = [f["test_pairs_in_train"] for f in kept["leakage"]]
    assert sum(pairs) >= 1 and all(f["removed_from_test"] == 0 for f in kept["leakage"])
    assert [f["removed_from_test"] for f in removed["leakage"]] == pairs
    assert [f["test"] for f in removed["leakage"]] == [f["test"] - p for f, p in zip(kept["leakage"], pairs)]
    preds = pd.read_csv(tmp_path / "removed" / "predictions.csv")
    assert len(preds) == 2 * (len(doubled) - sum(pairs))  # kmer and kmer[per-value], one row per test example
    assert "test_pairs_in_train" in (tmp_path / "removed" / "report.md").read_text()
