"""crossval --repeats / --search on a fixed split: every arm's repeats share seeds, each fold's value is the
mean over repeats, the search is decided on validation only and recorded, per-group metrics get CIs, and a
resumed run gathers the same parts."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from seqssl.evaluate.bootstrap import mean_metrics
from seqssl.evaluate.tuning import candidates, repeat_seed


@pytest.fixture
def split_binding_csv(tmp_path, binding_frame):
    rng = np.random.default_rng(1)
    frame = binding_frame.iloc[rng.choice(len(binding_frame), 300, replace=False)].copy()
    frame["set"] = np.where(rng.random(len(frame)) < 0.35, "test", "train")
    path = tmp_path / "split.csv"
    frame.to_csv(path, index=False)
    return path


def _args(data, out, *more):
    return ["crossval", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--split", "column", "--split-column", "set", "--arms", "none,kmer", "--epochs", "2",
            "--batch-size", "32", "--primary-metric", "auroc_per_group", "--out", str(out), "--quiet", *more]


def test_repeats_and_search_on_a_fixed_split(split_binding_csv, tmp_path):
    out = tmp_path / "run"
    assert run_cli(_args(split_binding_csv, out, "--repeats", "2", "--search", "lr=1e-3,1e-2")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["repeats"] == 2 and results["search"] == {"lr": [1e-3, 1e-2]}
    none_run = results["arms"]["none"]["runs"][0]
    # the fold's value is the mean over its repeats, and ± on a fixed split is their spread
    assert results["arms"]["none"]["folds"][0] == pytest.approx(mean_metrics(none_run["repeats"]))
    spread = np.std([r["auroc"] for r in none_run["repeats"]], ddof=1)
    assert results["arms"]["none"]["std"]["auroc"] == pytest.approx(spread)
    # the search: both candidates fitted, the best validation value chosen
    search = none_run["search"]
    best = max(search["candidates"], key=lambda c: c["best_val"])
    assert len(search["candidates"]) == 2 and search["chosen"] == best["settings"]
    assert "search" not in results["arms"]["kmer"]["runs"][0]  # k-mers have their own validation choice
    predictions = pd.read_csv(out / "predictions.csv")
    assert predictions.groupby("arm")["repeat"].nunique().to_dict() == {"kmer": 1, "kmer[per-value]": 1, "none": 2}
    # per-group metric: compared, with a CI, Holm p and verdict, by the two-level bootstrap
    (c,) = [c for c in results["comparisons"] if c["metric"] == "auroc_per_group" and c["arm"] == "kmer"]
    assert c["ci95"] is not None and c["p_holm"] is not None and c["verdict"] is not None
    assert results["statistics"]["repeats_resampled"] == 2
    report = (out / "report.md").read_text()
    assert "chosen on the validation split" in report and "repeated 2 times" in report
    # resume: every part is on disk, the same results come back
    assert run_cli(_args(split_binding_csv, out, "--repeats", "2", "--search", "lr=1e-3,1e-2", "--resume")) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["arms"]["none"]["folds"] == results["arms"]["none"]["folds"]
    assert again["wall_seconds"] > results["wall_seconds"]  # the earlier session's time is kept, not replaced
    # a resume with another number of repeats is refused, naming it
    assert run_cli(_args(split_binding_csv, out, "--repeats", "3", "--search", "lr=1e-3,1e-2", "--resume")) == 2


def test_repeat_seeds_and_the_grid():
    assert repeat_seed(7, 0) == 7 and len({repeat_seed(s, r) for s in range(5) for r in range(4)}) == 20
    assert candidates({"lr": [1, 2], "epochs": [3, 4, 5]})[:2] == [{"lr": 1, "epochs": 3}, {"lr": 1, "epochs": 4}]
    assert candidates({}) == [{}]


@pytest.mark.parametrize("search, fragment", [("dropout=0.1", "cannot be searched"), ("lr=-1", "must be positive"),
                                              ("lr", "NAME=V1,V2"), ("epochs=1.5", "integer")])
def test_a_bad_search_is_refused_before_work(split_binding_csv, tmp_path, capsys, search, fragment):
    assert run_cli(_args(split_binding_csv, tmp_path / "bad", "--search", search)) == 2
    assert fragment in capsys.readouterr().err and not (tmp_path / "bad").exists()
