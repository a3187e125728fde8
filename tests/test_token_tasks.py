"""Per-residue labels (token-classification): reading both input forms, alignment with tokens, the
masked loss, the metrics, the window baseline, and `crossval` / `finetune` end to end."""
import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from conftest import run_cli
from seqssl.api import labelled_table
from seqssl.config import load_config
from seqssl.data.builtin import builtin_path
from seqssl.data.collate import iterate_batches
from seqssl.data.dataset import IGNORE_INDEX
from seqssl.data.tokenizers import CLS_ID, PAD_ID, SEP_ID
from seqssl.losses import token_cross_entropy
from seqssl.metrics import token_metrics
from seqssl.transfer.window import window_features

TINY = "model: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}\nfinetune: {head_hidden: 16}\n"


def _cfg(**data):
    return load_config(overrides={"data": {"task": "token-classification", **data}})


def _records(name):
    lines = gzip.open(builtin_path(name), "rt").read().splitlines()
    return list(zip(lines[0::2], lines[1::2]))


@pytest.fixture(scope="module")
def conservation_slice(tmp_path_factory):
    """26 records of the bundled conservation files: 16 train, 4 validation and 6 test proteins."""
    tmp = tmp_path_factory.mktemp("cons")
    labels = _records("flip_conservation_labels")
    quota = {"SET=train VALIDATION=False": 16, "SET=train VALIDATION=True": 4, "SET=test VALIDATION=False": 6}
    keep = []
    for header, _ in labels:
        stratum = header.split(" ", 1)[1]
        if quota[stratum]:
            quota[stratum] -= 1
            keep.append(header.split()[0][1:])
    for name, out in (("flip_conservation_sequences", "seq.fasta"), ("flip_conservation_labels", "lab.fasta")):
        chosen = [(h, s) for h, s in _records(name) if h.split()[0][1:] in keep]
        (tmp / out).write_text("".join(f"{h}\n{s}\n" for h, s in chosen))
    return tmp


def _records_of(path):
    lines = path.read_text().splitlines()
    return list(zip(lines[0::2], lines[1::2]))


