"""Behaviours no test exercised before (issue 34): the demo command end to end, bf16 autocast pretraining, kNN
regression, the choice of k, the row pairing of a fixed split's bootstrap, ``--group-metric`` and the SimSiam
collapse warning. Each is compared with an independent reference (scikit-learn, a hand computation, an fp32 run)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import KNeighborsRegressor

from conftest import run_cli, tiny_objective
from seqssl.tasks import get_task

CPU = torch.device("cpu")
RESIDUES = list("ACDEFGHIKLMNPQRSTVWY")


def random_sequences(n: int, seed: int, shortest: int = 6, longest: int = 14) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(RESIDUES, rng.integers(shortest, longest + 1))) for _ in range(n)]


def encoded(sequences: list[str], labels=None):
    from seqssl.data.dataset import EncodedDataset
    from seqssl.data.tokenizers import SequenceTokenizer
    tok = SequenceTokenizer("protein")
    enc = [tok.encode(s) for s in sequences]
    return EncodedDataset([e.input_ids for e in enc], [e.token_type_ids for e in enc],
                          None if labels is None else np.asarray(labels, dtype=np.float32))


def similarity_weights(distance: np.ndarray) -> np.ndarray:
    """seqssl's neighbour weights as a scikit-learn ``weights`` callable: the similarity (1 − cosine distance),
    floored at 1e-6."""
    return np.clip(1.0 - distance, 1e-6, None)


# ---------------------------------------------------------------------------------------------- bf16 autocast


def spread(objective) -> None:
    """The encoder's weight matrices redrawn from N(0, 0.5²): at BERT's initial scale a 16-wide encoder embeds
    every sequence within ~1e-4 cosine of every other, below bf16's resolution, and SimCLR's loss is then
    log(2N − 1) in both precisions (nothing to compare)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in objective.encoder.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.5)


def test_bf16_autocast_pretraining_tracks_fp32_and_keeps_fp32_weights():
    """Three SimCLR steps under ``precision='bf16'`` on CPU: the matmuls run in bfloat16 (a hook sees their
    outputs), the loss is finite and, at step 1 (same initial weights, same views), within bf16's rounding of
    the fp32 run's loss; the weights and their optimiser state stay float32."""
    from seqssl.train.loop import run_pretraining
    data = encoded(random_sequences(64, seed=1))
    histories, objectives, dtypes = {}, {}, {}
    for precision in ("fp32", "bf16"):
        objective, _ = tiny_objective("simclr", ["ACDE"], max_steps=3, batch_size=32, temperature=0.1)
        spread(objective)
        seen: list[torch.dtype] = []
        first_linear = next(m for m in objective.encoder.modules() if isinstance(m, torch.nn.Linear))
        first_linear.register_forward_hook(lambda module, args, out, seen=seen: seen.append(out.dtype))
        histories[precision] = run_pretraining(objective, data, objective.cfg, device=CPU, precision=precision,
                                               progress=False)
        objectives[precision], dtypes[precision] = objective, set(seen)
    assert dtypes == {"fp32": {torch.float32}, "bf16": {torch.bfloat16}}
    fp32, bf16 = (histories[p][0]["loss"] for p in ("fp32", "bf16"))
    assert fp32 < np.log(2 * 32 - 1) - 0.1  # not the uniform-softmax loss of indistinguishable embeddings
    assert histories["bf16"][0]["step"] == 1 and len(histories["bf16"]) == 3
    assert all(np.isfinite(h["loss"]) for h in histories["bf16"])
    # bf16 keeps 8 significand bits (relative rounding 2^-8 ≈ 0.4% per operation); the loss at step 1 of a
    # 16-wide, 2-layer encoder lands within 2% of fp32's (measured: 0.1%) but not bit for bit
    assert bf16 == pytest.approx(fp32, rel=0.02)
    assert bf16 != fp32
    assert all(p.dtype == torch.float32 for p in objectives["bf16"].parameters())
    # and they trained: the bf16 run's weights moved away from the initial ones like the fp32 run's did
    fresh, _ = tiny_objective("simclr", ["ACDE"])
    spread(fresh)
    start = dict(fresh.named_parameters())
    moved = {p: max(float((q.detach() - start[n].detach()).abs().max())
                    for n, q in objectives[p].named_parameters() if n in start) for p in objectives}
    assert moved["bf16"] > 0 and moved["bf16"] == pytest.approx(moved["fp32"], rel=0.5)


