"""A fine-tuned model applied to new data (``seqssl predict``), and the notebook API (``seqssl.embed`` on a list,
``seqssl.predict`` on a DataFrame)."""
import json

import numpy as np
import pandas as pd
import pytest

import seqssl
from conftest import run_cli
from seqssl.errors import InputError
from tiny_models import esm_directory

PAIR = ["--columns", "cdr3_b_aa,peptide", "--label-column", "label"]


def _finetune(data, out, *extra):
    assert run_cli(["finetune", "--data", str(data), *PAIR, "--split-column", "split", "--epochs", "2",
                    "--out", str(out), "--quiet", *extra]) == 0


@pytest.fixture
def split_binding_csv(tmp_path, small_binding_csv):
    """The 240 binding rows with a train/test column, so finetune scores a test split it also saves."""
    frame = pd.read_csv(small_binding_csv, dtype=str)
    frame["split"] = np.where(np.arange(len(frame)) % 4 == 0, "test", "train")
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    path = tmp_path / "binding_split.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mode", ["full", "lora", "probe", "probe-mlp", "per-value", "knn", "prototype"])
def test_predict_reproduces_finetunes_own_test_scores(split_binding_csv, tmp_path, mode):
    """``seqssl predict`` on the test rows gives, row by row, the scores ``finetune`` computed for its test
    metrics: the directory holds everything the model needs."""
    from sklearn.metrics import roc_auc_score

    from seqssl.transfer.modes import Fitted
    model = tmp_path / "model"
    scored = []  # what the fine-tuned model scored in the run: the validation rows, then the test rows
    real_score = Fitted.score
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Fitted, "score", lambda self, data: scored.append(real_score(self, data)) or scored[-1])
        _finetune(split_binding_csv, model, "--mode", mode)
    manifest = json.loads((model / "seqssl_model.json").read_text())
    assert manifest["task"] == "pair-classification" and manifest["mode"] == mode
    assert manifest["columns"] == ["cdr3_b_aa", "peptide"]
    frame = pd.read_csv(split_binding_csv, dtype=str)
    test = frame[frame.split == "test"].drop(columns=["label"])
    labels = frame[frame.split == "test"].label.astype(float).to_numpy()
    assert len(scored) == 2 and len(scored[1]) == len(test)
    original = np.asarray(scored[1], dtype=float)
    # the scores captured are those behind the recorded test AUROC (scikit-learn's on them)
    recorded = json.loads((model / "metrics.json").read_text())["test"]["auroc"]
    assert roc_auc_score(labels, original) == pytest.approx(recorded, abs=1e-9)
    out = tmp_path / "predictions.csv"
    assert run_cli(["predict", "--model", str(model), "--data", str(_write(test, tmp_path / "new.csv")),
                    "--out", str(out)]) == 0
    predicted = pd.read_csv(out)
    assert predicted["id"].tolist() == test["id"].tolist()
    assert np.allclose(predicted.y_score.to_numpy(), original, rtol=1e-5, atol=1e-6), \
        np.abs(predicted.y_score.to_numpy() - original).max()


def _write(frame, path):
    frame.to_csv(path, index=False)
    return path


def test_python_predict_takes_a_dataframe_and_checks_its_rows(split_binding_csv, tmp_path):
    model = tmp_path / "model"
    _finetune(split_binding_csv, model, "--mode", "full")
    frame = pd.read_csv(split_binding_csv, dtype=str)
    renamed = frame.rename(columns={"cdr3_b_aa": "cdr3", "peptide": "epitope"}).iloc[:10]
    from_frame = seqssl.predict(model, renamed, columns=["cdr3", "epitope"])
    from_file = seqssl.predict(model, split_binding_csv).iloc[:10]
    np.testing.assert_allclose(from_frame.y_score, from_file.y_score, rtol=1e-6)
    bad = renamed.copy()
    bad.loc[3, "cdr3"] = "CASS1LG"
    with pytest.raises(InputError, match="line 4"):
        seqssl.predict(model, bad, columns=["cdr3", "epitope"])
    with pytest.raises(InputError, match="not a fine-tuned seqssl model"):
        seqssl.predict(model / "encoder", renamed, columns=["cdr3", "epitope"])