def test_label_column_form_aligns_with_tokens_and_truncates(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,seq,lab\na,ACDE,HE.H\nb,KLMNPQ,..EEHH\n")
    cfg = _cfg(path=str(path), columns=["seq"], label_column="lab", too_long="truncate")
    cfg.model.max_length = 6  # 4 residues + [CLS] + [SEP]
    _, _, enc, _ = labelled_table(cfg)
    assert enc.meta["classes"] == ["E", "H"] and enc.labels is None
    np.testing.assert_array_equal(enc.token_labels[0], [IGNORE_INDEX, 1, 0, IGNORE_INDEX, 1, IGNORE_INDEX])
    # the 6-residue sequence is cut to 4 residues and so are its labels
    np.testing.assert_array_equal(enc.token_labels[1], [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 0, 0, IGNORE_INDEX])
    assert enc.input_ids[1][-1] == SEP_ID and len(enc.input_ids[1]) == 6
    np.testing.assert_array_equal(enc.targets(), [1, 0, 1, 0, 0])
    example, position = enc.target_positions()
    np.testing.assert_array_equal(example, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(position, [1, 2, 4, 3, 4])
    _, batch = next(iterate_batches(enc, 8))
    assert batch["token_labels"].shape == batch["input_ids"].shape


def test_fasta_form_matches_by_id_and_keeps_header_fields(tmp_path):
    (tmp_path / "s.fasta").write_text(">p1 first\nACDE\nFG\n>p2\nKLM\n")
    (tmp_path / "l.fasta").write_text(">p2 SET=test VALIDATION=False\n9.1\n>p1 SET=train VALIDATION=True\n111\n999\n")
    cfg = _cfg(path=str(tmp_path / "s.fasta"), token_labels=str(tmp_path / "l.fasta"))
    table, rows, enc, _ = labelled_table(cfg)
    assert rows == [("ACDEFG",), ("KLM",)] and enc.meta["classes"] == ["1", "9"]
    assert table.frame["SET"].tolist() == ["train", "test"] and table.frame["VALIDATION"].tolist() == ["True", "False"]
    np.testing.assert_array_equal(enc.targets(), [0, 0, 0, 1, 1, 1, 1, 0])


def test_bundled_conservation_slice_reads(conservation_slice):
    cfg = _cfg(path=str(conservation_slice / "seq.fasta"), token_labels=str(conservation_slice / "lab.fasta"),
               too_long="truncate")
    table, rows, enc, _ = labelled_table(cfg)
    assert len(enc) == 26 and enc.meta["classes"] == list("123456789")
    assert table.frame["SET"].value_counts().to_dict() == {"train": 20, "test": 6}
    assert all(len(t) == len(i) for t, i in zip(enc.token_labels, enc.input_ids))


def test_fixed_classes_refuse_other_characters(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("seq,lab\nACDE,HEXH\n")
    from seqssl.errors import InputError
    with pytest.raises(InputError, match="label 'X' at residue 3 of row 1 is not one of the classes EH"):
        labelled_table(_cfg(path=str(path), columns=["seq"], label_column="lab", token_classes="EH"))


def test_token_loss_ignores_padding_specials_and_unlabelled():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 3, requires_grad=True)
    labels = torch.tensor([[IGNORE_INDEX, 2, IGNORE_INDEX, 0, IGNORE_INDEX],
                           [IGNORE_INDEX, 1, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]])
    loss = token_cross_entropy(logits, labels)
    logp = F.log_softmax(logits.detach(), -1)
    hand = -(logp[0, 1, 2] + logp[0, 3, 0] + logp[1, 1, 1]) / 3
    assert loss.item() == pytest.approx(hand.item(), rel=1e-6)
    loss.backward()  # no gradient reaches ignored positions
    assert logits.grad[0, 0].abs().sum() == 0 and logits.grad[1, 2:].abs().sum() == 0
    empty = token_cross_entropy(logits, torch.full((2, 5), IGNORE_INDEX))
    assert empty.item() == 0.0 and empty.requires_grad


def test_token_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    prob = rng.random((300, 4))
    prob[np.arange(300), y] += rng.random(300)  # better than chance
    pred = prob.argmax(1)
    m = token_metrics(y, prob)
    assert m["per_residue_accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["per_residue_balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["per_residue_macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert token_metrics(np.zeros(0), np.zeros((0, 4)))["per_residue_accuracy"] is None


def test_window_features_are_one_hot_tokens_around_each_residue(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("seq,lab\nACD,1.2\n")
    _, _, enc, tok = labelled_table(_cfg(path=str(path), columns=["seq"], label_column="lab"))
    x = window_features(enc, 1, tok.vocab_size).toarray()
    v, a, c, d = tok.vocab_size, tok.vocab["A"], tok.vocab["C"], tok.vocab["D"]
    assert x.shape == (2, 3 * v) and (x.sum(1) == 3).all()
    assert x[0, CLS_ID] == x[0, v + a] == x[0, 2 * v + c] == 1  # residue 1: [CLS] A C
    assert x[1, c] == x[1, v + d] == x[1, 2 * v + SEP_ID] == 1  # residue 3: C D [SEP]
    assert PAD_ID == 0


def test_crossval_token_classification_end_to_end(conservation_slice, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "cv"
    args = ["crossval", "--data", str(conservation_slice / "seq.fasta"), "--token-labels",
            str(conservation_slice / "lab.fasta"), "--task", "token-classification", "--arms", "none,kmer",
            "--folds", "2", "--group-column", "id", "--max-steps", "2", "--batch-size", "8", "--too-long",
            "truncate", "--max-length", "64", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out),
            "--quiet"]
    assert run_cli(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["primary_metric"] == "per_residue_accuracy" and results["classes"] == list("123456789")
    assert results["split"] == "grouped"
    for arm in ("none", "kmer"):
        for fold in results["arms"][arm]["folds"]:
            assert all(np.isfinite(fold[m]) for m in ("per_residue_accuracy", "per_residue_balanced_accuracy",
                                                      "per_residue_macro_f1"))
    preds = pd.read_csv(out / "predictions.csv", dtype={"y_true": str, "y_pred": str})
    assert list(preds.columns) == ["row", "position", "fold", "arm", "y_true", "y_pred", "y_score"]
    # one row per labelled residue of each test protein (at most 62 residues kept of each), for each arm
    kept = sum(len(s[:62].replace(".", "")) for _, s in _records_of(conservation_slice / "lab.fasta"))
    assert len(preds) == 2 * kept and set(preds["y_true"]) <= set("123456789")
    assert preds["position"].between(1, 62).all()
    kmer = preds[preds.arm == "kmer"]
    acc = results["arms"]["kmer"]["folds"][0]["per_residue_accuracy"]
    fold0 = kmer[kmer.fold == 0]
    assert acc == pytest.approx((fold0.y_true == fold0.y_pred).mean())
    assert "per_residue_accuracy" in (out / "report.md").read_text()


def test_finetune_token_classification_with_fixed_split(conservation_slice, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "ft"
    args = ["finetune", "--data", str(conservation_slice / "seq.fasta"), "--token-labels",
            str(conservation_slice / "lab.fasta"), "--task", "token-classification", "--split-column", "SET",
            "--epochs", "1", "--too-long", "truncate", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out),
            "--quiet"]
    assert run_cli(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == list("123456789")
    assert 0 <= metrics["validation"]["per_residue_accuracy"] <= 1 and metrics["n_test"] >= 1
    assert "per_residue_accuracy" in metrics["test"] and (out / "head.safetensors").exists()
    # seqssl predict: one row per residue, reproducing the recorded test accuracy on the test records
    from seqssl.api import predict
    test_ids = [h.split()[0][1:] for h, _ in _records_of(conservation_slice / "lab.fasta") if "SET=test" in h]
    rows = predict(out, conservation_slice / "seq.fasta")
    labels = {h.split()[0][1:]: s for h, s in _records_of(conservation_slice / "lab.fasta")}
    sequences = {h.split()[0][1:]: s for h, s in _records_of(conservation_slice / "seq.fasta")}
    max_residues = json.loads((out / "seqssl_model.json").read_text())["max_length"] - 2
    assert len(rows) == sum(min(len(s), max_residues) for s in sequences.values())
    test = rows[rows["id"].isin(test_ids)]
    truth = np.array([labels[i][p - 1] for i, p in zip(test["id"], test["position"])])
    labelled = truth != "."
    accuracy = float((test["y_pred"].astype(str).to_numpy()[labelled] == truth[labelled]).mean())
    assert accuracy == pytest.approx(metrics["test"]["per_residue_accuracy"], abs=1e-9)
