"""Paired α/β inputs: ``--v-gene-columns v_a_gene,v_b_gene`` places each chain's CDR1/CDR2 before its CDR3 (the
segments of ``builtin-tcr-ab``), an encoder's segment layouts send β-only inputs to the β segments (per row, so
paired and β-only rows share a batch), and the ``model:sceptr`` arm's pieces that do not need the package."""
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from seqssl.config import ModelConfig
from seqssl.data.dataset import EncodedDataset, encode_table
from seqssl.data.formats.table import table_from_frame
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.data.v_genes import expand_columns, ordered_columns
from seqssl.errors import InputError
from seqssl.models.bundled import BETA_COLUMNS, PAIRED_COLUMNS, PAIRED_LAYOUTS
from seqssl.models.encoder import SequenceEncoder, check_inputs, embed_dataset, load_encoder

PAIRED = ["v_a_gene_cdr1", "v_a_gene_cdr2", "cdr3_a_aa", "v_b_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa"]


def test_two_v_gene_columns_interleave_with_their_cdr3s():
    assert ordered_columns(["cdr3_a_aa", "cdr3_b_aa", "peptide"], ["v_a_gene", "v_b_gene"]) == PAIRED + ["peptide"]
    assert PAIRED == PAIRED_COLUMNS
    # one chain: CDR1, CDR2, CDR3, then the rest (as before)
    assert ordered_columns(["cdr3_b_aa", "peptide"], ["v_b_gene"]) == BETA_COLUMNS + ["peptide"]
    # columns that already place every CDR column are kept as given
    placed = ["v_b_gene_cdr1", "cdr3_b_aa", "v_b_gene_cdr2"]
    assert ordered_columns(placed, ["v_b_gene"]) == placed
    # two V genes without a CDR3 each, or a pairing whose names contradict each other: refused
    with pytest.raises(InputError, match="need their CDR3 columns first"):
        ordered_columns(["cdr3_b_aa"], ["v_a_gene", "v_b_gene"])
    with pytest.raises(InputError, match="v_a_gene is paired with cdr3_b_aa"):
        ordered_columns(["cdr3_b_aa", "peptide"], ["v_a_gene", "v_b_gene"])
    with pytest.raises(InputError, match="v_a_gene is paired with cdr3_b_aa"):
        ordered_columns(["cdr3_b_aa", "cdr3_a_aa"], ["v_a_gene", "v_b_gene"])
    # names without a chain in them are paired by position
    assert ordered_columns(["x", "y", "p"], ["g1", "g2"]) == ["g1_cdr1", "g1_cdr2", "x", "g2_cdr1", "g2_cdr2", "y", "p"]
    # one V gene column and no CDR3: the CDR columns first (as before)
    assert ordered_columns(["peptide"], ["v_b_gene"]) == ["v_b_gene_cdr1", "v_b_gene_cdr2", "peptide"]


def test_expand_columns_is_idempotent_and_sets_the_corpus_columns():
    cfg = types.SimpleNamespace(columns=["cdr3_a_aa", "cdr3_b_aa", "peptide"], v_gene_columns=["v_a_gene", "v_b_gene"],
                                pretrain_data=["corpus.csv"], pretrain_columns=[])
    expand_columns(cfg)
    assert cfg.columns == PAIRED + ["peptide"] and cfg.pretrain_columns == PAIRED
    expand_columns(cfg)
    assert cfg.columns == PAIRED + ["peptide"]


def tiny_paired_encoder() -> SequenceEncoder:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, max_length=96)
    encoder = SequenceEncoder.build(cfg, SequenceTokenizer("protein").vocab_size, 7)
    encoder.set_layouts(PAIRED_LAYOUTS)
    return encoder.eval()


def encode(rows: list[tuple], columns: list[str]) -> EncodedDataset:
    return encode_table(table_from_frame(pd.DataFrame(rows, columns=columns)), columns,
                        SequenceTokenizer("protein"), 96)


BETA_ROWS = [("SGHNS", "FNNNVP", "CASSLGQAYEQYF", "GILGFVFTL"), ("MNHEY", "SVGAGI", "CASSPDRGEVFF", "GILGFVFTL")]
PAIRED_ROWS = [("NSAFQY", "TYSSGN", "CAMSAPEMDSSYKLIF", "SGHRS", "YFSETQ", "CASSLGGLSYNEQFF", "GILGFVFTL")]


def test_a_layout_sends_beta_only_rows_to_the_beta_segments():
    encoder = tiny_paired_encoder()
    beta = encode(BETA_ROWS, ["cdr1b", "cdr2b", "cdr3b", "peptide"]).padded([0, 1])
    got = encoder(beta["input_ids"], beta["attention_mask"], beta["token_type_ids"])
    # the same rows with the segments written by hand (3, 4, 5, 6), read by the encoder without layouts
    placed = torch.where(beta["attention_mask"].bool(), beta["token_type_ids"] + 3, beta["token_type_ids"])
    encoder.set_layouts(None)
    want = encoder(beta["input_ids"], beta["attention_mask"], placed)
    torch.testing.assert_close(got, want)
    unplaced = encoder(beta["input_ids"], beta["attention_mask"], beta["token_type_ids"])
    assert not torch.allclose(got, unplaced)  # (the layout changed something)


