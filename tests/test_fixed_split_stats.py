"""Statistics on a single fixed split: the paired bootstrap of per-group metrics (resampled within each
(group, class) cell) against an exact enumeration of every resample, and over repeated fine-tuning runs."""
import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from seqssl.evaluate.bootstrap import REPEAT, arm_replicates, example_frames, strata
from seqssl.evaluate.results import fold_metrics, inference
from seqssl.evaluate.stats import BOOTSTRAP, N_BOOT
from seqssl.tasks import get_task

TASK = get_task("pair-classification")


def _macro_auroc(y, s, g):
    """Per-group AUROC macro-averaged, written from scikit-learn directly (the reference)."""
    return float(np.mean([roc_auc_score(y[g == k], s[g == k]) for k in np.unique(g)]))


def _small_table():
    # two peptides, each with 2 binders and 2 non-binders: four (group, class) cells of two rows each
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    g = np.array(["A"] * 4 + ["B"] * 4)
    arm = np.array([0.9, 0.4, 0.5, 0.1, 0.8, 0.7, 0.2, 0.75])
    base = np.array([0.6, 0.3, 0.5, 0.4, 0.3, 0.9, 0.6, 0.1])
    return y, g, arm, base


def _exact_differences(y, g, arm, base):
    """Every equally likely resample within the four cells (each cell: 2 draws from 2 rows, 4 ordered
    outcomes; 4^4 = 256 resamples), and the difference of macro per-group AUROC on each."""
    cells = [np.flatnonzero((g == k) & (y == c)) for k in ("A", "B") for c in (0, 1)]
    diffs = []
    for draws in itertools.product(itertools.product(range(2), repeat=2), repeat=4):
        idx = np.concatenate([cell[list(d)] for cell, d in zip(cells, draws)])
        diffs.append(_macro_auroc(y[idx], arm[idx], g[idx]) - _macro_auroc(y[idx], base[idx], g[idx]))
    return np.array(diffs)


def _frames(y, scores: dict, repeats: dict | None = None):
    frames = []
    for name, s in scores.items():
        for r, vector in enumerate(np.atleast_2d(s)):
            frame = pd.DataFrame({"row": np.arange(len(y)), "fold": 0, "arm": name, "y_true": y, "y_score": vector})
            frames.append(frame.assign(**{REPEAT: r}) if repeats else frame)
    return frames


def test_per_group_bootstrap_matches_the_exact_resampling_distribution():
    y, g, arm, base = _small_table()
    exact = _exact_differences(y, g, arm, base)
    exact_p = min(1.0, 2 * min(np.mean(exact <= 0), np.mean(exact >= 0)))
    per_arm = {name: [fold_metrics(TASK, y, s, None, None, g)[0]] for name, s in (("none", base), ("simclr", arm))}
    assert per_arm["simclr"][0]["auroc_per_group"] == pytest.approx(_macro_auroc(y, arm, g))
    out = inference(TASK, "auroc_per_group", per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"],
                    [{"train": 50, "val": 10, "test": 8}], _frames(y, {"none": base, "simclr": arm}), None,
                    seed=0, groups=g)
    (c,) = [c for c in out["comparisons"] if c["metric"] == "auroc_per_group"]
    assert c["test"] == BOOTSTRAP and c["p_holm"] is not None and c["verdict"] is not None
    assert out["statistics"]["resampled_within"] == "group and class"
    # 1000 draws from the 256 equally likely resamples: p within 4 standard errors of the exact p, and the CI's
    # ends at values the exact distribution takes between its 1st and 5th (95th and 99th) percentiles
    assert c["p_value"] == pytest.approx(exact_p, abs=4 * np.sqrt(exact_p * (1 - exact_p) / N_BOOT) + 1e-9)
    assert np.quantile(exact, 0.01) <= c["ci95"][0] <= np.quantile(exact, 0.05)
    assert np.quantile(exact, 0.95) <= c["ci95"][1] <= np.quantile(exact, 0.99)


def test_a_group_with_one_positive_keeps_it_in_every_resample():
    rng = np.random.default_rng(0)
    y = np.array([1] + [0] * 9 + [1] * 5 + [0] * 5)
    g = np.array(["rare"] * 10 + ["common"] * 10)
    scores = rng.random(20)
    _, examples = example_frames(_frames(y, {"none": scores, "kmer": rng.random(20)}))
    reps = arm_replicates(examples, lambda a, s, t, grp: fold_metrics(TASK, a, s, t, None, grp)[1], None, g,
                          True, 200, 0)
    # every resample scores both groups: the one positive of "rare" is never lost
    assert all(r["groups_scored"] == 2 and r["groups_skipped"] == 0 for r in reps["none"])
    cells = strata(g, y, True)
    assert sorted(len(c) for c in cells) == [1, 5, 5, 9]


