"""Encoders state their inputs: a saved encoder records the columns (segments) it was trained on, its card
shows them and an example that uses them, and giving it other inputs warns with the fix."""
import json
import warnings

import pandas as pd
import pytest

import seqssl
from conftest import run_cli
from seqssl.models.bundled import model_directory

ROWS = pd.DataFrame({"v_b_gene": ["TRBV2*01", "TRBV28*01"], "cdr3_b_aa": ["CASSLGQAYEQYF", "CASSFSVGAGGPRETQYF"]})


def test_the_bundled_encoder_warns_on_a_cdr3_alone_and_not_on_its_own_inputs():
    with pytest.warns(UserWarning, match=r"trained on v_b_gene_cdr1 \| v_b_gene_cdr2 \| cdr3_b_aa.*--v-gene-columns "
                                         r"v_b_gene"):
        seqssl.embed(ROWS, encoder="builtin-tcr", columns=["cdr3_b_aa"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        vectors = seqssl.embed(ROWS, encoder="builtin-tcr", columns=["cdr3_b_aa"], v_gene_columns=["v_b_gene"])
    assert vectors.shape == (2, 64)


def test_the_bundled_card_shows_the_inputs_and_its_example_runs():
    card = (model_directory("builtin-tcr") / "README.md").read_text()
    assert "## Inputs" in card and "v_gene_columns=['v_b_gene']" in card
    code = card.split("```python\n", 1)[1].split("\n\n", 1)[0]  # the seqssl lines of the example
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        exec(code, {})


def test_a_pretrained_encoder_records_its_columns(small_corpus_csv, tmp_path):
    out = tmp_path / "enc"
    pairs = tmp_path / "pairs.csv"
    corpus = pd.read_csv(small_corpus_csv).iloc[:200]
    corpus.assign(peptide="KAYNVTQAF").to_csv(pairs, index=False)
    assert run_cli(["pretrain", "--data", str(pairs), "--columns", "cdr3_b_aa,peptide", "--max-steps", "2",
                    "--batch-size", "32", "--out", str(out), "--quiet"]) == 0
    meta = json.loads((out / "seqssl.json").read_text())
    assert meta["config"]["data"]["columns"] == ["cdr3_b_aa", "peptide"]
    assert "Trained on 2 sequence column(s)" in (out / "README.md").read_text()
    with pytest.warns(UserWarning, match="give 2 columns in this order: cdr3_b_aa | peptide"):
        seqssl.embed(pd.DataFrame({"a": ["CASSL"]}), encoder=str(out), columns=["a"])
