"""The bundled TCR encoder (``builtin-tcr``): its recorded corpus hash matches the corpus rebuilt from bundled data,
no labelled CDR3β was in that corpus, and it loads, embeds, serves as an arm and as a starting point."""
import json

import numpy as np
import pandas as pd
import pytest

import seqssl
from conftest import run_cli
from seqssl.data.builtin import builtin_path
from seqssl.models.bundled import bundled_directory, corpus_sha256, labelled_cdr3s, provenance, training_corpus

DIRECTORY = bundled_directory("builtin-tcr")


def test_recorded_corpus_hash_matches_the_corpus_it_names():
    record = provenance("builtin-tcr")
    corpus = training_corpus()
    assert corpus_sha256(corpus) == record["corpus_sha256"]
    assert len(corpus) == record["corpus_rows"] == record["training_rows"] + record["held_out_rows"]
    assert not set(corpus["cdr3_b_aa"]) & labelled_cdr3s()  # the demo's CDR3β were never pretrained on
    background = pd.read_csv(builtin_path("background_cdr3b"))
    assert len(set(background["cdr3_b_aa"]) & labelled_cdr3s()) > 0  # (so the removal did something)
    assert record["config"]["pretrain"]["objective"] == "mlm+simclr"
    assert record["chosen_lr"] in [c["lr"] for c in record["candidates"]]
    chosen = min(record["candidates"], key=lambda c: c["held_out"]["loss"])
    assert chosen["lr"] == record["chosen_lr"]  # chosen on the held-out corpus loss, as recorded


def test_the_bundled_encoder_is_small_and_loads_by_name():
    size = sum(f.stat().st_size for f in DIRECTORY.rglob("*") if f.is_file())
    assert size < 5e6
    from transformers import AutoModel
    model = AutoModel.from_pretrained(str(DIRECTORY))
    assert model.config.type_vocab_size == 4
    frame = pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False).iloc[:40]
    frame = frame[frame["v_b_gene"] != ""]
    vectors = seqssl.embed(frame, "builtin-tcr", ["cdr3_b_aa"], v_gene_columns=["v_b_gene"])
    assert vectors.shape == (len(frame), model.config.hidden_size) and np.isfinite(vectors).all()
    # distinct receptors get distinct embeddings (a collapsed encoder would not)
    assert np.linalg.matrix_rank(vectors[:20]) > 5


def test_builtin_arm_and_continued_pretraining(tmp_path, small_binding_csv):
    from seqssl.evaluate.arms import resolve_arm
    assert resolve_arm("model:builtin-tcr").name == "builtin-tcr"
    corpus = tmp_path / "corpus.csv"
    pd.read_csv(builtin_path("background_cdr3b"), dtype=str).iloc[:300].to_csv(corpus, index=False)
    out = tmp_path / "continued"
    assert run_cli(["pretrain", "--init", "builtin-tcr", "--data", str(corpus), "--columns", "cdr3_b_aa",
                    "--v-gene-columns", "v_b_gene", "--objective", "mlm+simclr", "--max-steps", "2",
                    "--batch-size", "32", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["type_vocab_size"] == 4
    assert json.loads((out / "seqssl.json").read_text())["init"] == "builtin-tcr"


@pytest.mark.slow
def test_builtin_arm_in_a_crossval(tmp_path, small_binding_csv):
    out = tmp_path / "cv"
    (tmp_path / "c.yaml").write_text("crossval:\n  embedding_map: false\n")
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--v-gene-columns", "v_b_gene", "--unknown-v-genes", "skip", "--arms",
                    "kmer,model:builtin-tcr", "--mode", "probe,knn", "--folds", "2", "--config",
                    str(tmp_path / "c.yaml"), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"builtin-tcr", "kmer"} <= set(results["arms"]) or any("builtin-tcr" in a for a in results["arms"])