def test_repeats_widen_the_interval_by_the_seed_spread():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    base = y + 0.8 * rng.random(200)
    # the arm's three fine-tuning runs differ from each other much more than the test sample's noise
    runs = np.stack([y * w + 0.8 * rng.random(200) for w in (0.2, 1.0, 1.8)])
    task = get_task("classification")
    per_arm = {"none": [task.metrics(y, base)], "simclr": [task.metrics(y, runs.mean(0))]}
    per_arm = {a: [{k: v for k, v in m[0].items() if k not in ("n", "undefined_reason")}] for a, m in per_arm.items()}
    leak = [{"train": 500, "val": 100, "test": 200}]
    one = inference(task, "auroc", per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"], leak,
                    _frames(y, {"none": base, "simclr": runs[1]}), None, seed=0)
    three = inference(task, "auroc", per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"], leak,
                      _frames(y, {"none": base, "simclr": runs}, repeats={"simclr": 3}), None, seed=0)
    width = {k: np.diff(o["comparisons"][[c["metric"] for c in o["comparisons"]].index("auroc")]["ci95"])[0]
             for k, o in (("one", one), ("three", three))}
    assert three["statistics"]["repeats_resampled"] == 3 and "repeats_resampled" not in one["statistics"]
    assert width["three"] > 1.5 * width["one"]


def _long_frames(kind: str, rng):
    """Prediction rows of two arms on 60 test examples for a task with several rows per example (or no single
    numeric score): one arm informative, the other noise."""
    frames = []
    for arm, informative in (("none", False), ("kmer", True)):
        if kind == "multiclass":
            y = rng.integers(0, 3, 60)
            p = rng.dirichlet(np.ones(3), 60)
            if informative:
                p[np.arange(60), y] += 2.0
                p /= p.sum(1, keepdims=True)
            frame = pd.DataFrame({"row": np.arange(60), "fold": 0, "arm": arm, "y_true": np.array(list("abc"))[y],
                                  "y_pred": np.array(list("abc"))[p.argmax(1)], "y_score": p.max(1)})
            for j, c in enumerate("abc"):
                frame[f"p_{c}"] = p[:, j]
        elif kind == "token-classification":
            example = np.repeat(np.arange(60), 8)
            y = np.random.default_rng(5).integers(0, 2, len(example))
            pred = np.where(rng.random(len(example)) < (0.9 if informative else 0.5), y, 1 - y)
            frame = pd.DataFrame({"row": example, "position": np.tile(np.arange(1, 9), 60), "fold": 0, "arm": arm,
                                  "y_true": np.array(["H", "E"])[y], "y_pred": np.array(["H", "E"])[pred],
                                  "y_score": 0.9})
        else:  # multilabel: three targets per molecule
            example = np.repeat(np.arange(60), 3)
            y = np.random.default_rng(6).integers(0, 2, len(example)).astype(float)
            score = y * 0.8 + 0.2 * rng.random(len(example)) if informative else rng.random(len(example))
            frame = pd.DataFrame({"row": example, "target": np.tile(["BRD4", "HSA", "sEH"], 60), "fold": 0,
                                  "arm": arm, "y_true": y, "y_score": score})
        frames.append(frame)
    return frames


@pytest.mark.parametrize("kind, metric", [  # multiclass and token: 17-23 s each, run by `make test-slow`
    pytest.param("multiclass", "macro_auroc", marks=pytest.mark.slow),
    pytest.param("token-classification", "per_residue_accuracy", marks=pytest.mark.slow),
    ("multilabel", "map")])
def test_tasks_with_several_rows_per_example_get_a_bootstrap_over_examples(kind, metric):
    task = get_task(kind)
    frames = _long_frames(kind, np.random.default_rng(0))
    per_arm = {f["arm"].iloc[0]: [{k: v for k, v in task.metrics_of_rows(f).items()
                                   if k not in ("n", "undefined_reason")}] for f in frames}
    out = inference(task, metric, per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"],
                    [{"train": 300, "val": 60, "test": 60}], frames, None, seed=0)
    (c,) = [c for c in out["comparisons"] if c["metric"] == metric]
    assert out["statistics"]["resampled_within"].startswith("examples")
    assert c["ci95"][0] > 0 and c["verdict"] == "better" and c["p_holm"] is not None


def test_multilabel_with_one_measured_target_per_example_is_resampled_by_example():
    rng = np.random.default_rng(2)
    task = get_task("multilabel")
    frames = []
    for arm in ("none", "kmer"):
        y = rng.integers(0, 2, 40).astype(float)
        frames.append(pd.DataFrame({"row": np.arange(40), "target": np.where(np.arange(40) < 20, "A", "B"),
                                    "fold": 0, "arm": arm, "y_true": y, "y_score": rng.random(40)}))
    per_arm = {f["arm"].iloc[0]: [{k: v for k, v in task.metrics_of_rows(f).items()
                                   if k not in ("n", "undefined_reason")}] for f in frames}
    out = inference(task, "map", per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"],
                    [{"train": 100, "val": 20, "test": 40}], frames, None, seed=0)
    assert out["statistics"]["resampled_within"].startswith("examples")
