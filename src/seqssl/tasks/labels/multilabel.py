"""Multilabel targets: one input, several binary targets, some of them unmeasured.

Two layouts are read:

- **wide**: one row per input, one 0/1 column per target (``--label-column A,B,C``); an empty cell is an
  unmeasured target.
- **long**: one row per (input, target) measurement, as in Leash Bio's BELKA files
  (``molecule_smiles, protein_name, binds``): ``--target-column protein_name --label-column binds``.
  Rows are grouped by the input column(s) in order of first appearance; a pair measured twice with
  different labels is an error.

Labels come back as a float32 matrix ``(inputs, targets)`` with NaN where unmeasured; losses and metrics
skip those entries.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.formats.table import SequenceTable, require_columns
from ...errors import InputError

BINARY = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0}
MISSING = {"", "nan", "na", "none", "null"}


def _binary(table: SequenceTable, column: str, allow_missing: bool) -> np.ndarray:
    text = table.frame[column].astype(str).str.strip().str.lower()
    missing = table.frame[column].isna().to_numpy() | text.isin(MISSING).to_numpy()
    values = text.map(BINARY).to_numpy(dtype=np.float64)
    bad = np.isnan(values) & ~missing
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"label '{table.frame[column].iloc[i]}' is not binary", path=table.path,
                         line=table.line_of(i), column=column, fix="multilabel targets must be 0/1 (or empty)")
    if missing.any() and not allow_missing:
        i = int(np.argmax(missing))
        raise InputError("missing label", path=table.path, line=table.line_of(i), column=column,
                         fix="fill in the label or drop the row")
    return values.astype(np.float32)


def multilabel_targets(table: SequenceTable, columns: list[str], label_columns: list[str],
                       target_column: str | None) -> tuple[SequenceTable, np.ndarray, list[str]]:
    """``(table with one row per input, labels (inputs, targets) with NaN = unmeasured, target names)``."""
    if target_column is None:
        if len(label_columns) < 2:
            raise InputError(f"multilabel needs several label columns or a target column, got {label_columns}",
                             fix="pass --label-column A,B,C (wide) or --target-column T --label-column Y (long)")
        require_columns(table, label_columns)
        labels = np.stack([_binary(table, c, allow_missing=True) for c in label_columns], axis=1)
        return table, labels, list(label_columns)
    if len(label_columns) != 1:
        raise InputError(f"with --target-column, --label-column names one column, got {label_columns}")
    require_columns(table, [*columns, target_column, *label_columns])
    values = _binary(table, label_columns[0], allow_missing=False)
    targets_raw = table.frame[target_column].astype(str).str.strip()
    targets = sorted(set(targets_raw))
    keys = pd.Series(list(zip(*[table.frame[c].astype(str).str.strip() for c in columns])))
    first = ~keys.duplicated().to_numpy()
    example = pd.factorize(keys)[0]
    labels = np.full((int(first.sum()), len(targets)), np.nan, dtype=np.float32)
    seen_at: dict[tuple[int, int], int] = {}  # (example, target) → row
    target_index = {t: j for j, t in enumerate(targets)}
    for i, (e, t) in enumerate(zip(example, targets_raw)):
        j = target_index[t]
        if not np.isnan(labels[e, j]) and labels[e, j] != values[i]:
            raise InputError(f"'{t}' is measured twice for this input with different labels (also on line "
                             f"{table.line_of(seen_at[e, j])})", path=table.path, line=table.line_of(i),
                             column=label_columns[0], fix="keep one measurement per (input, target)")
        labels[e, j] = values[i]
        seen_at[e, j] = i
    return table.subset(np.flatnonzero(first)), labels, targets


def stratification_labels(labels: np.ndarray) -> np.ndarray:
    """One label per input for stratified splits: 1 when any measured target is positive."""
    return (np.nan_to_num(labels, nan=0.0) > 0).any(axis=1).astype(np.float32)
