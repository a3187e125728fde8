"""Statistics that do not over-claim: the corrected resampled t-test, Holm's correction, the paired bootstrap
of a fixed split, verdicts and the smoke-run rule."""
import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests

from seqssl.evaluate.results import inference
from seqssl.evaluate.stats import (
    BOOTSTRAP,
    CORRECTED_T,
    bootstrap_difference,
    bootstrap_replicates,
    corrected_resampled_t,
    holm,
    paired_bootstrap,
)
from seqssl.evaluate.verdicts import add_verdicts, verdict
from seqssl.report.verdicts import smoke_line, smoke_reasons, verdict_lines
from seqssl.tasks import get_task


def test_corrected_resampled_t_matches_a_hand_computation():
    d = [0.02, 0.05, -0.01, 0.04, 0.03]  # k = 5 folds, n_train = 800, n_test = 200
    # m = 0.13 / 5 = 0.026; deviations -0.006, 0.024, -0.036, 0.014, 0.004;
    # s² = (0.000036 + 0.000576 + 0.001296 + 0.000196 + 0.000016) / 4 = 0.00212 / 4 = 0.00053
    # corrected variance = (1/5 + 200/800) · s² = 0.45 · 0.00053 = 0.0002385; se = 0.0154434...
    se = math.sqrt(0.45 * 0.00053)
    t = 0.026 / se  # 1.68356...
    p = 2 * stats.t.sf(t, 4)  # 0.16755...
    half = 2.7764451051977934 * se  # t_{0.975, 4} = 2.776445...
    out = corrected_resampled_t(d, 200 / 800)
    assert out["delta_mean"] == pytest.approx(0.026)
    assert out["t"] == pytest.approx(1.683562, abs=1e-5) and t == pytest.approx(1.683562, abs=1e-5)
    assert out["p_value"] == pytest.approx(p) and out["p_value"] == pytest.approx(0.167553, abs=1e-5)
    assert out["ci95"] == pytest.approx([0.026 - half, 0.026 + half]) and out["df"] == 4
    # the naive paired t (variance s²/k) claims more: t = 0.026 / sqrt(0.00053 / 5) = 2.525, p ≈ 0.065
    assert stats.ttest_1samp(d, 0).pvalue < out["p_value"]


def test_corrected_t_degenerate_cases():
    assert corrected_resampled_t([0.1], 0.25)["p_value"] is None  # one fold: no spread
    flat = corrected_resampled_t([0.0, 0.0, 0.0], 0.25)
    assert flat["ci95"] == [0.0, 0.0] and flat["p_value"] is None
    assert corrected_resampled_t([0.1, None, 0.3], 0.25)["delta_mean"] == pytest.approx(0.2)


def test_holm_matches_statsmodels_and_a_hand_computation():
    # sorted 0.01, 0.03, 0.04 → 3·0.01 = 0.03, 2·0.03 = 0.06, max(1·0.04, 0.06) = 0.06 (step-down, monotone)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    p = list(np.random.default_rng(0).random(9) / 5)
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert holm([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])
    assert holm([None]) == [None]


def _auroc(y, s):
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else None


def test_paired_bootstrap_finds_a_planted_difference_and_no_difference_between_twins():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    perfect, noise = y + 0.1 * rng.random(200), rng.random(200)
    found = paired_bootstrap(y, perfect, noise, _auroc, n_boot=1000, seed=0)
    assert found["ci95"][0] > 0 and found["p_value"] == 0.0 and found["delta_mean"] > 0.3
    twins = paired_bootstrap(y, noise, noise.copy(), _auroc, n_boot=200, seed=0)
    assert twins["ci95"] == [0.0, 0.0] and twins["p_value"] == 1.0
    # the same seed draws the same resamples (paired), a different seed others
    same = bootstrap_replicates(lambda i: i.sum(), 50, 5, seed=3)
    assert same == bootstrap_replicates(lambda i: i.sum(), 50, 5, seed=3) != bootstrap_replicates(
        lambda i: i.sum(), 50, 5, seed=4)


