"""Nearest-neighbour arm and mode, per-group metrics: against brute-force references and scikit-learn."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score

from conftest import levenshtein, random_binary_pairs, run_cli
from seqssl.evaluate.results import per_group_metrics
from seqssl.tasks import get_task
from seqssl.transfer.knn import edit_similarity, positive_neighbour_scores


def brute_force_scores(queries, query_groups, references, labels, reference_groups, k):
    """Mean of the k highest 1 - d/max(len) over the same-group training positives (all positives if none)."""
    out = []
    for q, g in zip(queries, query_groups):
        pool = [r for r, y, h in zip(references, labels, reference_groups) if y == 1 and h == g]
        if not pool:
            pool = [r for r, y in zip(references, labels) if y == 1]
        sims = sorted((1 - levenshtein(q, r) / max(len(q), len(r)) for r in pool), reverse=True)
        out.append(np.mean(sims[:k]))
    return np.array(out)


def test_edit_similarity_matches_the_dynamic_programme():
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("ACDEFGHIK"), rng.integers(3, 12))) for _ in range(30)]
    sims = edit_similarity(words[:12], words[12:])
    expected = [[1 - levenshtein(a, b) / max(len(a), len(b)) for b in words[12:]] for a in words[:12]]
    np.testing.assert_allclose(sims, expected, atol=1e-6)


@pytest.mark.parametrize("k", [1, 3])
def test_positive_neighbour_scores_match_brute_force(k):
    rng = np.random.default_rng(1)
    refs = ["".join(rng.choice(list("ACDEFG"), rng.integers(4, 9))) for _ in range(40)]
    queries = ["".join(rng.choice(list("ACDEFG"), rng.integers(4, 9))) for _ in range(15)]
    labels = rng.integers(0, 2, len(refs))
    ref_groups = rng.choice(["P1", "P2", "P3"], len(refs))
    query_groups = rng.choice(["P1", "P2", "P4"], len(queries))  # P4: no training positive of its own
    got = positive_neighbour_scores(edit_similarity(queries, refs), labels, query_groups, ref_groups, k)
    np.testing.assert_allclose(got, brute_force_scores(queries, query_groups, refs, labels, ref_groups, k),
                               atol=1e-6)


def test_per_group_metrics_equal_scikit_learn_per_group():
    rng = np.random.default_rng(2)
    groups = rng.choice(np.array(["A", "B", "C", "D"], dtype=object), 300)
    y = rng.integers(0, 2, 300).astype(float)
    y[groups == "D"] = 1.0  # one class only: skipped and counted
    score = y * 0.3 + rng.random(300)
    metrics, counts = per_group_metrics(get_task("classification"), y, score, groups)
    aucs = [roc_auc_score(y[groups == g], score[groups == g]) for g in "ABC"]
    aps = [average_precision_score(y[groups == g], score[groups == g]) for g in "ABC"]
    assert metrics["auroc_per_group"] == pytest.approx(np.mean(aucs))
    assert metrics["average_precision_per_group"] == pytest.approx(np.mean(aps))
    assert counts == {"groups_scored": 3, "groups_skipped": 1}


def test_knn_arm_and_mode_in_crossval_with_per_peptide_metrics(tmp_path, small_binding_csv, monkeypatch):
    """The knn arm's test scores are the brute-force rule with the k it chose; every arm gets per-peptide
    macro AUROC beside the pooled one, usable as the primary metric; the knn mode reads a frozen encoder."""
    import seqssl.evaluate.arms.encoders as encoder_arms  # where crossval transfers an encoder in each mode
    transferred = []  # (mode, the encoder handed over, a copy of its weights then)
    real_fit = encoder_arms.fit_in_mode

    def recording_fit(mode, encoder, *args, **kwargs):
        transferred.append((mode, encoder, {k: v.detach().clone() for k, v in encoder.state_dict().items()}))
        return real_fit(mode, encoder, *args, **kwargs)
    monkeypatch.setattr(encoder_arms, "fit_in_mode", recording_fit)
    out = tmp_path / "cv"
    args = ["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--task", "pair-classification", "--arms", "none,knn,kmer", "--mode", "probe,knn", "--folds", "2",
            "--group-column", "cdr3_b_aa", "--primary-metric", "auroc_per_group", "--seed", "0", "--out", str(out),
            "--quiet"]
    assert run_cli(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["primary_metric"] == "auroc_per_group"
    assert set(results["arms"]) == {"none[probe]", "none[knn]", "knn", "kmer", "kmer[per-value]"}
    for body in results["arms"].values():
        assert body["mean"]["auroc_per_group"] is not None
        assert all(r["groups_scored"] + r["groups_skipped"] >= 1 for r in body["runs"])
    assert any(c["metric"] == "auroc_per_group" and c["arm"] == "knn" for c in results["comparisons"])
    # recompute fold 0's knn scores by brute force on the same fit rows (the folds are planned by seqssl)
    from seqssl.api import labelled_data
    from seqssl.config import load_config
    from seqssl.evaluate.folds import plan_folds
    cfg = load_config(None, {"data": {"path": str(small_binding_csv), "columns": ["cdr3_b_aa", "peptide"],
                                      "label_column": "label", "task": "pair-classification",
                                      "group_column": "cdr3_b_aa"}, "crossval": {"folds": 2}})
    data = labelled_data(cfg)
    _, split = plan_folds(cfg, data)[0][0]
    k = results["arms"]["knn"]["runs"][0]["k"]
    seqs = [r[0].upper() for r in data.rows]
    peptides = [r[1].upper() for r in data.rows]
    expected = brute_force_scores([seqs[i] for i in split.test], [peptides[i] for i in split.test],
                                  [seqs[i] for i in split.train], data.targets[split.train],
                                  [peptides[i] for i in split.train], k)
    predictions = pd.read_csv(out / "predictions.csv")
    got = predictions[(predictions["arm"] == "knn") & (predictions["fold"] == 0)].sort_values("row")
    assert got["row"].tolist() == sorted(split.test.tolist())
    order = np.argsort(split.test)
    # scores are the rule's similarities after Platt scaling (monotone): the same ranking, as probabilities
    assert spearmanr(got["y_score"].to_numpy(), expected[order]).statistic > 0.9999  # float32 near-ties
    assert ((got["y_score"] > 0) & (got["y_score"] < 1)).all()
    # the knn mode changes no weight: every tensor of each fold's encoder, after fitting and scoring, equals
    # what it was when handed to the mode (scoring by cosine similarity: test_knn_mode_scores_equal_a_hand_cosine_rule)
    assert all(r["mode"] == "knn" for r in results["arms"]["none[knn]"]["runs"])
    knn = [(encoder, before) for mode, encoder, before in transferred if mode == "knn"]
    assert len(knn) == 2 and sorted(m for m, _, _ in transferred) == ["knn", "knn", "probe", "probe"]
    for encoder, before in knn:
        after = encoder.state_dict()
        assert after.keys() == before.keys() and len(before) > 10
        assert all(torch.equal(after[k], before[k]) for k in before), [k for k in before
                                                                       if not torch.equal(after[k], before[k])]


def test_knn_mode_scores_equal_a_hand_cosine_rule():
    from seqssl.config import FinetuneConfig
    from seqssl.models.encoder import embed_dataset
    from seqssl.transfer.modes import fit_in_mode
    encoder, train, val, test = random_binary_pairs()
    with torch.no_grad():  # spread the random embeddings out, so that cosine similarities differ visibly
        for p in encoder.parameters():
            p.normal_(0.0, 1.0)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    fitted = fit_in_mode("knn", encoder, train, val, FinetuneConfig(), get_task("classification"),
                         device=torch.device("cpu"))
    k = fitted.details["k"]
    x_train = embed_dataset(encoder, train, torch.device("cpu"))
    x_test = embed_dataset(encoder, test, torch.device("cpu"))
    expected = []
    for x, g in zip(x_test, test.group_keys):
        sims = [float(x @ r / np.linalg.norm(x) / np.linalg.norm(r))
                for r, y, h in zip(x_train, train.labels, train.group_keys) if y == 1 and h == g]
        expected.append(np.mean(sorted(sims, reverse=True)[:k]))
    platt = fitted.model.calibrate.model
    if platt is None or platt.coef_[0, 0] <= 0:
        np.testing.assert_allclose(fitted.score(test), expected, atol=1e-5)
    else:  # Platt scaling: p = sigmoid(a z + b), z the standardised score, with the fitted a, b, by hand
        a, b = platt.coef_[0, 0], platt.intercept_[0]
        z = (np.array(expected) - fitted.model.calibrate.center) / fitted.model.calibrate.scale
        np.testing.assert_allclose(fitted.score(test), 1 / (1 + np.exp(-(a * z + b))), atol=1e-3)  # float32
    # (the reference above embeds with the encoder as it is now: so check that fitting and scoring changed no
    # weight, and that the model scores with that same encoder)
    assert fitted.model.encoder is encoder
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items()) and len(before) > 10


def test_calibration_turns_similarities_into_probabilities_without_reordering():
    from seqssl.transfer.knn import Calibration
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 400)
    similarity = 0.8 + 0.05 * labels + 0.03 * rng.random(400)  # all above 0.5, positives higher
    calibrate = Calibration(get_task("classification"), similarity[:200], labels[:200])
    probs = calibrate(similarity[200:])
    assert spearmanr(probs, similarity[200:]).statistic == pytest.approx(1.0)
    accuracy_raw = np.mean((similarity[200:] >= 0.5) == labels[200:])
    assert np.mean((probs >= 0.5) == labels[200:]) > max(accuracy_raw, 0.9)
    regression = Calibration(get_task("regression"), similarity[:200], labels[:200])
    np.testing.assert_array_equal(regression(similarity[200:]), similarity[200:])


def test_config_lists_every_registered_transfer_mode():
    """The config's lists (typed again so that --help does not import torch) are the registry's: the encoder modes
    crossval takes, and the graph modes only finetune takes."""
    from seqssl.config import GRAPH_MODES
    from seqssl.config import TRANSFER_MODES as listed
    from seqssl.transfer.modes import TRANSFER_MODES
    assert set(TRANSFER_MODES) == set(listed) | set(GRAPH_MODES)
    assert {name for name, mode in TRANSFER_MODES.items() if mode.encoder_free} == set(GRAPH_MODES)
