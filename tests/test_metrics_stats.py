import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from seqssl.evaluate.stats import paired_comparison
from seqssl.metrics import binary_metrics, regression_metrics


def test_binary_metrics_match_sklearn_and_handle_one_class():
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 200), rng.random(200)
    m = binary_metrics(y, s)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert m["accuracy"] == pytest.approx(np.mean((s >= 0.5) == y))
    one = binary_metrics(np.ones(10), rng.random(10))
    assert one["auroc"] is None and "one class" in one["undefined_reason"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=40))
def test_binary_metrics_equal_sklearn_with_ties(pairs):
    """Scores on a 7-value grid, so ties (within and across classes) are the rule, not the exception."""
    y = np.array([p[0] for p in pairs], dtype=float)
    s = np.array([p[1] for p in pairs], dtype=float) / 6
    m = binary_metrics(y, s)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, s >= 0.5))
    if len(np.unique(y)) < 2:
        assert m["auroc"] is None and m["average_precision"] is None
        return
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert m["average_precision"] == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_regression_metrics_match_scipy():
    rng = np.random.default_rng(1)
    y = rng.normal(size=50)
    p = y + rng.normal(size=50)
    m = regression_metrics(y, p)
    assert m["spearman"] == pytest.approx(stats.spearmanr(y, p)[0])
    assert m["mse"] == pytest.approx(np.mean((y - p) ** 2))


def test_paired_comparison_matches_scipy_and_hand_ci():
    a, b = [0.71, 0.69, 0.74, 0.70, 0.72], [0.70, 0.70, 0.71, 0.66, 0.70]
    c = paired_comparison(a, b)
    d = np.subtract(a, b)
    assert c["delta_mean"] == pytest.approx(d.mean())
    assert c["p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert c["ci95"] == pytest.approx([d.mean() - half, d.mean() + half])
    assert paired_comparison([0.5, None], [0.4, 0.3])["n_folds"] == 1


def test_convergence_note_names_capped_runs_only():
    from seqssl.report.notes import convergence_note
    results = {"n_folds": 2, "config": {"finetune": {"epochs": 30}},
               "arms": {"none": {"runs": [{"stopped_early": False}, {"stopped_early": True}]},
                        "kmer": {"runs": [{}, {}]}}}
    note = convergence_note(results)
    assert "30-epoch cap" in note and "none 1/2" in note and "kmer" not in note
    results["arms"]["none"]["runs"][0]["stopped_early"] = True
    assert convergence_note(results) is None


def test_non_finite_scores_leave_the_ranking_metrics_undefined():
    m = binary_metrics(np.array([0, 1, 0, 1]), np.array([0.1, np.nan, 0.3, 0.9]))
    assert m["auroc"] is None and m["average_precision"] is None and m["undefined_reason"] == "non-finite scores"
