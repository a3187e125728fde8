"""Positives from shared labels and neighbouring chunks; retrieval top-k; label-positive pretraining."""
import json

import numpy as np
import pandas as pd

from conftest import run_cli
from seqssl.data.builtin import builtin_path
from seqssl.data.positives import label_batches, neighbour_chunks, partner_within_label
from seqssl.evaluate.retrieval import top_k_accuracy


def test_label_batches_are_p_by_k_and_skip_unlabelled():
    groups = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 1 + [-1] * 5)
    batches = label_batches(groups, per_label=4, batch_size=12, rng=np.random.default_rng(0))
    assert batches
    for b in batches:
        labels, counts = np.unique(groups[b], return_counts=True)
        assert len(labels) == len(b) // 4 or len(labels) <= 3
        assert (counts >= 2).all() and -1 not in labels and 3 not in labels
    used = np.concatenate(batches)
    assert len(used) == len(set(used.tolist()))  # no entry twice in one epoch


def test_partner_shares_the_label_and_is_not_itself():
    groups = np.array([5, 7, 5, 7, 5])
    partner = partner_within_label(groups)
    assert (groups[partner] == groups).all() and (partner != np.arange(5)).all()


def test_neighbour_chunks_respect_length_and_separation():
    seq = np.arange(1000)
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = neighbour_chunks(seq, 50, 10, 30, rng)
        assert len(a) == len(b) == 50
        assert 10 <= abs(int(a[0]) - int(b[0])) <= 30


def test_top_k_accuracy_matches_brute_force():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))
    k[:10] = q[:10] + 0.01 * rng.normal(size=(10, 8))  # first ten are easy matches
    res = top_k_accuracy(q, k, [1, 5])
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    kn = k / np.linalg.norm(k, axis=1, keepdims=True)
    rows = [qn[i] @ kn.T for i in range(30)]
    ranks = [int(np.sum(np.delete(r, i) >= r[i])) for i, r in enumerate(rows)]
    assert res["top_1"] == np.mean(np.array(ranks) < 1) and res["top_5"] == np.mean(np.array(ranks) < 5)
    assert res["top_1"] >= 10 / 30 and res["random_top_5"] == 5 / 30


def test_pretrain_with_epitope_positives_then_retrieval(tmp_path, capsys):
    epitopes = builtin_path("mira_binding").parent / "mira_epitopes"
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(epitopes), "--columns", "cdr3_b_aa", "--objective", "infonce",
                    "--positives", "label", "--pretrain-label-column", "epitope", "--max-steps", "3",
                    "--batch-size", "32", "--out", str(enc), "--quiet"]) == 0, capsys.readouterr().err
    history = pd.read_csv(enc / "pretrain_history.csv")
    assert np.isfinite(history["loss"]).all()
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"a": ["CASSLGQAYEQYF", "CASSPDRGNTIYF", "CAWSV"],
                  "b": ["CASSLGQAYEQYF", "CASSPDRGNTIYF", "CAWSV"]}).to_csv(pairs, index=False)
    out = tmp_path / "r.json"
    assert run_cli(["evaluate", "retrieval", "--encoder", str(enc), "--data", str(pairs), "--query-column", "a",
                    "--key-column", "b", "--k", "1,2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["top_1"] == 1.0  # identical query and key always rank first
    assert "top-1: 1.000" in capsys.readouterr().out


def test_misspelt_view_is_refused(tmp_path, small_corpus_csv, capsys):
    code = run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--view", "blossom",
                    "--out", str(tmp_path / "e"), "--quiet"])
    assert code == 2 and "unknown pretrain.view 'blossom'" in capsys.readouterr().err
