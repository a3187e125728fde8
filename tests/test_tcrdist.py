"""TCRdist: seqssl's vectorised implementation equals tcrdist3's own matrices (mouse α and β, human β; CDR3s of
many lengths, so the gap rule is exercised), and the tcrdist arm runs in a table beside kmer and knn."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from crossval_checks import check_binary_metrics_against_predictions
from seqssl.data.v_genes import name_key
from seqssl.transfer.tcrdist import Receptor, gap_positions, germline_loops, loop_distances, tcrdist

REFERENCE = json.loads((Path(__file__).parent / "data" / "tcrdist3_reference.json").read_text())


@pytest.mark.parametrize("organism, short, chain", [("mouse", "a", "alpha"), ("mouse", "b", "beta"),
                                                    ("human", "b", "beta")])
def test_distances_equal_tcrdist3s(organism, short, chain):
    rows, loops = REFERENCE[organism]["rows"], germline_loops(organism)
    receptors = Receptor([rows[f"cdr3_{short}_aa"]], [[loops[name_key(g)] for g in rows[f"v_{short}_gene"]]])
    expected = np.array(REFERENCE[organism][f"pw_{chain}"])
    assert len({len(s) for s in rows[f"cdr3_{short}_aa"]}) >= 4  # several lengths: gaps in play
    np.testing.assert_array_equal(tcrdist(receptors, receptors), expected)


def test_both_chains_add_up_and_the_cdr3_gap_costs_three_times_four():
    rows, loops = REFERENCE["mouse"]["rows"], germline_loops("mouse")
    both = Receptor([rows["cdr3_a_aa"], rows["cdr3_b_aa"]],
                    [[loops[name_key(g)] for g in rows[f"v_{c}_gene"]] for c in "ab"])
    np.testing.assert_array_equal(tcrdist(both, both), np.array(REFERENCE["mouse"]["pw_alpha"])
                                  + np.array(REFERENCE["mouse"]["pw_beta"]))
    # one inserted residue past the trimmed ends and the gap window: 4 per gap position, weight 3
    assert 3 * loop_distances(["CASSLGQETQYF"], ["CASSLGGQETQYF"], ntrim=3, ctrim=2, gap_search=True)[0, 0] == 12
    assert list(gap_positions(12)) == [5, 6, 7] and list(gap_positions(7)) == [3, 4]


def test_the_tcrdist_arm_runs_beside_knn_and_refuses_unpaired_columns(small_binding_csv, tmp_path, capsys):
    out = tmp_path / "cv"
    args = ["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
            "label", "--v-gene-columns", "v_b_gene", "--unknown-v-genes", "skip", "--arms", "knn,tcrdist",
            "--folds", "2", "--quiet"]
    assert run_cli([*args, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    runs = results["arms"]["tcrdist"]["runs"]
    assert runs[0]["distance"] == "tcrdist" and runs[0]["germline_loops"] is True
    assert results["arms"]["tcrdist"]["mean"]["auroc"] > 0.5
    assert check_binary_metrics_against_predictions(out) == 2 * 2  # knn, tcrdist: scikit-learn on the scores
    assert {(c["arm"], c["baseline"]) for c in results["comparisons"]} == {("tcrdist", "knn")}
    frame = small_binding_csv.read_text().splitlines()
    two = tmp_path / "two.csv"
    two.write_text("\n".join([frame[0] + ",cdr3_other"] + [f"{line},CASSLGQETQYF" for line in frame[1:]]) + "\n")
    assert run_cli(["crossval", "--data", str(two), "--columns", "cdr3_b_aa,cdr3_other,peptide", "--label-column",
                    "label", "--v-gene-columns", "v_b_gene", "--unknown-v-genes", "skip", "--arms", "tcrdist",
                    "--folds", "2", "--quiet", "--out", str(tmp_path / "bad")]) == 2
    assert "tcrdist pairs each CDR3 column with a V gene column" in capsys.readouterr().err
