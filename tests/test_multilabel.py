"""Multilabel targets: both layouts, unmeasured entries, MAP against scikit-learn, per-target linear models."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from seqssl.data.formats.readers import read_table
from seqssl.errors import InputError
from seqssl.metrics import multilabel_metrics
from seqssl.tasks.labels.multilabel import multilabel_targets, stratification_labels
from seqssl.transfer.kmer import PerTargetLogistic, select_linear_model


def _table(tmp_path, frame, name="t.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return read_table(str(path))


def test_long_layout_groups_inputs_and_leaves_unmeasured_targets_nan(tmp_path):
    frame = pd.DataFrame({"smiles": ["CCO", "CCO", "c1ccccc1", "CCN", "CCO"],
                          "protein": ["BRD4", "sEH", "HSA", "BRD4", "BRD4"], "binds": [1, 0, 0, 1, 1]})
    table, labels, targets = multilabel_targets(_table(tmp_path, frame), ["smiles"], ["binds"], "protein")
    assert targets == ["BRD4", "HSA", "sEH"]
    assert table.frame["smiles"].tolist() == ["CCO", "c1ccccc1", "CCN"]
    assert table.lines.tolist() == [2, 4, 5]  # source lines of each input's first row
    expected = np.array([[1, np.nan, 0], [np.nan, 0, np.nan], [1, np.nan, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(stratification_labels(labels), [1, 0, 1])


def test_long_layout_refuses_contradicting_measurements(tmp_path):
    frame = pd.DataFrame({"smiles": ["CCO", "CCO"], "protein": ["BRD4", "BRD4"], "binds": [1, 0]})
    with pytest.raises(InputError, match=r"line 3.*measured twice.*also on line 2"):
        multilabel_targets(_table(tmp_path, frame), ["smiles"], ["binds"], "protein")


def test_wide_layout_reads_empty_cells_as_unmeasured_and_rejects_non_binary(tmp_path):
    frame = pd.DataFrame({"smiles": ["CCO", "CCN"], "a": [1, None], "b": [0, 1]})
    _, labels, targets = multilabel_targets(_table(tmp_path, frame), ["smiles"], ["a", "b"], None)
    assert targets == ["a", "b"]
    np.testing.assert_array_equal(labels, [[1, 0], [np.nan, 1]])
    bad = pd.DataFrame({"smiles": ["CCO", "CCN"], "a": [1, 2], "b": [0, 1]})
    with pytest.raises(InputError, match=r"line 3, column 'a': label '2' is not binary"):
        multilabel_targets(_table(tmp_path, bad, "bad.csv"), ["smiles"], ["a", "b"], None)


def test_map_is_the_mean_over_targets_of_sklearn_average_precision():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < 0.3).astype(float)
    y[rng.random((200, 3)) < 0.25] = np.nan
    y[:, 2] = np.where(np.isnan(y[:, 2]), np.nan, 0.0)  # a target with one class: left out, and named
    scores = rng.random((200, 3))
    out = multilabel_metrics(y, scores, ["p", "q", "r"])
    per_target = []
    for j in range(2):
        keep = ~np.isnan(y[:, j])
        ap = average_precision_score(y[keep, j], scores[keep, j])
        assert out[f"average_precision@{'pq'[j]}"] == pytest.approx(ap)
        assert out[f"auroc@{'pq'[j]}"] == pytest.approx(roc_auc_score(y[keep, j], scores[keep, j]))
        per_target.append(ap)
    assert out["map"] == pytest.approx(np.mean(per_target))
    assert out["average_precision@r"] is None and "r" in out["undefined_reason"]
    measured = ~np.isnan(y)
    assert out["accuracy"] == pytest.approx(((scores >= 0.5) == (y == 1))[measured].mean())


def test_per_target_logistic_fits_each_target_on_its_measured_rows_only():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5))
    y = np.stack([(x[:, 0] > 0), (x[:, 1] > 0)], axis=1).astype(float)
    y[:150, 1] = np.nan  # second target measured on the last 150 rows only
    model = PerTargetLogistic(1.0, seed=0).fit(x, y)
    from sklearn.linear_model import LogisticRegression
    reference = LogisticRegression(C=1.0, solver="liblinear", max_iter=2000, random_state=0).fit(x[150:], y[150:, 1])
    np.testing.assert_allclose(model.predict_proba(x)[:, 1], reference.predict_proba(x)[:, 1])
    chosen, strength, value = select_linear_model(x[:200], y[:200], x[200:], y[200:], "multilabel")
    assert value > 0.9 and chosen.coef_.shape == (2, 5)