def test_embed_from_python_equals_the_cli_parquet(tmp_path):
    """``seqssl.embed(list, encoder=...)`` returns what ``seqssl embed`` writes, for a transformers model too."""
    esm_directory(tmp_path / "esm")
    sequences = ["CASSLGQAYEQYF", "CASSPDRGEQYF", "CSARDRTGNGYTF"]
    vectors = seqssl.embed(sequences, encoder=tmp_path / "esm")
    data = _write(pd.DataFrame({"id": ["a", "b", "c"], "cdr3": sequences}), tmp_path / "seqs.csv")
    out = tmp_path / "emb.parquet"
    assert run_cli(["embed", "--encoder", str(tmp_path / "esm"), "--data", str(data), "--columns", "cdr3",
                    "--out", str(out)]) == 0
    written = pd.read_parquet(out)
    assert written["id"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(written.filter(like="emb_").to_numpy(), vectors)
    assert vectors.shape == (3, 32)


def test_the_api_is_listed_and_typed():
    from pathlib import Path
    assert {"embed", "predict", "finetune", "crossval", "pretrain"} <= set(seqssl.__all__)
    assert "predict" in dir(seqssl) and seqssl.predict.__doc__
    assert (Path(seqssl.__file__).parent / "py.typed").exists()


@pytest.mark.parametrize("kind", ["seqssl", "roberta", "regression"])
def test_classifier_head_loads_as_a_transformers_sequence_classifier(split_binding_csv, tmp_path, kind):
    """``--head classifier``: ``classifier/`` loads with AutoModelForSequenceClassification and its softmax gives
    seqssl predict's probabilities (a seqssl BERT encoder; a RoBERTa with its own BPE tokenizer on SMILES)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    if kind == "seqssl":
        data, columns, encoder = split_binding_csv, ["cdr3_b_aa", "peptide"], "none"
        extra = ["--columns", "cdr3_b_aa,peptide", "--label-column", "label", "--split-column", "split"]
    elif kind == "regression":  # GB1 fitness: the targets' standardisation is folded into the output layer
        from seqssl.data.builtin import builtin_path
        frame = pd.read_csv(builtin_path("flip_gb1_low_vs_high")).sample(120, random_state=0)
        data, columns, encoder = _write(frame, tmp_path / "gb1.csv"), ["sequence"], "none"
        extra = ["--columns", "sequence", "--label-column", "target", "--task", "regression"]
    else:
        from seqssl.data.builtin import builtin_path
        from tiny_models import roberta_smiles_directory
        frame = pd.read_csv(builtin_path("bbbp")).sample(120, random_state=0)
        data, columns = _write(frame, tmp_path / "bbbp.csv"), ["smiles"]
        encoder = str(tmp_path / "chemberta")
        roberta_smiles_directory(tmp_path / "chemberta", frame.smiles.tolist())
        extra = ["--columns", "smiles", "--label-column", "BBBP", "--task", "classification"]
    model = tmp_path / "model"
    assert run_cli(["finetune", "--data", str(data), *extra, "--encoder", encoder, "--head", "classifier",
                    "--pooling", "cls", "--epochs", "2", "--out", str(model), "--quiet"]) == 0
    frame = pd.read_csv(data, dtype=str).iloc[:12]
    ours = seqssl.predict(model, frame).y_score.to_numpy()
    classifier = AutoModelForSequenceClassification.from_pretrained(str(model / "classifier")).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model / "classifier"))
    inputs = tokenizer(*[frame[c].tolist() for c in columns], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = classifier(**inputs).logits
    theirs = logits[:, 0].numpy() if kind == "regression" else logits.softmax(-1)[:, 1].numpy()
    np.testing.assert_allclose(theirs, ours, atol=1e-4)


def test_finetune_and_crossval_take_a_dataframe(small_binding_csv, tmp_path):
    """The API takes a DataFrame wherever the CLI takes --data; the run keeps what it read as data.parquet, and a
    bad row is named."""
    frame = pd.read_csv(small_binding_csv, dtype=str)
    cfg = seqssl.load_config(overrides={"data": {"columns": ["cdr3_b_aa", "peptide"], "label_column": "label"},
                                        "finetune": {"epochs": 1}, "out": str(tmp_path / "ft"), "quiet": True})
    model = seqssl.finetune(cfg, data=frame)
    assert pd.read_parquet(model / "data.parquet").equals(frame)
    assert len(seqssl.predict(model, frame.iloc[:5])) == 5
    cv = seqssl.load_config(overrides={"data": {"columns": ["cdr3_b_aa", "peptide"], "label_column": "label"},
                                       "crossval": {"arms": ["kmer"], "folds": 2}, "out": str(tmp_path / "cv"),
                                       "quiet": True})
    assert set(seqssl.crossval(cv, data=frame)["arms"]) == {"kmer", "kmer[per-value]"}
    bad = frame.copy()
    bad.loc[6, "label"] = "maybe"
    with pytest.raises(InputError, match="data.parquet.*line 7"):
        seqssl.crossval(replace_out(cv, tmp_path / "cv2"), data=bad)


def replace_out(cfg, out):
    from dataclasses import replace
    return replace(cfg, out=str(out))