# ---------------------------------------------------------------------------------------------- kNN regression


def spread_encoder(seed: int = 0):
    """A 1-layer, 16-wide encoder whose weight matrices are redrawn from N(0, 1), so that the cosine similarities
    of its embeddings differ visibly (at the initial scale, or with the LayerNorm biases redrawn too, they all
    lie within ~1e-3 of 1 and a weighted mean of neighbours is not told from a plain one)."""
    from seqssl.config import ModelConfig
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    torch.manual_seed(seed)
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                                                pooling="cls"), SequenceTokenizer("protein").vocab_size)
    with torch.no_grad():
        for p in encoder.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 1.0)
    return encoder.eval()


def test_knn_mode_regression_predicts_the_similarity_weighted_mean_of_the_k_nearest_labels():
    """``--mode knn`` on a regression task: each test row's prediction is the mean of its k nearest training
    rows' labels (cosine similarity of the frozen embeddings) weighted by similarity, as scikit-learn's
    ``KNeighborsRegressor`` computes it and as written out by hand; k is the one with the best validation
    Spearman among seqssl's grid."""
    from seqssl.config import FinetuneConfig
    from seqssl.models.encoder import embed_dataset
    from seqssl.transfer.knn import K_GRID
    from seqssl.transfer.modes import fit_in_mode
    sequences = random_sequences(90, seed=5)
    rng = np.random.default_rng(5)
    labels = np.array([s.count("K") + s.count("R") - s.count("D") for s in sequences], dtype=float)
    labels += 0.5 * rng.standard_normal(len(labels))
    data = encoded(sequences, labels)
    train, val, test = data.subset(range(60)), data.subset(range(60, 75)), data.subset(range(75, 90))
    encoder = spread_encoder()
    fitted = fit_in_mode("knn", encoder, train, val, FinetuneConfig(), get_task("regression"), device=CPU,
                         progress=False)
    k = fitted.details["k"]
    got = fitted.score(test)
    x_train, x_val, x_test = (embed_dataset(encoder, d, CPU) for d in (train, val, test))

    def reference(k: int, queries: np.ndarray) -> np.ndarray:
        knn = KNeighborsRegressor(n_neighbors=k, metric="cosine", algorithm="brute", weights=similarity_weights)
        return knn.fit(x_train, train.labels).predict(queries)

    np.testing.assert_allclose(got, reference(k, x_test), rtol=1e-4, atol=1e-4)
    hand, plain = [], []
    for x in x_test:
        sims = x_train @ x / np.linalg.norm(x_train, axis=1) / np.linalg.norm(x)
        nearest = np.argsort(-sims)[:k]
        hand.append(np.sum(sims[nearest] * train.labels[nearest]) / np.sum(sims[nearest]))
        plain.append(np.mean(train.labels[nearest]))
    np.testing.assert_allclose(got, hand, rtol=1e-4, atol=1e-4)
    if k > 1:  # the similarities differ enough that the weighting shows
        assert np.max(np.abs(np.array(hand) - plain)) > 1e-2
    assert np.std(got) > 0.1  # not a constant prediction
    val_spearman = {c: spearmanr(val.labels, reference(c, x_val)).statistic for c in K_GRID}
    assert val_spearman[k] == pytest.approx(max(val_spearman.values()), abs=1e-6)
    assert fitted.details["best_val"] == pytest.approx(val_spearman[k], abs=1e-6)


# ------------------------------------------------------------------------------------------------- choose_k


