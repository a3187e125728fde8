"""``model:sceptr`` with the real ``sceptr`` package (``make test-sceptr``: its own environment, since sceptr pins
pandas 2; skipped where it is not installed): the arm's vectors are SCEPTR's own for the same receptors, and the
arm runs in a cross-validation beside the k-mer baseline, in the frozen modes."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli

sceptr = pytest.importorskip("sceptr")
pytestmark = pytest.mark.sceptr

ARGS = ["--columns", "cdr3_b_aa,peptide", "--v-gene-columns", "v_b_gene", "--unknown-v-genes", "skip",
        "--label-column", "label", "--quiet"]


def test_the_arm_gives_sceptrs_own_vectors(small_binding_csv):
    import types

    from seqssl.evaluate.arms.sceptr import SceptrArm
    from seqssl.models.bundled import BETA_COLUMNS
    frame = pd.read_csv(small_binding_csv, dtype=str, keep_default_na=False)
    frame = frame[frame["v_b_gene"].str.startswith("TRBV")].iloc[:30].reset_index(drop=True)
    run = types.SimpleNamespace(cache={}, cfg=types.SimpleNamespace(data=types.SimpleNamespace(
        organism="human", v_gene_columns=["v_b_gene"])), data=types.SimpleNamespace(
        table=types.SimpleNamespace(frame=frame), columns=BETA_COLUMNS + ["peptide"]))
    arm = SceptrArm("b_sceptr")
    with pytest.warns(UserWarning, match="TRBV12-1"):  # a human pseudogene SCEPTR refuses
        got = arm.vectors(run)
    refused = frame["v_b_gene"].str.startswith("TRBV12-1")
    assert arm.unread_v_genes and sum(arm.unread_v_genes.values()) == refused.sum() > 0
    model = sceptr.variant.b_sceptr()
    want = model.calc_vector_representations(
        pd.DataFrame({"TRBV": frame["v_b_gene"].where(~refused, None), "CDR3B": frame["cdr3_b_aa"]}))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    kept = ~refused.to_numpy()
    own = model.calc_vector_representations(pd.DataFrame({"TRBV": frame["v_b_gene"][kept],
                                                          "CDR3B": frame["cdr3_b_aa"][kept]}))
    np.testing.assert_allclose(got[kept], own, rtol=1e-5, atol=1e-6)  # rows SCEPTR reads whole are its own
    assert np.linalg.matrix_rank(got) > 5


def test_sceptr_in_a_crossval_beside_kmers(tmp_path, small_binding_csv):
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), *ARGS, "--arms", "kmer,model:sceptr",
                    "--mode", "knn,probe+kmer,full", "--folds", "2", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"sceptr[knn]", "sceptr[probe+kmer]"} <= set(results["arms"])
    assert not any(name.startswith("sceptr[full") for name in results["arms"])  # frozen modes only
    for name in ("sceptr[knn]", "sceptr[probe+kmer]"):
        assert 0.5 < results["arms"][name]["mean"]["auroc"] <= 1