def test_bootstrap_difference_p_value_and_undefined_resamples():
    diff = bootstrap_difference([1.0, 2.0, 3.0, None], [2.0, 1.0, 1.0, 0.5])  # diffs -1, 1, 2; None dropped
    assert diff["n_resamples"] == 3 and diff["p_value"] == pytest.approx(2 / 3)
    assert bootstrap_difference([None], [None])["p_value"] is None


def test_verdict_mapping():
    assert verdict(0.03, [0.01, 0.05], 0.02) == "better"
    assert verdict(-0.03, [-0.05, -0.01], 0.02) == "worse"
    assert verdict(0.03, [0.01, 0.05], 0.08) == "not distinguishable"  # Holm decides when it applies
    assert verdict(0.03, [0.01, 0.05], None) == "better"  # outside the family: the CI decides
    assert verdict(0.03, [-0.01, 0.05], None) == "not distinguishable"
    assert verdict(0.03, [0.03, 0.03], None) == "not distinguishable"  # zero width: no spread to judge
    assert verdict(-0.1, [-0.2, -0.05], None, "mse") == "better"  # lower is better
    assert verdict(0.03, None, None) is None and verdict(None, [0, 1], 0.01) is None


def test_holm_family_is_the_primary_metric_pooled_and_per_subset():
    comps = [{"arm": "simclr", "baseline": b, "metric": m, "delta_mean": 0.05, "ci95": [0.01, 0.09], "p_value": p}
             for b, m, p in (("none", "auroc", 0.01), ("kmer", "auroc", 0.02), ("none", "auroc@swapped", 0.04),
                             ("none", "accuracy", 0.001))]
    add_verdicts(comps, "auroc")
    assert [c["p_holm"] for c in comps] == pytest.approx([0.03, 0.04, 0.04, None])
    assert [c["verdict"] for c in comps] == ["better", "better", "better", "better"]
    comps[0]["p_value"] = 0.3
    add_verdicts(comps, "auroc")
    assert comps[0]["verdict"] == "not distinguishable" and comps[0]["p_holm"] == pytest.approx(0.3)


def _folds(values):
    return [{"auroc": v} for v in values]


def test_inference_over_k_folds_uses_the_corrected_t_and_keeps_the_paired_t():
    per_arm = {"none": _folds([0.70, 0.70, 0.71, 0.66, 0.70]), "simclr": _folds([0.71, 0.69, 0.74, 0.70, 0.72])}
    leakage = [{"train": 600, "val": 200, "test": 200} for _ in range(5)]
    out = inference(get_task("classification"), "auroc", per_arm, {a: {"auroc": 0} for a in per_arm}, ["none"],
                    leakage)
    (c,) = out["comparisons"]
    assert out["statistics"]["test"] == CORRECTED_T and out["statistics"]["test_train_ratio"] == pytest.approx(0.25)
    d = np.subtract([0.71, 0.69, 0.74, 0.70, 0.72], [0.70, 0.70, 0.71, 0.66, 0.70])
    t = d.mean() / math.sqrt((1 / 5 + 0.25) * d.var(ddof=1))
    assert c["test"] == CORRECTED_T and c["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 4))
    assert c["p_paired_t"] == pytest.approx(stats.ttest_rel([0.71, 0.69, 0.74, 0.70, 0.72],
                                                            [0.70, 0.70, 0.71, 0.66, 0.70]).pvalue)
    assert c["p_paired_t"] < c["p_value"] and c["p_holm"] == pytest.approx(c["p_value"])
    assert list(c)[:10] == ["arm", "baseline", "metric", "test", "delta_mean", "ci95", "p_value", "p_holm",
                            "verdict", "p_paired_t"]


def test_inference_on_a_fixed_split_bootstraps_the_test_examples():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 150)
    scores = {"none": rng.random(150), "kmer": y + 0.2 * rng.random(150)}
    task = get_task("classification")
    frames = [pd.DataFrame({"row": np.arange(150), "fold": 0, "arm": a, "y_true": y, "y_score": s})
              for a, s in scores.items()]
    per_arm = {a: [{k: v for k, v in task.metrics(y, s).items() if k not in ("n", "undefined_reason")}]
               for a, s in scores.items()}
    out = inference(task, "auroc", per_arm, {a: f[0] for a, f in per_arm.items()}, ["none"],
                    [{"train": 500, "val": 100, "test": 150}], frames, None, seed=0)
    by_metric = {c["metric"]: c for c in out["comparisons"]}
    assert out["statistics"]["test"] == BOOTSTRAP and out["statistics"]["holm_family_size"] == 1
    auroc = by_metric["auroc"]
    assert auroc["test"] == BOOTSTRAP and auroc["ci95"][0] > 0 and auroc["verdict"] == "better"
    assert auroc["p_paired_t"] is None and by_metric["accuracy"]["p_holm"] is None
    lines = verdict_lines({"primary_metric": "auroc", "comparisons": out["comparisons"]})
    assert lines == [f"`kmer`: better than `none` (Δ AUROC {auroc['delta_mean']:+.3f}, 95% CI "
                     f"[{auroc['ci95'][0]:+.3f}, {auroc['ci95'][1]:+.3f}], Holm p = < 0.001)"]


