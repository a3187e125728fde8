"""Unlabelled pretraining corpora: read, deduplicate, and keep free of evaluation sequences."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import EncodedDataset, encode_table, sequences_of
from .formats.readers import read_table
from .formats.table import require_columns
from .tokenizers import SequenceTokenizer


@dataclass
class Corpus:
    """Sequences as string tuples (one per column) with their encodings, in the same order, and an
    optional label per entry (``None`` when unlabelled) used for shared-label positives. Sequences compare
    case-insensitively, unless ``case_sensitive`` (SMILES: ``c`` is aromatic, ``C`` is not), where molecules
    compare by canonical SMILES, so a test molecule is removed however the corpus spells it."""

    rows: list[tuple]
    encoded: EncodedDataset
    labels: list | None = None
    case_sensitive: bool = False

    def _key(self, sequence: str) -> str:
        if self.case_sensitive:
            from .tokenizers.smiles import canonical_smiles
            return canonical_smiles(sequence)
        return sequence.upper()

    def __len__(self) -> int:
        return len(self.rows)

    def lengths(self) -> np.ndarray:
        """Tokens per entry, specials included."""
        return self.encoded.lengths()

    def width(self) -> int:
        """The most sequence columns of an entry (corpora of different widths may be concatenated)."""
        return max(map(len, self.rows), default=1)

    def select(self, keep: np.ndarray) -> Corpus:
        positions = np.flatnonzero(keep)
        labels = None if self.labels is None else [self.labels[i] for i in positions]
        return Corpus([self.rows[i] for i in positions], self.encoded.subset(positions), labels, self.case_sensitive)

    def group_codes(self) -> np.ndarray:
        """Integer label per entry (-1 when unlabelled), for P×K batches."""
        if self.labels is None:
            return np.full(len(self), -1, dtype=np.int64)
        names = sorted({x for x in self.labels if x is not None})
        index = {n: i for i, n in enumerate(names)}
        return np.array([-1 if x is None else index[x] for x in self.labels], dtype=np.int64)

    def deduplicated(self) -> Corpus:
        """Drop exact duplicates (they would be false negatives in a contrastive batch)."""
        seen, keep = set(), np.zeros(len(self.rows), dtype=bool)
        for i, row in enumerate(self.rows):
            key = (tuple(self._key(s) for s in row), None if self.labels is None else self.labels[i])
            if key not in seen:
                seen.add(key)
                keep[i] = True
        return self.select(keep)

    def without(self, forbidden: set[str]) -> tuple[Corpus, int]:
        """Remove every entry containing a forbidden sequence; return the corpus and the count."""
        forbidden = {self._key(s) for s in forbidden}
        keep = np.array([not any(self._key(s) in forbidden for s in row) for row in self.rows], dtype=bool)
        return self.select(keep), int((~keep).sum())

    def without_labels(self, forbidden: set[str]) -> tuple[Corpus, int]:
        """Remove entries whose label (or any part of a comma-separated pool) is forbidden."""
        if self.labels is None:
            return self, 0
        forbidden = {s.upper() for s in forbidden}
        keep = np.array([label is None or not any(p.strip().upper() in forbidden for p in label.split(","))
                         for label in self.labels], dtype=bool)
        return self.select(keep), int((~keep).sum())

    @staticmethod
    def concat(parts: list[Corpus]) -> Corpus:
        labels = None
        if any(p.labels is not None for p in parts):
            labels = [x for p in parts for x in (p.labels if p.labels is not None else [None] * len(p))]
        return Corpus([r for p in parts for r in p.rows], EncodedDataset.concat([p.encoded for p in parts]), labels,
                      all(p.case_sensitive for p in parts))


def load_corpus(path: str, columns: list[str], tokenizer: SequenceTokenizer, max_length: int | None,
                label_column: str | None = None, too_long: str = "error", data_cfg=None) -> Corpus:
    """Read a table or FASTA (``columns=['sequence']`` for FASTA) as a validated corpus; with
    ``label_column``, entries sharing a label are positives of each other (e.g. the epitope a TCR binds).
    ``data_cfg``: its ``v_gene_columns`` present in the file add their CDR1/CDR2 columns
    (:func:`seqssl.data.v_genes.with_cdrs`); its ``negative_column`` gives each entry an explicit negative
    (``encoded.negatives``, in the same order; an empty cell is refused with its file and line)."""
    table = read_table(path)
    if data_cfg is not None:
        from .v_genes import with_cdrs
        table = with_cdrs(table, data_cfg)[0]
    rows = sequences_of(table, columns)
    labels = None
    if label_column:
        require_columns(table, [label_column])
        labels = [v.strip() or None for v in table.frame[label_column].fillna("").astype(str)]
    encoded = encode_table(table, columns, tokenizer, max_length, too_long)
    negative_column = getattr(data_cfg, "negative_column", None)
    if negative_column:  # one explicit negative per entry (sentence-transformers' (anchor, positive, negative))
        encoded.negatives = encode_table(table, [negative_column], tokenizer, max_length, too_long)
    return Corpus(rows, encoded, labels, getattr(tokenizer, "case_sensitive", False))
