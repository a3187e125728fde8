"""--mode prototype (Snell et al. 2017): class means in the frozen embedding, per group where the group has both
classes, scored by the difference of squared distances; checked by hand, through finetune, and in crossval."""
import json

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from conftest import random_binary_pairs, run_cli
from seqssl.tasks import get_task
from seqssl.transfer.prototype import ALL, Prototypes


def test_scores_are_differences_of_squared_distances_to_the_group_or_overall_means():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    labels = np.array([0, 1] * 6)
    groups = np.array(["A"] * 6 + ["B"] * 4 + ["C"] * 2)
    labels[10:] = 1  # group C has positives only: its rows fall back to the overall prototypes
    fitted = Prototypes.fit(x, labels, groups)
    assert set(fitted.means) == {ALL, "A", "B"}
    queries = rng.normal(size=(3, 3))
    got = fitted.scores(queries, ["A", "C", "Z"])
    for row, group in zip(range(3), ["A", "ALL", "ALL"]):
        rows = groups == group if group != "ALL" else np.ones(12, bool)
        negative, positive = x[rows & (labels == 0)].mean(0), x[rows & (labels == 1)].mean(0)
        expected = ((queries[row] - negative) ** 2).sum() - ((queries[row] - positive) ** 2).sum()
        assert np.isclose(got[row], expected)


def test_mode_keeps_the_encoder_and_ranks_by_the_hand_rule():
    from seqssl.config import FinetuneConfig
    from seqssl.models.encoder import embed_dataset
    from seqssl.transfer.modes import fit_in_mode
    encoder, train, val, test = random_binary_pairs()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    fitted = fit_in_mode("prototype", encoder, train, val, FinetuneConfig(), get_task("classification"),
                         device=torch.device("cpu"))
    x_train, x_test = (embed_dataset(encoder, d, torch.device("cpu")) for d in (train, test))
    expected = Prototypes.fit(x_train, train.labels, train.group_keys).scores(x_test, test.group_keys)
    scores = fitted.score(test)
    order = np.argsort(expected)
    assert np.all(np.diff(scores[order]) >= -1e-9)  # Platt scaling is monotone: the same ranking
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items()) and len(before) > 10


def test_finetune_and_crossval_run_the_prototype_mode(tmp_path, small_binding_csv):
    small = tmp_path / "small.yaml"
    small.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n")
    out = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--encoder", "none", "--mode", "prototype", "--config", str(small), "--out", str(out),
                    "--quiet"]) == 0
    assert json.loads((out / "prototypes.json").read_text())["groups"][0] == ALL
    cv = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--arms", "none", "--mode", "prototype", "--folds", "2", "--config", str(small),
                    "--out", str(cv), "--quiet"]) == 0
    results = json.loads((cv / "results.json").read_text())
    predictions = pd.read_csv(cv / "predictions.csv")
    (arm,) = results["arms"]  # one mode: the row is named after the arm alone
    rows = predictions[predictions["arm"] == arm]
    for fold, value in enumerate(results["arms"][arm]["folds"]):
        part = rows[rows["fold"] == fold]
        assert np.isclose(value["auroc"], roc_auc_score(part["y_true"], part["y_score"]))
    assert results["config"]["crossval"]["modes"] == ["prototype"]
    assert results["arms"][arm]["runs"][0]["mode"] == "prototype"


def test_probe_mlp_trains_the_head_only_with_its_own_width_and_dropout(tmp_path, small_binding_csv):
    """--mode probe-mlp: the encoder's weights and outputs do not change, the MLP head (its own width and dropout)
    trains, and the saved model applies to new rows."""
    import json

    from seqssl.models.encoder import load_encoder
    small = tmp_path / "small.yaml"
    small.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n  "
                     "dropout: 0.2\n")
    encoder_dir = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--objective",
                    "mlm", "--max-steps", "2", "--batch-size", "16", "--config", str(small), "--out",
                    str(encoder_dir), "--quiet"]) == 0
    out = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--encoder", str(encoder_dir), "--mode", "probe-mlp", "--head-hidden", "24",
                    "--head-dropout", "0.3", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    before, _ = load_encoder(encoder_dir)
    after, _ = load_encoder(out / "encoder")
    assert all(torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values()))
    manifest = json.loads((out / "seqssl_model.json").read_text())
    assert manifest["mode"] == "probe-mlp" and manifest["head"]["hidden"] == 24 and manifest["head"]["dropout"] == 0.3
    predictions = tmp_path / "p.csv"
    assert run_cli(["predict", "--model", str(out), "--data", str(small_binding_csv), "--out", str(predictions)]) == 0
    scores = pd.read_csv(predictions)["y_score"].to_numpy()
    assert len(np.unique(np.round(scores, 6))) > 10  # the head separates rows
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--encoder", str(encoder_dir), "--mode", "probe-mlp", "--head-dropout", "1.5",
                    "--out", str(tmp_path / "bad"), "--quiet"]) == 2