def test_smoke_rule_marks_the_quick_demo_and_not_a_full_sized_run():
    from seqssl.demo import demo_config
    quick = {"split": "grouped", "n_folds": 3, "pretraining": {"simclr": [{"fold": 0, "history": []}]},
             "config": demo_config(quick=True).to_dict(), "arms": {}}
    assert smoke_reasons(quick) == ["pretraining capped at 30 steps (pretrain.max_steps < 100)"]
    assert smoke_line(quick).startswith("SMOKE RUN: ") and smoke_line(quick).endswith("not a result.")
    sized = {**quick, "n_folds": 5, "config": {"pretrain": {"max_steps": 5000}, "finetune": {"max_steps": None}}}
    assert smoke_reasons(sized) == [] and smoke_line(sized) is None
    no_pretraining = {**sized, "pretraining": {}, "config": {"pretrain": {"max_steps": 30}, "finetune": {}}}
    assert smoke_reasons(no_pretraining) == []  # the cap is irrelevant when no arm pretrains
    assert smoke_reasons({**sized, "config": {"pretrain": {}, "finetune": {"max_steps": 10}}}) == [
        "fine-tuning capped at 10 steps (finetune.max_steps)"]
    assert smoke_reasons({**sized, "n_folds": 2}) == ["2 folds (< 3)"]
    assert smoke_reasons({**sized, "n_folds": 1, "split": "column"}) == []  # a fixed split is one "fold"


def test_console_summary_leads_with_the_smoke_line_and_the_verdicts():
    from rich.console import Console

    from seqssl.report import print_summary
    comps = [{"arm": "simclr", "baseline": "none", "metric": "auroc", "test": CORRECTED_T, "delta_mean": 0.03,
              "ci95": [0.01, 0.05], "p_value": 0.01, "p_holm": 0.02, "verdict": "better", "p_paired_t": 0.001}]
    results = {"task": "classification", "primary_metric": "auroc", "n_folds": 3, "split": "stratified",
               "comparisons": comps, "config": {"finetune": {"epochs": 3, "select": "best", "max_steps": 4}},
               "arms": {a: {"mean": {"auroc": 0.7}, "std": {"auroc": 0.01}, "folds": [{}] * 3, "runs": [{}] * 3}
                        for a in ("none", "simclr")}}
    out = io.StringIO()
    print_summary(results, Console(file=out, width=300))
    text = out.getvalue().splitlines()
    assert text[0].startswith("SMOKE RUN: fine-tuning capped at 4 steps")
    assert text[1] == "`simclr`: better than `none` (Δ AUROC +0.030, 95% CI [+0.010, +0.050], Holm p = 0.020)"