def test_choose_k_picks_the_k_that_is_clearly_best_on_validation():
    """A validation set built so that k = 5 recovers every label exactly (each query's 5 nearest training rows
    have labels whose similarity-weighted mean is the query's label; any 1 or 3 of them are far off, and the next
    5 rows are noise): choose_k returns 5 and its Spearman, as a brute-force evaluation of every k of the grid
    with scikit-learn's KNeighborsRegressor finds."""
    from seqssl.transfer.knn import K_GRID, choose_k
    rng = np.random.default_rng(11)
    n_val, per_query = 30, 10
    n_train = n_val * per_query
    target = np.arange(n_val, dtype=float)
    rng.shuffle(target)
    similarity = np.zeros((n_val, n_train))
    train_labels = np.zeros(n_train)
    good_sims = np.array([0.95, 0.94, 0.93, 0.92, 0.91])
    noise_sims = np.array([0.60, 0.59, 0.58, 0.57, 0.56])
    for i in range(n_val):
        own = np.arange(i * per_query, (i + 1) * per_query)
        similarity[i, own] = np.concatenate([good_sims, noise_sims])
        errors = 30.0 * rng.standard_normal(5)
        errors[4] = -np.dot(good_sims[:4], errors[:4]) / good_sims[4]  # weighted mean error 0
        train_labels[own[:5]] = target[i] + errors
        train_labels[own[5:]] = 30.0 * rng.standard_normal(5)
    task = get_task("regression")
    k, value = choose_k(task, similarity, train_labels, target, None, None)

    brute = {}
    for candidate in K_GRID:
        knn = KNeighborsRegressor(n_neighbors=candidate, metric="precomputed", weights=similarity_weights)
        knn.fit(np.zeros((n_train, n_train)), train_labels)
        brute[candidate] = spearmanr(target, knn.predict(1.0 - similarity)).statistic
    best = max(brute, key=brute.get)
    assert best == 5 and brute[5] == pytest.approx(1.0)
    assert brute[5] - max(v for c, v in brute.items() if c != 5) > 0.1  # clearly best
    assert (k, value) == (best, pytest.approx(brute[best], abs=1e-9))


# ------------------------------------------------------------------------------- fixed-split bootstrap pairing


def prediction_frames(y: np.ndarray, scores: dict[str, np.ndarray]) -> list[pd.DataFrame]:
    return [pd.DataFrame({"row": np.arange(len(y)), "fold": 0, "arm": arm, "y_true": y, "y_score": s})
            for arm, s in scores.items()]


def fixed_split_comparison(y, frames, monkeypatch, n_boot: int) -> dict:
    """The auroc comparison ``simclr − none`` that results.json of a fixed split holds, with ``n_boot``
    resamples (the real N_BOOT is 1000; fewer keep the test fast)."""
    import seqssl.evaluate.results as results
    from seqssl.evaluate.results import fold_metrics, inference
    monkeypatch.setattr(results, "N_BOOT", n_boot)
    task = get_task("classification")
    per_arm = {}
    for frame in frames:
        ordered = frame.sort_values("row")
        per_arm[frame["arm"].iloc[0]] = [fold_metrics(task, ordered["y_true"].to_numpy(),
                                                      ordered["y_score"].to_numpy(), None)[0]]
    out = inference(task, "auroc", per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"],
                    [{"train": 300, "val": 50, "test": len(y)}], frames, None, seed=7)
    (comparison,) = [c for c in out["comparisons"] if c["metric"] == "auroc"]
    assert out["statistics"]["n_boot"] == n_boot
    return comparison


def test_fixed_split_bootstrap_resamples_the_same_rows_for_both_arms(monkeypatch):
    """The paired bootstrap of a fixed split draws one set of row indices per resample and scores both arms on
    it: two arms with identical predictions differ by exactly 0 in every resample (CI [0, 0], p = 1), even when
    one arm's prediction rows come in another order (rows are matched by id, not position); the CI of two
    different arms is the one computed by hand from the same indices for both (numpy's generator with the run's
    seed, scikit-learn's AUROC); scores permuted among rows change it."""
    from seqssl.evaluate.bootstrap import arm_replicates, example_frames
    from seqssl.evaluate.results import fold_metrics
    n_boot = 200
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    base = y * 0.6 + rng.random(80)
    arm = y * 0.9 + rng.random(80)

    same = fixed_split_comparison(y, prediction_frames(y, {"none": base, "simclr": base.copy()}), monkeypatch,
                                  n_boot)
    assert same["ci95"] == [0.0, 0.0] and same["p_value"] == 1.0
    _, examples = example_frames(prediction_frames(y, {"none": base, "simclr": base.copy()}))
    task = get_task("classification")
    reps = arm_replicates(examples, lambda a, s, t, g: fold_metrics(task, a, s, t)[0], n_boot=n_boot, seed=7)
    assert all(a["auroc"] - b["auroc"] == 0.0 for a, b in zip(reps["simclr"], reps["none"]))
    assert len({r["auroc"] for r in reps["none"]}) > 20  # the resamples do differ from each other

    frames = prediction_frames(y, {"none": base, "simclr": base.copy()})
    frames[1] = frames[1].sample(frac=1.0, random_state=3)  # same (row, score) pairs, another order
    assert fixed_split_comparison(y, frames, monkeypatch, n_boot)["ci95"] == [0.0, 0.0]

    different = fixed_split_comparison(y, prediction_frames(y, {"none": base, "simclr": arm}), monkeypatch, n_boot)
    draws = np.random.default_rng(7)
    diffs = []
    for _ in range(n_boot):
        idx = draws.integers(0, len(y), len(y))
        diffs.append(roc_auc_score(y[idx], arm[idx]) - roc_auc_score(y[idx], base[idx]))
    assert different["ci95"] == pytest.approx([np.percentile(diffs, 2.5), np.percentile(diffs, 97.5)], abs=1e-12)
    assert different["ci95"][0] > 0  # the better arm is found better

    shuffled = fixed_split_comparison(y, prediction_frames(y, {"none": base, "simclr": rng.permutation(arm)}),
                                      monkeypatch, n_boot)
    assert shuffled["ci95"] != pytest.approx(different["ci95"], abs=1e-3)


