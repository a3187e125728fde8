"""Unlabelled pretraining corpora: read, deduplicate, and keep free of evaluation sequences."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import EncodedDataset, encode_table, sequences_of
from .readers import read_table
from .tokenizers import SequenceTokenizer


@dataclass
class Corpus:
    """Sequences as string tuples (one per column) with their encodings, in the same order."""

    rows: list[tuple]
    encoded: EncodedDataset

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, keep: np.ndarray) -> "Corpus":
        positions = np.flatnonzero(keep)
        return Corpus([self.rows[i] for i in positions], self.encoded.subset(positions))

    def deduplicated(self) -> "Corpus":
        """Drop exact duplicates (they would be false negatives in a contrastive batch)."""
        seen, keep = set(), np.zeros(len(self.rows), dtype=bool)
        for i, row in enumerate(self.rows):
            key = tuple(s.upper() for s in row)
            if key not in seen:
                seen.add(key)
                keep[i] = True
        return self.select(keep)

    def without(self, forbidden: set[str]) -> tuple["Corpus", int]:
        """Remove every entry containing a forbidden sequence; return the corpus and the count."""
        forbidden = {s.upper() for s in forbidden}
        keep = np.array([not any(s.upper() in forbidden for s in row) for row in self.rows], dtype=bool)
        return self.select(keep), int((~keep).sum())

    @staticmethod
    def concat(parts: list["Corpus"]) -> "Corpus":
        return Corpus([r for p in parts for r in p.rows], EncodedDataset.concat([p.encoded for p in parts]))


def load_corpus(path: str, columns: list[str], tokenizer: SequenceTokenizer, max_length: int) -> Corpus:
    """Read a table or FASTA (``columns=['sequence']`` for FASTA) as a validated corpus."""
    table = read_table(path)
    rows = sequences_of(table, columns)
    return Corpus(rows, encode_table(table, columns, tokenizer, max_length))
