"""Seed 002's text tasks: GLUE-format sentence-pair TSV files (RTE: two classes, MNLI: three) read from a
local copy, with a BPE vocabulary; and neighbouring-chunk positives that do not overlap."""
import json

import numpy as np
import pandas as pd

from conftest import run_cli
from seqssl.config import PretrainConfig
from seqssl.data.formats.readers import read_table
from seqssl.positives import chunk_separations, neighbour_chunks

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


def _documents(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "rain", "fell", "in", "valley", "bread", "was", "warm"]
    docs = []
    for _ in range(n):
        sentences = [" ".join(rng.choice(words, int(rng.integers(3, 8)))).capitalize() + rng.choice([".", "!", "?"])
                     for _ in range(int(rng.integers(6, 12)))]
        docs.append(" ".join(sentences))
    return docs


def test_sentence_chunks_are_whole_neighbouring_sentences():
    from seqssl.data.tokenizers.bpe import BPETokenizer
    from seqssl.positives import sentence_chunks, sentence_end_table
    docs = _documents(40)
    tokenizer = BPETokenizer.train(docs, vocab_size=300, min_frequency=1)
    ends = sentence_end_table(tokenizer)
    rng = np.random.default_rng(1)
    for doc in docs:
        ids = tokenizer.encode(doc).input_ids[1:-1]
        a, b = sentence_chunks(ids, ends, 2, 2, 4, rng, None)
        for passage in (a, b):
            text = tokenizer.decode(passage).strip()
            assert text[-1] in ".!?" and sum(text.count(c) for c in ".!?") == 2  # two whole sentences
            assert text in doc
        first, second = doc.index(tokenizer.decode(a).strip()), doc.index(tokenizer.decode(b).strip())
        assert not set(range(first, first + len(tokenizer.decode(a)))) & set(range(second, second + len(
            tokenizer.decode(b)))) or first == second  # disjoint passages (separation ≥ the chunk)


def test_neighbours_stream_and_sentences_run_end_to_end(tmp_path):
    from seqssl.data.dataset import EncodedDataset
    from seqssl.data.stream import ArrowCorpus, tokenize_to_arrow
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.positives import row_ids
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(_documents(80)) + "\n")
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"
                    "pretrain:\n  positives: neighbours\n  chunk_unit: sentences\n  chunk_length: 2\n")
    base = ["pretrain", "--data", str(docs), "--alphabet", "text", "--objective", "simclr", "--max-steps", "3",
            "--batch-size", "16", "--config", str(tiny), "--quiet"]
    assert run_cli([*base, "--out", str(tmp_path / "memory")]) == 0
    # streamed: neighbouring chunks of long proteins (a text vocabulary is trained in memory only)
    rng = np.random.default_rng(3)
    proteins = tmp_path / "proteins.csv"
    pd.DataFrame({"sequence": ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 120)) for _ in range(40)]}).to_csv(
        proteins, index=False)
    (tmp_path / "chunks.yaml").write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n"
                                          "  intermediate_size: 32\npretrain:\n  positives: neighbours\n"
                                          "  chunk_length: 16\n")
    assert run_cli(["pretrain", "--data", str(proteins), "--columns", "sequence", "--objective", "simclr",
                    "--max-steps", "3", "--batch-size", "16", "--config", str(tmp_path / "chunks.yaml"), "--stream",
                    "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "stream"), "--quiet"]) == 0
    # a streamed corpus gives the same rows as one in memory
    tok = SequenceTokenizer("protein")
    rows = [("CASSLGQ",), ("CASRQGGSYNEQFF",), ("CSA",)]
    path = tmp_path / "c.csv"
    pd.DataFrame({"s": [r[0] for r in rows]}).to_csv(path, index=False)
    arrow = ArrowCorpus(tokenize_to_arrow([(str(path), ["s"])], tok, None, "error", str(tmp_path / "c2"),
                                          progress=False))
    encoded = [tok.encode(r[0]) for r in rows]
    memory = EncodedDataset([e.input_ids for e in encoded], [e.token_type_ids for e in encoded])
    for a, b in zip(row_ids(arrow, np.array([2, 0, 1])), row_ids(memory, np.array([2, 0, 1]))):
        assert np.array_equal(a, b)
