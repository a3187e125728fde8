"""Seed 002's text tasks: GLUE-format sentence-pair TSV files (RTE: two classes, MNLI: three) read from a
local copy, with a BPE vocabulary; and neighbouring-chunk positives that do not overlap."""
import json

import numpy as np
import pandas as pd

from conftest import run_cli
from seqssl.config import PretrainConfig
from seqssl.data.positives import chunk_separations, neighbour_chunks
from seqssl.data.readers import read_table

# hand-written premise / hypothesis pairs in GLUE's layout; quotes are plain characters in GLUE TSV
PAIRS = [
    ('The cat sat on the mat all afternoon.', 'A cat was on the mat.', "entailment"),
    ('"We will win," the coach said on Monday.', 'The coach spoke on Monday.', "entailment"),
    ('Rain fell across the valley for three days.', 'The valley stayed dry all week.', "contradiction"),
    ('She bought bread, milk and eggs at the market.', 'She went shopping.', "entailment"),
    ('The museum opens at nine and closes at five.', 'The museum is open at night.', "contradiction"),
    ('He plays the violin in a small orchestra.', 'He owns a red bicycle.', "neutral"),
    ('The bridge was built in 1890 of iron.', 'The bridge is made of wood.', "contradiction"),
    ('Children laughed while the clown juggled.', 'The children were sad.', "contradiction"),
    ('The report was sent to the "board" on Friday.', 'Someone sent a report.', "entailment"),
    ('A farmer grows wheat near the river.', 'The farmer has three sons.', "neutral"),
    ('The train left the station two minutes late.', 'The train departed.', "entailment"),
    ('Our team moved offices in the spring.', 'The offices have blue walls.', "neutral"),
]


def glue_tsv(path, n_rows: int, labels: dict) -> None:
    lines = ["index\tsentence1\tsentence2\tlabel"]
    for i in range(n_rows):
        first, second, label = PAIRS[i % len(PAIRS)]
        lines.append(f"{i}\t{first} (case {i})\t{second}\t{labels[label]}")
    path.write_text("\n".join(lines) + "\n")


def test_glue_tsv_keeps_quotes_as_characters(tmp_path):
    path = tmp_path / "train.tsv"
    glue_tsv(path, 30, {"entailment": "entailment", "neutral": "neutral", "contradiction": "contradiction"})
    table = read_table(path)
    assert len(table) == 30 and list(table.frame.columns) == ["index", "sentence1", "sentence2", "label"]
    assert any(s.startswith('"We will win,"') for s in table.frame["sentence1"])


def test_rte_and_mnli_layouts_cross_validate_with_bpe(tmp_path):
    for name, labels in (("rte", {"entailment": "entailment", "neutral": "not_entailment",
                                  "contradiction": "not_entailment"}),
                         ("mnli", {"entailment": "entailment", "neutral": "neutral",
                                   "contradiction": "contradiction"})):
        path = tmp_path / f"{name}.tsv"
        glue_tsv(path, 60, labels)
        out = tmp_path / f"cv-{name}"
        args = ["crossval", "--data", str(path), "--columns", "sentence1,sentence2", "--label-column", "label",
                "--task", "multiclass", "--alphabet", "text", "--arms", "none,kmer", "--mode", "probe",
                "--folds", "2", "--max-length", "96", "--seed", "0", "--out", str(out), "--quiet"]
        assert run_cli(args) == 0, name
        results = json.loads((out / "results.json").read_text())
        assert results["classes"] == sorted(set(labels.values()))
        assert len(pd.read_csv(out / "predictions.csv")) == 2 * 60  # every row once per arm


def test_neighbour_chunks_do_not_overlap_by_default():
    cfg = PretrainConfig(chunk_length=64)
    low, high = chunk_separations(cfg)
    rng = np.random.default_rng(0)
    overlapping = 0
    for n in rng.integers(130, 600, 300):
        a, b = neighbour_chunks(np.arange(n), cfg.chunk_length, low, high, rng)
        overlapping += bool(set(a.tolist()) & set(b.tolist()))
    assert overlapping == 0
