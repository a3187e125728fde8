"""Seed 002 on text: a BPE tokenizer trained on the project's own documentation; SimSiam on
neighbouring chunks and replaced-token detection both pretrain; the encoder embeds text."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from seqssl.data.tokenizers.bpe import BPETokenizer

ROOT = Path(__file__).parents[1]


@pytest.fixture
def docs_corpus(tmp_path):
    """The project's README and module docstrings: one paragraph per line."""
    text = (ROOT / "README.md").read_text()
    text += "\n".join(p.read_text() for p in sorted((ROOT / "src" / "seqssl").rglob("*.py")))
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) >= 12]
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(paragraphs))
    return path


def test_bpe_round_trip_and_special_ids(docs_corpus, tmp_path):
    lines = docs_corpus.read_text().splitlines()
    tok = BPETokenizer.train(lines, vocab_size=400)
    enc = tok.encode(lines[0], lines[1])
    assert enc.input_ids[0] == 2 and enc.input_ids[-1] == 3 and set(enc.token_type_ids) == {0, 1}
    assert tok.decode(tok.encode(lines[3]).input_ids) == lines[3]
    tok.save(tmp_path / "t")
    assert BPETokenizer.load(tmp_path / "t").vocab == tok.vocab
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(str(tmp_path / "t"))
    assert hf(lines[3], add_special_tokens=False)["input_ids"] == tok.encode(lines[3]).input_ids[1:-1].tolist()


@pytest.mark.parametrize("objective,extra", [("simsiam", ["--positives", "neighbours"]), ("rtd-random", [])])
def test_text_pretraining_runs_and_embeds(objective, extra, docs_corpus, tmp_path, capsys):
    enc = tmp_path / objective
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {bpe_vocab_size: 400, too_long: truncate}\nmodel: {max_length: 128}\n"
                   "pretrain: {chunk_length: 24, min_separation: 4, max_separation: 16}\n")
    code = run_cli(["pretrain", "--data", str(docs_corpus), "--alphabet", "text", "--objective", objective,
                    "--max-steps", "4", "--batch-size", "16", "--config", str(cfg), "--out", str(enc),
                    "--quiet", *extra])
    assert code == 0, capsys.readouterr().err
    loss = pd.read_csv(enc / "pretrain_history.csv")["loss"]
    assert np.isfinite(loss).all()
    short = tmp_path / "short.txt"
    short.write_text("contrastive pretraining of sequence encoders\nmasked language modelling\n")
    assert run_cli(["embed", "--encoder", str(enc), "--data", str(short), "--out", str(tmp_path / "e.parquet")]) == 0
    assert pd.read_parquet(tmp_path / "e.parquet").shape == (2, 1 + 1 + 64)  # id, the text, the vector
