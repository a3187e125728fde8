"""Train/test leakage of a labelled split: test rows whose sequence (or, for pairs, whose whole pair)
also occurs in the training fold. Counted in every run; ``crossval.remove_duplicates`` drops the exact
duplicates (the same sequence, or the same pair) from the test fold before scoring. Under ``--split
cluster`` also the most similar train–test pair under the split's threshold (:func:`similarity_leakage`)."""
from __future__ import annotations

import numpy as np


def sequence_key(case_sensitive: bool):
    """How sequences compare: case-insensitively (residues), or as canonical SMILES (molecules)."""
    if case_sensitive:
        from ..data.tokenizers.smiles import canonical_smiles
        return canonical_smiles
    return str.upper


def duplicate_report(rows: list[tuple], train_idx: np.ndarray, test_idx: np.ndarray, key=str.upper,
                     columns: list[str] | None = None) -> tuple[dict, np.ndarray]:
    """``(counts, exact)``: per column, how many test rows have that column's sequence somewhere in the
    training rows' same column (``test_sequences_in_train[@COLUMN]``); for two columns, how many test
    pairs occur as a training pair (``test_pairs_in_train``); and the boolean mask over ``test_idx`` of
    the exact duplicates (the whole row seen in training)."""
    width = len(rows[test_idx[0]]) if len(test_idx) else 1
    names = columns or [f"column_{c}" for c in range(width)]
    keyed = {i: tuple(key(s) for s in rows[i]) for i in np.concatenate([train_idx, test_idx])}
    counts = {}
    for c in range(width):
        seen = {keyed[i][c] for i in train_idx}
        label = "test_sequences_in_train" + (f"@{names[c]}" if width > 1 else "")
        counts[label] = int(sum(keyed[i][c] in seen for i in test_idx))
    seen_rows = {keyed[i] for i in train_idx}
    exact = np.array([keyed[i] in seen_rows for i in test_idx], dtype=bool)
    if width > 1:
        counts["test_pairs_in_train"] = int(exact.sum())
    return counts, exact


def similarity_leakage(sequences: list[str], train_idx: np.ndarray, test_idx: np.ndarray, threshold: str) -> dict:
    """``min_train_test_edit_distance`` (``edit:K``) or ``max_train_test_identity`` (``identity:F``): the
    most similar pair of a training and a test sequence (``sequences``: the clustered column) actually
    found, by the clustering's own method (:func:`seqssl.data.splits.clusters.nearest_across`). Only cluster
    splits record it: other splits have no threshold to measure against."""
    from ..data.splits.clusters import nearest_across
    return nearest_across([sequences[i] for i in train_idx], [sequences[i] for i in test_idx], threshold)
