"""Multiclass classification: metrics against scikit-learn, labels of any kind, an end-to-end crossval."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from conftest import run_cli
from seqssl.errors import InputError
from seqssl.metrics import multiclass_metrics


def test_multiclass_metrics_equal_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    probs = rng.dirichlet(np.ones(4), 200)
    probs[np.arange(200), y] += 0.3
    probs /= probs.sum(1, keepdims=True)
    got = multiclass_metrics(y, probs)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)))
    assert got["macro_f1"] == pytest.approx(f1_score(y, probs.argmax(1), average="macro"))
    assert got["macro_auroc"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))


def motif_data(path, n=180, seed=0):
    """Three classes named by strings, each planting its own motif in random CDR3-like sequences."""
    rng = np.random.default_rng(seed)
    motifs = {"alpha": "WWW", "beta": "KKK", "gamma": "DDD"}
    rows = []
    for i in range(n):
        label = list(motifs)[i % 3]
        body = "".join(rng.choice(list("ACEFGHILMNPQRSTVY"), 10))
        cut = rng.integers(0, 10)
        rows.append({"sequence": body[:cut] + motifs[label] + body[cut:], "family": label})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_crossval_multiclass_kmer_and_probe(tmp_path):
    data = motif_data(tmp_path / "families.csv")
    out = tmp_path / "cv"
    args = ["crossval", "--data", str(data), "--columns", "sequence", "--label-column", "family",
            "--task", "multiclass", "--arms", "none,kmer", "--mode", "probe", "--folds", "3", "--seed", "0",
            "--out", str(out), "--quiet"]
    assert run_cli(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["primary_metric"] == "accuracy" and results["split"] == "stratified"
    assert results["classes"] == ["alpha", "beta", "gamma"]
    assert results["arms"]["kmer"]["mean"]["accuracy"] > 0.9  # the motif is a 3-mer: k-mers must find it
    predictions = pd.read_csv(out / "predictions.csv")
    assert {"y_pred", "p_alpha", "p_beta", "p_gamma"} <= set(predictions.columns)
    kmer = predictions[predictions["arm"] == "kmer"]
    assert accuracy_score(kmer["y_true"], kmer["y_pred"]) == pytest.approx(
        np.mean([f["accuracy"] for f in results["arms"]["kmer"]["folds"]]), abs=0.05)
    assert (out / "confusion.png").exists()


def test_one_class_is_refused(tmp_path):
    from seqssl.config import load_config
    from seqssl.tasks.labelled import load_labelled
    path = tmp_path / "one.csv"
    path.write_text("sequence,family\nACDE,x\nCDEF,x\n")
    cfg = load_config(None, {"data": {"path": str(path), "columns": ["sequence"], "label_column": "family",
                                      "task": "multiclass"}})
    with pytest.raises(InputError, match="only one class"):
        load_labelled(cfg)
