"""Lengths follow the data or the encoder, not a fixed 64; truncation keeps both members of a pair."""
import json

import numpy as np
import pandas as pd
import yaml

from conftest import run_cli
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.data.tokenizers.vocab import CLS_ID, SEP_ID, truncate_encoded


def test_pair_truncation_cuts_the_longer_member_and_keeps_both():
    tok = SequenceTokenizer("protein")
    enc = tok.encode("ACDEFGHIKLMNPQRSTVWY", "KAYNV")  # 20 + 5 residues, 28 tokens with specials
    cut = truncate_encoded(enc, 16)
    assert len(cut.input_ids) == 16 and cut.truncated
    ids, types = cut.input_ids, cut.token_type_ids
    assert ids[0] == CLS_ID and ids[-1] == SEP_ID and (ids == SEP_ID).sum() == 2
    first, second = ids[1:int((types == 0).sum()) - 1], ids[int((types == 0).sum()):-1]
    assert tok.decode(second) == "KAYNV"  # the shorter member keeps every residue
    assert tok.decode(first) == "ACDEFGHI"  # the longer one loses its end: 13 residues fit, 5 are taken
    both_long = truncate_encoded(tok.encode("A" * 30, "C" * 30), 11)
    assert np.bincount(both_long.token_type_ids.astype(int)).tolist() == [6, 5]  # 4 + 4 residues


def test_crossval_sizes_the_model_to_the_data(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"sequence": "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), int(rng.integers(60, 110)))),
             "label": int(i % 2)} for i in range(60)]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(path), "--columns", "sequence", "--label-column", "label",
                    "--arms", "none,kmer", "--mode", "probe", "--folds", "2", "--out", str(out), "--quiet"]) == 0
    longest = max(len(r["sequence"]) for r in rows) + 2
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["max_length"] == longest
    assert json.loads((out / "results.json").read_text())["config"]["model"]["max_length"] == longest


def test_truncated_rows_are_counted_in_results(tmp_path, small_binding_csv):
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--arms", "kmer", "--folds", "2", "--max-length", "20",
                    "--too-long", "truncate", "--out", str(out), "--quiet"]) == 0
    frame = pd.read_csv(small_binding_csv)
    expected = int(((frame["cdr3_b_aa"].str.len() + frame["peptide"].str.len() + 3) > 20).sum())
    assert expected > 0
    assert json.loads((out / "results.json").read_text())["truncated_rows"] == expected


def test_finetune_and_embed_use_the_encoders_own_length(tmp_path, small_corpus_csv, small_binding_csv):
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "mlm",
                    "--max-steps", "1", "--batch-size", "16", "--max-length", "256", "--out", str(enc),
                    "--quiet"]) == 0
    ft = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--encoder", str(enc), "--max-steps", "1", "--epochs", "1",
                    "--out", str(ft), "--quiet"]) == 0
    assert yaml.safe_load((ft / "config.yaml").read_text())["model"]["max_length"] == 256
    emb = tmp_path / "e.parquet"
    assert run_cli(["embed", "--encoder", str(enc), "--data", str(small_binding_csv), "--columns",
                    "cdr3_b_aa,peptide", "--max-length", "12", "--too-long", "truncate", "--out", str(emb)]) == 0
    assert len(pd.read_parquet(emb)) == len(pd.read_csv(small_binding_csv))
    assert run_cli(["embed", "--encoder", str(enc), "--data", str(small_binding_csv), "--columns",
                    "cdr3_b_aa,peptide", "--max-length", "12", "--out", str(tmp_path / "f.parquet")]) == 2
