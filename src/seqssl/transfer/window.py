"""The per-residue baseline for token tasks: a one-hot window of residues around each position fed to
a multinomial logistic regression, its regularisation chosen on the validation split (like
:mod:`~seqssl.transfer.kmer` for per-sequence tasks).

Features are built from token ids, so ``[CLS]``/``[SEP]`` mark the sequence ends inside a window and
positions beyond them are ``[PAD]``: a window of radius ``k`` has ``(2k + 1) × vocab`` binary columns.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from ..data.dataset import IGNORE_INDEX, EncodedDataset
from ..data.tokenizers import PAD_ID
from ..metrics import token_metrics
from ..tasks.binary import C_GRID


def window_features(data: EncodedDataset, radius: int, vocab_size: int) -> sparse.csr_matrix:
    """One row per labelled residue (in :meth:`EncodedDataset.targets` order): a one-hot token id at
    each offset ``-radius..radius``."""
    offsets = np.arange(-radius, radius + 1)
    blocks = []
    assert data.token_labels is not None, "window features are for token tasks"
    for ids, labels in zip(data.input_ids, data.token_labels):
        where = np.flatnonzero(labels != IGNORE_INDEX)
        at = where[:, None] + offsets[None, :]
        inside = (at >= 0) & (at < len(ids))
        symbols = np.where(inside, ids[np.clip(at, 0, len(ids) - 1)], PAD_ID)
        blocks.append((np.arange(len(offsets)) * vocab_size)[None, :] + symbols)
    columns = np.concatenate(blocks) if blocks else np.zeros((0, len(offsets)), dtype=np.int64)
    n = len(columns)
    rows = np.repeat(np.arange(n), len(offsets))
    return sparse.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, columns.ravel())),
                             shape=(n, len(offsets) * vocab_size))


class WindowBaseline:
    def __init__(self, model: LogisticRegression, radius: int, vocab_size: int, n_classes: int):
        self.model, self.radius, self.vocab_size, self.n_classes = model, radius, vocab_size, n_classes

    def predict(self, data: EncodedDataset) -> np.ndarray:
        """Probabilities ``(labelled residues, classes)``; classes unseen in training get 0."""
        x = window_features(data, self.radius, self.vocab_size)
        out = np.zeros((x.shape[0], self.n_classes))
        if x.shape[0]:
            out[:, self.model.classes_] = self.model.predict_proba(x)
        return out


def fit_window_baseline(train: EncodedDataset, val: EncodedDataset, vocab_size: int, radius: int = 3,
                        seed: int = 0) -> tuple[WindowBaseline, dict]:
    """Fit on the training residues; choose ``C`` by per-residue accuracy on the validation residues."""
    x_train, y_train = window_features(train, radius, vocab_size), train.targets()
    n_classes = len(train.meta["classes"])
    best: tuple[float, float | None, WindowBaseline | None] = (-np.inf, None, None)  # (metric, C, baseline)
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(x_train, y_train)
        candidate = WindowBaseline(model, radius, vocab_size, n_classes)
        value = token_metrics(val.targets(), candidate.predict(val)).get("per_residue_accuracy")
        if value is not None and value > best[0]:
            best = (value, c, candidate)
    value, strength, baseline = best
    if baseline is None:  # no labelled validation residue: the middle of the grid
        strength = C_GRID[len(C_GRID) // 2]
        baseline = WindowBaseline(LogisticRegression(C=strength, max_iter=1000, random_state=seed)
                                  .fit(x_train, y_train), radius, vocab_size, n_classes)
    return baseline, {"strength": strength, "best_val": None if value == -np.inf else value,
                      "n_features": x_train.shape[1], "window": radius}