def test_paired_and_beta_only_rows_share_a_batch():
    encoder = tiny_paired_encoder()
    mixed = EncodedDataset.concat([encode(PAIRED_ROWS, PAIRED + ["peptide"]),
                                   encode(BETA_ROWS, ["cdr1b", "cdr2b", "cdr3b", "peptide"])])
    together = embed_dataset(encoder, mixed, torch.device("cpu"), batch_size=3)
    apart = np.concatenate([embed_dataset(encoder, mixed.subset([i]), torch.device("cpu")) for i in range(3)])
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_layouts_are_saved_checked_and_silence_the_input_warning(tmp_path):
    encoder = tiny_paired_encoder()
    encoder.save(tmp_path / "enc", SequenceTokenizer("protein"),
                 meta={"inputs": {"columns": PAIRED, "v_gene_columns": ["v_a_gene", "v_b_gene"]}})
    loaded, _ = load_encoder(tmp_path / "enc")
    assert loaded.segment_layouts == PAIRED_LAYOUTS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_inputs(loaded, BETA_COLUMNS + ["peptide"])  # four columns: a layout's
    with pytest.warns(UserWarning, match="trained on"):
        check_inputs(loaded, ["v_b_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa", "x", "y"])  # five: no layout
    with pytest.warns(UserWarning, match="v_a_gene_cdr1 is read in the segment trained on v_b_gene_cdr1"):
        check_inputs(loaded, PAIRED[:3])  # an α-only input would be read by the β segments
    with pytest.warns(UserWarning, match="v_b_gene_cdr1 is read in the segment trained on cdr3_a_aa"):
        check_inputs(loaded, PAIRED[:2] + PAIRED[3:5] + ["cdr3_a_aa", "cdr3_b_aa"])  # all CDR1/CDR2 first
    with pytest.raises(InputError, match="does not fit"):
        loaded.set_layouts({2: [0, 9]})
    with pytest.raises(InputError, match="does not fit"):
        loaded.set_layouts({8: list(range(8))})  # more columns than segments
    with pytest.raises(InputError, match="does not fit"):
        loaded.set_layouts({3: [0, 1]})


def test_sceptr_receptor_frame_reads_each_chain_after_its_cdrs():
    from seqssl.evaluate.arms.sceptr import receptor_frame
    frame = pd.DataFrame({"v_a_gene": ["TRAV21*01"], "cdr3_a_aa": ["CAVRPGGAGPFFVVF"], "v_b_gene": ["TRBV7-2*01"],
                          "cdr3_b_aa": ["CASSLGQAYEQYF"], "peptide": ["GILGFVFTL"]})
    got = receptor_frame(frame, PAIRED + ["peptide"], ["v_a_gene", "v_b_gene"])
    assert got.to_dict("records") == [{"TRAV": "TRAV21*01", "CDR3A": "CAVRPGGAGPFFVVF", "TRBV": "TRBV7-2*01",
                                       "CDR3B": "CASSLGQAYEQYF"}]
    beta = receptor_frame(frame, BETA_COLUMNS + ["peptide"], ["v_b_gene"])
    assert list(beta.columns) == ["TRBV", "CDR3B"]
    with pytest.raises(InputError, match="V gene"):
        receptor_frame(frame, ["cdr3_b_aa", "peptide"], [])


def test_row_vectors_serve_precomputed_vectors_to_the_transfer_modes():
    from seqssl.evaluate.arms.sceptr import RowVectors, row_tokens
    vectors = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    data = EncodedDataset(row_tokens(7), [np.zeros(3, dtype=np.int64)] * 7)
    subset = data.subset([6, 2, 4])
    np.testing.assert_array_equal(embed_dataset(RowVectors(vectors), subset, torch.device("cpu"), batch_size=2),
                                  vectors[[6, 2, 4]])


def test_sceptr_arm_names_variants_and_runs_frozen_modes_only():
    from seqssl.evaluate.arms import resolve_arm
    from seqssl.evaluate.arms.sceptr import SceptrArm
    arm = resolve_arm("model:sceptr/b_sceptr")
    assert isinstance(arm, SceptrArm) and arm.name == "sceptr/b_sceptr" and resolve_arm("model:sceptr").name == "sceptr"
    assert arm.modes(["full", "knn", "probe+kmer", "lora"]) == ["knn", "probe+kmer"]
    run = types.SimpleNamespace(data=None)
    with pytest.raises(InputError, match="only in probe, knn"):
        arm.check_run(run, ["full"])[0]()


def test_sceptr_arm_without_the_package_names_the_extra(monkeypatch):
    import sys

    from seqssl.evaluate.arms import resolve_arms
    monkeypatch.setitem(sys.modules, "sceptr", None)  # import sceptr now raises ImportError, installed or not
    with pytest.raises(InputError, match=r"seqssl\[sceptr\]"):
        resolve_arms(["model:sceptr"])