# ----------------------------------------------------------------------------------------------- group metric


def test_group_metric_flag_macro_averages_the_metric_over_its_groups(tmp_path, small_binding_csv):
    """``crossval --group-metric peptide`` on a one-column task (which has no per-group metrics by default):
    each fold's ``auroc_per_group`` and ``average_precision_per_group`` are the mean, over the peptides with
    both classes in the fold's test rows, of scikit-learn's metric on that peptide's rows of predictions.csv."""
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa", "--label-column",
                    "label", "--task", "classification", "--arms", "kmer", "--folds", "2", "--group-metric",
                    "peptide", "--seed", "0", "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    predictions = pd.read_csv(out / "predictions.csv")
    table = pd.read_csv(small_binding_csv, dtype=str, keep_default_na=False)
    peptide = table["peptide"].str.strip().str.upper().to_numpy()
    folds = results["arms"]["kmer"]["folds"]
    assert len(folds) == 2
    for fold, recorded in enumerate(folds):
        rows = predictions[(predictions["arm"] == "kmer") & (predictions["fold"] == fold)]
        y, s, g = rows["y_true"].to_numpy(), rows["y_score"].to_numpy(), peptide[rows["row"].to_numpy()]
        scored = [p for p in np.unique(g) if len(np.unique(y[g == p])) == 2]
        assert len(scored) >= 2
        expected_auroc = np.mean([roc_auc_score(y[g == p], s[g == p]) for p in scored])
        expected_ap = np.mean([average_precision_score(y[g == p], s[g == p]) for p in scored])
        assert recorded["auroc_per_group"] == pytest.approx(expected_auroc, abs=1e-9)
        assert recorded["average_precision_per_group"] == pytest.approx(expected_ap, abs=1e-9)
        assert recorded["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
        assert abs(expected_auroc - roc_auc_score(y, s)) > 1e-6  # per group is not the pooled figure
        run = results["arms"]["kmer"]["runs"][fold]
        assert run["groups_scored"] == len(scored)
        assert run["groups_skipped"] == len(np.unique(g)) - len(scored)


# ---------------------------------------------------------------------------------------- SimSiam collapse


def test_simsiam_warns_when_the_encoder_output_is_constant_and_not_when_healthy():
    """The collapse warning (output std of the normalised projections under 0.2/sqrt(d)): an encoder whose
    every weight is zero gives every sequence the same embedding, the std is 0 and the warning is emitted (once);
    the same objective with its random initial weights is healthy (std near 1/sqrt(d)) and stays silent."""
    sequences = random_sequences(16, seed=2)
    healthy, batch = tiny_objective("simsiam", sequences, projection_dim=16)
    gen = torch.Generator().manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = healthy(batch, gen)
    assert not [w for w in caught if "collapsed" in str(w.message)]
    assert float(out["output_std"]) > 0.2 / np.sqrt(16)
    assert float(out["output_std"]) == pytest.approx(1 / np.sqrt(16), rel=0.5)

    collapsed, batch = tiny_objective("simsiam", sequences, projection_dim=16)
    with torch.no_grad():
        for p in collapsed.encoder.parameters():
            p.zero_()
    embeddings = collapsed.embed_all(collapsed.inputs(batch, torch.Generator().manual_seed(0)))
    assert torch.equal(embeddings[0], embeddings[0][:1].expand_as(embeddings[0]))  # constant encoder output
    with pytest.warns(UserWarning, match="SimSiam may have collapsed"):
        out = collapsed(batch, torch.Generator().manual_seed(0))
    assert float(out["output_std"]) == 0.0
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        collapsed(batch, torch.Generator().manual_seed(1))
    assert not [w for w in again if "collapsed" in str(w.message)]  # once per run


# -------------------------------------------------------------------------------------------------------- demo


@pytest.mark.slow  # ~2 minutes on 2 idle cores (6 on shared ones): the quick demo is its smallest form
def test_quick_demo_writes_results_consistent_with_its_predictions(tmp_path, capsys):
    """``seqssl demo --quick``: its outputs exist; every arm predicts each bundled row once, in 3 grouped folds;
    each fold's AUROC, average precision, accuracy, per-negative-type AUROC and per-peptide AUROC in results.json
    are scikit-learn's on its rows of predictions.csv; the means and stds over folds, and the printed table, are
    those recomputed figures."""
    from sklearn.metrics import accuracy_score

    from seqssl.data.builtin import builtin_path
    out = tmp_path / "demo"
    assert run_cli(["demo", "--quick", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    for name in ("results.json", "predictions.csv", "report.md", "report.html", "config.yaml", "run.json"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "encoders" / "simclr").iterdir()) == ["fold_0", "fold_1", "fold_2"]
    results = json.loads((out / "results.json").read_text())
    assert (results["n_folds"], results["split"], results["task"]) == (3, "grouped", "pair-classification")
    assert results["config"]["pretrain"]["max_steps"] == 30
    assert {"none", "simclr", "kmer"} <= set(results["arms"])

    table = pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False)
    label = table["label"].astype(int).to_numpy()
    peptide = table["peptide"].str.strip().str.upper().to_numpy()
    cdr3 = table["cdr3_b_aa"].str.strip().str.upper().to_numpy()
    neg_type = table["neg_type"].to_numpy()
    predictions = pd.read_csv(out / "predictions.csv")
    for arm, body in results["arms"].items():
        mine = predictions[predictions["arm"] == arm]
        assert sorted(mine["row"]) == list(range(len(table)))  # every row tested once
        assert all(len(set(cdr3[mine[mine["fold"] == f]["row"]]) & set(cdr3[mine[mine["fold"] != f]["row"]])) == 0
                   for f in range(3))  # grouped by CDR3β: no CDR3β in two folds' test rows
        recomputed = []
        for fold, recorded in enumerate(body["folds"]):
            rows = mine[mine["fold"] == fold]
            r, y, s = rows["row"].to_numpy(), rows["y_true"].to_numpy(), rows["y_score"].to_numpy()
            assert np.array_equal(y, label[r])
            expected = {"auroc": roc_auc_score(y, s), "average_precision": average_precision_score(y, s),
                        "accuracy": accuracy_score(y, s >= 0.5)}
            for kind in ("background", "swapped"):
                keep = np.isin(neg_type[r], [kind, ""])
                expected[f"auroc@{kind}"] = roc_auc_score(y[keep], s[keep])
            g = peptide[r]
            expected["auroc_per_group"] = np.mean([roc_auc_score(y[g == p], s[g == p]) for p in np.unique(g)
                                                   if len(np.unique(y[g == p])) == 2])
            for key, value in expected.items():
                assert recorded[key] == pytest.approx(value, abs=1e-9), (arm, fold, key)
            recomputed.append(expected["auroc"])
        mean, std = np.mean(recomputed), np.std(recomputed, ddof=1)
        assert body["mean"]["auroc"] == pytest.approx(mean, abs=1e-12)
        assert body["std"]["auroc"] == pytest.approx(std, abs=1e-12)
        assert any(line.strip().startswith(f"│ {arm} ") and "│ all " in line and f"{mean:.3f} ± {std:.3f}" in line
                   for line in printed.splitlines()), (arm, f"{mean:.3f} ± {std:.3f}")
