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


# --- builtin-tcr-ab: the paired-chain encoder ------------------------------------------------------------------
PAIRED_DIRECTORY = bundled_directory("builtin-tcr-ab")


def dash_pairs(n: int) -> pd.DataFrame:
    return pd.read_csv(builtin_path("dash_mouse_paired"), dtype=str).iloc[:n].assign(peptide="SSYRRPVGI")


def test_paired_encoder_records_how_it_was_chosen_and_trained():
    from seqssl.models.bundled import PAIRED_COLUMNS, PAIRED_LAYOUTS
    record = provenance("builtin-tcr-ab")
    assert record["config"]["model"]["segments"] == 7 and record["config"]["pretrain"]["objective"] == "mlm+simclr"
    chosen = min(record["candidates"], key=lambda c: c["held_out"]["loss"])
    assert chosen["lr"] == record["chosen_lr"] == record["config"]["pretrain"]["lr"]  # chosen on held-out corpus loss
    assert record["training_rows"] + record["held_out_rows"] == record["paired_rows"] + record["beta_only_rows"]
    assert record["rows_with_labelled_cdr3_removed"] > 0  # the labelled CDR3s were looked for, and some removed
    history = pd.read_csv(PAIRED_DIRECTORY / "pretrain_history.csv")
    assert history["step"].iloc[-1] == record["config"]["pretrain"]["max_steps"]
    assert history["loss"].tail(5).mean() < history["loss"].head(5).mean() - 1  # it learned
    meta = json.loads((PAIRED_DIRECTORY / "seqssl.json").read_text())
    assert meta["inputs"]["columns"] == PAIRED_COLUMNS
    assert {int(k): v for k, v in meta["segment_layouts"].items()} == PAIRED_LAYOUTS


def test_paired_encoder_reads_paired_and_beta_only_receptors():
    size = sum(f.stat().st_size for f in PAIRED_DIRECTORY.rglob("*") if f.is_file())
    assert size < 5e6
    pairs = dash_pairs(30)
    with_alpha = seqssl.embed(pairs, "builtin-tcr-ab", ["cdr3_a_aa", "cdr3_b_aa", "peptide"],
                              v_gene_columns=["v_a_gene", "v_b_gene"], organism="mouse")
    beta_only = seqssl.embed(pairs, "builtin-tcr-ab", ["cdr3_b_aa", "peptide"], v_gene_columns=["v_b_gene"],
                             organism="mouse")
    assert with_alpha.shape == beta_only.shape == (30, 64)
    assert np.linalg.matrix_rank(with_alpha) > 5 and np.linalg.matrix_rank(beta_only) > 5
    assert not np.allclose(with_alpha, beta_only)  # the α chain changes the embedding


@pytest.mark.slow
def test_paired_encoder_corpus_hash_rebuilds():
    """The corpus rebuilt from OLGA's draws (minutes) has the recorded hashes (CSV text, writer-independent) and no
    labelled CDR3."""
    from seqssl.models.bundled import corpus_sha256, labelled_paired_cdr3s, paired_training_corpus
    record = provenance("builtin-tcr-ab")
    words = record["command"].split()
    n = int(words[words.index("--n") + 1]) if "--n" in words else 100_000
    seed = int(words[words.index("--seed") + 1]) if "--seed" in words else 0
    paired, beta, counts = paired_training_corpus(n, seed)
    assert counts["paired_rows"] == record["paired_rows"] and counts["beta_only_rows"] == record["beta_only_rows"]
    assert corpus_sha256(paired) == record["corpus_csv_sha256"]["paired"]
    assert corpus_sha256(beta) == record["corpus_csv_sha256"]["beta_only"]
    cdr3s = set(paired["cdr3_a_aa"]) | set(paired["cdr3_b_aa"]) | set(beta["cdr3_b_aa"])
    assert not cdr3s & labelled_paired_cdr3s()
