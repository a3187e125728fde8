"""Turn a validated table into token-id examples (and labels) ready for collation."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from .formats.table import SequenceTable, require_columns
from .padding import pad_batch
from .tokenizers import SequenceTokenizer
from .tokenizers.vocab import Encoded

IGNORE_INDEX = -100  # token label of special, padding and unlabelled positions


@dataclass
class EncodedDataset:
    """Token ids per example (variable length), segment ids, and optional float labels (for ``multilabel``
    a matrix ``(examples, targets)``, NaN where unmeasured, target names in ``meta["targets"]``), or for
    ``token-classification`` one class index per token (``IGNORE_INDEX`` where unlabelled)."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    labels: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    token_labels: list[np.ndarray] | None = None
    group_keys: np.ndarray | None = None  # per example: the group its metrics and neighbours are taken within
    rows: list[tuple] | None = None  # per example: its sequences as text, one per column (the probe+kmer mode's k-mers)
    negatives: EncodedDataset | None = None  # per example: an explicit negative (pretraining's --negative-column)

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.input_ids), dtype=np.int64, count=len(self.input_ids))

    def padded(self, positions) -> dict:
        """The rows at ``positions`` as one batch padded to the longest of them."""
        return pad_batch([self.input_ids[i] for i in positions], [self.token_type_ids[i] for i in positions])

    def labels_at(self, positions) -> np.ndarray | None:
        """The labels of the rows at ``positions`` (None when unlabelled): what a batch reads."""
        return None if self.labels is None else self.labels[positions]

    def subset(self, positions) -> EncodedDataset:
        positions = np.asarray(positions, dtype=np.int64)
        return EncodedDataset([self.input_ids[i] for i in positions],
                              [self.token_type_ids[i] for i in positions],
                              None if self.labels is None else self.labels[positions], self.meta,
                              None if self.token_labels is None else [self.token_labels[i] for i in positions],
                              None if self.group_keys is None else self.group_keys[positions],
                              None if self.rows is None else [self.rows[i] for i in positions],
                              None if self.negatives is None else self.negatives.subset(positions))

    def targets(self) -> np.ndarray | None:
        """What metrics compare with: the labels (None when unlabelled), or the classes of every labelled
        residue (in example order, then position order) for token tasks."""
        if self.token_labels is None:
            return self.labels
        flat = [t[t != IGNORE_INDEX] for t in self.token_labels]
        return np.concatenate(flat).astype(np.int64) if flat else np.zeros(0, dtype=np.int64)

    def target_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(example, 1-based residue number) of each entry of :meth:`targets` (token tasks)."""
        assert self.token_labels is not None, "target_positions is for token tasks"
        where = [np.flatnonzero(t != IGNORE_INDEX) for t in self.token_labels]
        examples = np.concatenate([np.full(len(w), i) for i, w in enumerate(where)] or [np.zeros(0, dtype=np.int64)])
        return examples.astype(np.int64), np.concatenate(where or [np.zeros(0, dtype=np.int64)]).astype(np.int64)

    @staticmethod
    def concat(parts: list[EncodedDataset]) -> EncodedDataset:
        ids = [x for p in parts for x in p.input_ids]
        types = [x for p in parts for x in p.token_type_ids]
        with_negatives = [p.negatives is not None for p in parts]
        if any(with_negatives) and not all(with_negatives):
            raise InputError("explicit negatives (--negative-column) are in some corpora but not in others",
                             fix="give every pretraining file the negative column, or drop --negative-column")
        negatives = EncodedDataset.concat([p.negatives for p in parts if p.negatives is not None]) \
            if all(with_negatives) and parts else None
        return EncodedDataset(ids, types, None, negatives=negatives)


def sequences_of(table: SequenceTable, columns: list[str]) -> list[tuple]:
    """Column values as tuples of strings (stripped), after checking the columns exist."""
    require_columns(table, columns)
    cols = [table.frame[c].astype(str).str.strip().tolist() for c in columns]
    # pandas writes missing values as "nan"/"None" when the column was not read as str
    for c in columns:
        raw = table.frame[c]
        missing = raw.isna().to_numpy()
        if missing.any():
            i = int(np.argmax(missing))
            raise InputError("empty sequence", path=table.path, line=table.line_of(i), column=c,
                             fix="remove the row or fill in the sequence")
    return list(zip(*cols))


def encode_table(table: SequenceTable, columns: list[str], tokenizer: SequenceTokenizer,
                 max_length: int | None, too_long: str = "error", bad_rows: list | None = None) -> EncodedDataset:
    """Tokenise one column (``[CLS] a [SEP]``), two (``[CLS] a [SEP] b [SEP]``) or more
    (``[CLS] a [SEP] b [SEP] c [SEP] ...``), segment id ``i`` for column ``i``; rows cut by
    ``too_long="truncate"`` are counted in ``meta["truncated_rows"]``. A bad row raises its
    :class:`InputError`; with ``bad_rows`` (a list) it is appended there as ``(row, error)`` and left out
    instead, so that every bad row of a file can be named or skipped."""
    ids, types, cut = [], [], 0
    for i, values in enumerate(sequences_of(table, columns)):
        try:
            enc = encode_row(tokenizer, values, columns, max_length, too_long,
                             {"path": table.path, "line": table.line_of(i)})
        except InputError as err:
            if bad_rows is None:
                raise
            bad_rows.append((i, err))
            continue
        ids.append(enc.input_ids)
        types.append(enc.token_type_ids)
        cut += enc.truncated
    return EncodedDataset(ids, types, meta={"truncated_rows": cut} if cut else {})


def encode_row(tokenizer, values: tuple, columns: list[str], max_length: int | None, too_long: str,
               where: dict) -> Encoded:
    """One validated row: no empty sequence, every residue known, at most ``max_length`` tokens
    (``too_long="truncate"`` cuts longest member first, keeping every column and ``[SEP]``); ``where`` (path,
    line) locates errors."""
    if too_long not in ("error", "truncate"):
        raise InputError(f"unknown data.too_long '{too_long}'", fix="use error or truncate")
    if not columns:
        raise InputError("--columns names no sequence column", fix="pass --columns COL, or A,B,C for several "
                                                                   "(one segment each)")
    for c, v in zip(columns, values):
        if v == "":
            raise InputError("empty sequence", **where, column=c, fix="remove the row or fill in the sequence")
    enc = tokenizer.encode(*values, where={**where, "column": list(columns)})
    if max_length is not None and len(enc.input_ids) > max_length and too_long == "truncate":
        return tokenizer.truncate(enc, values, max_length)
    if max_length is not None and len(enc.input_ids) > max_length:
        raise InputError(f"sequence of {len(enc.input_ids)} tokens (with specials) exceeds the model's "
                         f"maximum of {max_length}", **where, column="+".join(columns),
                         fix="pass --max-length N (a larger model) or --too-long truncate, or shorten the "
                             "sequence (config: model.max_length, data.too_long)")
    return enc


def _label_text(table: SequenceTable, label_column: str):
    """The label column as stripped text; a missing label is an error naming its line."""
    require_columns(table, [label_column])
    raw = table.frame[label_column]
    text = raw.astype(str).str.strip()
    missing = raw.isna().to_numpy() | text.str.lower().isin(["", "nan", "na", "none", "null"]).to_numpy()
    if missing.any():
        i = int(np.argmax(missing))
        raise InputError("missing label", path=table.path, line=table.line_of(i), column=label_column,
                         fix="fill in the label or drop the row")
    return text


def read_binary_labels(table: SequenceTable, label_column: str, positive: str | None = None,
                       whole: bool = True) -> np.ndarray:
    """Labels as float32 0/1: exactly 0/1 (or true/false), or with ``positive`` any two values, ``positive``
    being 1 (TCR benchmarks often write -1/1). ``whole=False``: ``table`` is one block of a streamed file, which
    need not hold the positive value."""
    text = _label_text(table, label_column)
    if positive is not None:
        return two_valued_labels(table, text, label_column, str(positive).strip(), whole)
    mapping = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0}
    values = text.str.lower().map(mapping)
    bad = values.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"label '{text.iloc[i]}' is not binary", path=table.path,
                         line=table.line_of(i), column=label_column,
                         fix="classification labels must be 0/1 (or true/false): name the positive value of two "
                             "others with --positive-label (e.g. --positive-label 1 for -1/1), or use --task "
                             "regression for numbers")
    return values.to_numpy(dtype=np.float32)


def two_valued_labels(table: SequenceTable, text, label_column: str, positive: str, whole: bool = True) -> np.ndarray:
    """``text == positive`` as 0/1, after checking the column holds at most two values, one of them ``positive``
    (unless not ``whole``: a block of a file)."""
    seen: list[str] = []
    for i, value in enumerate(text):
        if value not in seen:
            seen.append(value)
        if len(seen) > 2:
            raise InputError(f"label '{value}' is a third value (after {seen[:2]}): --positive-label needs two",
                             path=table.path, line=table.line_of(i), column=label_column,
                             fix="use --task multiclass for more than two classes")
    if whole and positive not in seen:
        raise InputError(f"--positive-label '{positive}' does not occur in the labels ({seen})", path=table.path,
                         column=label_column, fix=f"pass one of {seen}")
    return (text == positive).to_numpy(dtype=np.float32)


def read_numeric_labels(table: SequenceTable, label_column: str) -> np.ndarray:
    """Labels as float32 numbers, finite (``inf``, or beyond float32's ±3.4e38, would make the loss infinite)."""
    text = _label_text(table, label_column)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(over="ignore"):
        values = numbers.astype(np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        problem = "is not a number" if np.isnan(numbers[i]) else "is not a finite number (32-bit float)"
        raise InputError(f"label '{text.iloc[i]}' {problem}", path=table.path, line=table.line_of(i),
                         column=label_column, fix="regression labels must be finite numbers")
    return values
