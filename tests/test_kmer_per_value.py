"""kmer[per-value]: one k-mer model per value of the last column, the joint model for values it cannot fit;
its row sits beside kmer in every binary pair table and every other row is compared with both."""
import json

import numpy as np
import pytest

from conftest import run_cli
from seqssl.evaluate.rows import baseline_labels
from seqssl.metrics import auroc
from seqssl.transfer.kmer import fit_kmer_per_value


def _rows(rng, n, peptide, motif):
    """CDR3-like strings; binders of ``peptide`` carry ``motif`` (a rule of their own per peptide)."""
    rows, y = [], []
    for i in range(n):
        core = "".join(rng.choice(list("AGSTDEKLNQR"), 8))
        label = i % 2
        if label:
            core = core[:3] + motif + core[3:]
        rows.append(("CASS" + core + "F", peptide))
        y.append(label)
    return rows, np.array(y, dtype=float)


def test_per_value_models_learn_each_peptides_own_rule_and_fall_back_to_the_joint_model():
    rng = np.random.default_rng(0)
    parts = [_rows(rng, 160, "KAYNVTQAF", "WW"), _rows(rng, 160, "YLQPRTFLL", "HH")]
    rows = parts[0][0] + parts[1][0]
    y = np.concatenate([parts[0][1], parts[1][1]])
    order = rng.permutation(len(rows))
    rows, y = [rows[i] for i in order], y[order]
    fit, val, test = np.arange(0, 200), np.arange(200, 260), np.arange(260, 320)
    model, details = fit_kmer_per_value([rows[i] for i in fit], y[fit], [rows[i] for i in val], y[val],
                                        "pair-classification", max_k=2)
    assert set(details["per_value_strengths"]) == {"KAYNVTQAF", "YLQPRTFLL"}
    scores = model.predict([rows[i] for i in test])
    assert auroc(y[test], scores) > 0.95
    unseen = [("CASSAGWWSTF", "GILGFVFTL"), ("CASSAGSTF", "GILGFVFTL")]
    np.testing.assert_allclose(model.predict(unseen), model.joint.predict(unseen))


def test_rows_are_compared_with_kmer_and_kmer_per_value():
    present = ["none", "simclr", "kmer", "kmer[per-value]"]
    assert baseline_labels("simclr", "kmer", present) == ["kmer", "kmer[per-value]"]
    assert baseline_labels("simclr", "none", present) == ["none"]
    moded = ["none[full]", "none[probe]", "simclr[full]", "kmer@0.1", "kmer[per-value]@0.1", "kmer", "kmer[per-value]"]
    assert baseline_labels("simclr[full]@0.1", "kmer", moded) == ["kmer@0.1", "kmer[per-value]@0.1"]


@pytest.mark.parametrize("columns, rows", [("cdr3_b_aa,peptide", {"kmer", "kmer[per-value]"}),
                                           ("cdr3_b_aa", {"kmer"})])
def test_the_row_appears_on_pair_data_only(small_binding_csv, tmp_path, columns, rows):
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", columns, "--label-column", "label",
                    "--arms", "kmer", "--folds", "2", "--out", str(out), "--quiet"]) == 0
    assert set(json.loads((out / "results.json").read_text())["arms"]) == rows


def test_per_value_models_on_two_chains_count_k_mers_without_crossing_them():
    rng = np.random.default_rng(1)
    rows = [("CAV" + "".join(rng.choice(list("AGST"), 5)), "CASS" + "".join(rng.choice(list("LQR"), 5)), p)
            for p in ("KAYNVTQAF", "YLQPRTFLL") for _ in range(40)]
    y = np.tile([0.0, 1.0], 40)
    model, _ = fit_kmer_per_value(rows[:60], y[:60], rows[60:], y[60:], "pair-classification", max_k=2)
    for features, _ in model.models.values():
        assert features.categories is None and not features.crossed  # CDR3β is not a peptide to cross with
