"""Per-residue labels: one character per residue (``.`` = unlabelled), from a table column or from a
label FASTA matched to the sequences by record id; checked, then aligned with the token ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data.dataset import IGNORE_INDEX
from ...data.formats import FASTA, find_format
from ...data.formats.readers import read_table
from ...data.formats.table import SequenceTable, require_columns
from ...errors import InputError

UNLABELLED = "."
LABEL_COLUMN = "token_labels"  # the column a label FASTA's strings are joined into


@dataclass
class TokenLabels:
    """Label strings aligned with a table's rows, and where each came from (for error messages)."""

    strings: list[str]
    path: str
    lines: np.ndarray
    column: str | None = None
    ids: list[str] | None = None

    def where(self, i: int) -> dict:
        return {"path": self.path, "line": int(self.lines[i]), "column": self.column}

    def name(self, i: int) -> str:
        return f"record '{self.ids[i]}'" if self.ids is not None else f"row {i + 1}"


def labels_from_column(table: SequenceTable, column: str) -> TokenLabels:
    require_columns(table, [column])
    ids = table.frame["id"].astype(str).tolist() if "id" in table.frame.columns else None
    strings = table.frame[column].fillna("").astype(str).str.strip().tolist()
    return TokenLabels(strings, table.path, table.lines, column, ids)


def _first_duplicate(table: SequenceTable) -> None:
    ids = table.frame["id"].astype(str)
    repeated = ids.duplicated(keep="first").to_numpy()
    if repeated.any():
        i = int(np.argmax(repeated))
        first = int(np.argmax((ids == ids.iloc[i]).to_numpy()))
        raise InputError(f"duplicate record id '{ids.iloc[i]}' (first at line {table.line_of(first)})",
                         path=table.path, line=table.line_of(i), fix="give every record a unique id")


def header_fields(description: str) -> dict[str, str]:
    """``KEY=VALUE`` words after the id of a FASTA header (``>P1 SET=train VALIDATION=False``)."""
    return dict(word.split("=", 1) for word in description.split()[1:] if "=" in word)


def labels_from_fasta(table: SequenceTable, path: str) -> tuple[SequenceTable, TokenLabels]:
    """Match ``path``'s records to the table's ``id`` column; header ``KEY=VALUE`` words become
    columns (e.g. ``SET`` for ``--split-column SET``). Every sequence needs exactly one label record."""
    if "id" not in table.frame.columns:
        raise InputError("--token-labels are matched by record id, but the data has no 'id' column",
                         path=table.path, fix="pass FASTA sequences or add an 'id' column")
    if find_format(path) is not FASTA:
        raise InputError("--token-labels expects a FASTA file of label strings", path=path,
                         fix="one '>id' record per sequence, one label character per residue")
    labels = read_table(path)
    _first_duplicate(table)
    _first_duplicate(labels)
    index = {k: i for i, k in enumerate(labels.frame["id"].astype(str))}
    ids = table.frame["id"].astype(str).tolist()
    for i, k in enumerate(ids):
        if k not in index:
            raise InputError(f"record '{k}' has no label record in {path}", path=table.path,
                             line=table.line_of(i),
                             fix="add a '>id' record with its label string, or drop the sequence")
    rows = [index[k] for k in ids]
    fields = pd.DataFrame([header_fields(d) for d in labels.frame["description"].iloc[rows]])
    clash = [c for c in fields.columns if c in table.frame.columns or c == LABEL_COLUMN]
    if clash:
        raise InputError(f"label header field '{clash[0]}' clashes with a data column", path=path,
                         fix="rename the KEY in the label headers")
    frame = table.frame.reset_index(drop=True).copy()
    frame[LABEL_COLUMN] = labels.frame["sequence"].iloc[rows].to_numpy()
    for column in fields.columns:
        frame[column] = fields[column].fillna("").to_numpy()
    merged = SequenceTable(frame, table.path, table.lines)
    return merged, TokenLabels(frame[LABEL_COLUMN].tolist(), path, labels.lines[rows], None, ids)


def token_classes(labels: TokenLabels, fixed: str | None = None) -> list[str]:
    """The sorted distinct label characters, or ``fixed`` (every label must then be one of them)."""
    if fixed:
        classes = sorted(set(fixed) - {UNLABELLED})
        allowed = set(classes) | {UNLABELLED}
        for i, text in enumerate(labels.strings):
            bad = next((p for p, c in enumerate(text) if c not in allowed), None)
            if bad is not None:
                raise InputError(f"label '{text[bad]}' at residue {bad + 1} of {labels.name(i)} is not one of "
                                 f"the classes {''.join(classes)}", **labels.where(i),
                                 fix=f"use only {''.join(classes)} ('{UNLABELLED}' = unlabelled) or change "
                                     "--token-classes")
        return classes
    classes = sorted(set("".join(labels.strings)) - {UNLABELLED})
    if len(classes) < 2:
        raise InputError(f"token labels hold {len(classes)} class(es); classification needs at least 2",
                         path=labels.path, fix="check the label strings")
    return classes


def align_token_labels(labels: TokenLabels, sequences: list[str], input_ids: list[np.ndarray],
                       classes: list[str]) -> list[np.ndarray]:
    """One class index per token (``IGNORE_INDEX`` at ``[CLS]``, ``[SEP]`` and ``.``); labels are cut
    like their sequence when it was truncated to the model's maximum length."""
    code = {c: j for j, c in enumerate(classes)}
    out = []
    for i, (text, sequence, ids) in enumerate(zip(labels.strings, sequences, input_ids)):
        if len(text) != len(sequence):
            raise InputError(f"{labels.name(i)}: {len(text)} label characters for a sequence of "
                             f"{len(sequence)} residues", **labels.where(i),
                             fix=f"give one label per residue ('{UNLABELLED}' = unlabelled)")
        kept = len(ids) - 2  # [CLS] residues [SEP]
        aligned = np.full(len(ids), IGNORE_INDEX, dtype=np.int64)
        aligned[1:1 + kept] = [code.get(c, IGNORE_INDEX) for c in text[:kept]]
        out.append(aligned)
    return out
