"""The classical baseline every table carries: k-mer counts + a regularised linear model.

Features: character k-mer counts (k = 1..K, scikit-learn ``CountVectorizer``) of each input column, one
block per column; for two or more columns, also each other column's interaction with the last (one block of
that column's k-mers per last-column value when it has few distinct values, e.g. 4 peptides; otherwise with
its 1-mers): CDR3β × peptide for a pair, CDR3α × peptide and CDR3β × peptide for three columns.
When one column's training sequences all have one length (a mutational scan such as GB1), a one-hot
residue per position is added, as mutational-scan baselines do. The regularisation strength is chosen on
the validation split, like the neural arms' early stopping.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import MaxAbsScaler

from ..errors import InputError
from ..models.linear import PerTargetLogistic  # noqa: F401  (re-exported: it was defined here)
from ..tasks import Task, as_task
from ..tasks.binary import C_GRID  # noqa: F401  (re-exported for the window baseline)

MAX_CATEGORIES = 50


def _kmers(max_k: int, case_sensitive: bool = False) -> CountVectorizer:
    return CountVectorizer(analyzer="char", ngram_range=(1, max_k), lowercase=not case_sensitive, dtype=np.float32)


class PositionOneHot:
    """One column per (position, residue) seen in training; other lengths are cut or padded."""

    def fit(self, sequences) -> PositionOneHot:
        self.length = len(sequences[0])
        residues = sorted(set("".join(sequences).upper()))
        self.table = np.full(256, -1, dtype=np.int64)
        for j, c in enumerate(residues):
            if ord(c) < 256:
                self.table[ord(c)] = j
        self.width = len(residues)
        return self

    def transform(self, sequences):
        fixed = "".join(s.upper()[:self.length].ljust(self.length, "\0") for s in sequences)
        codes = np.frombuffer(fixed.encode("latin-1", "replace"), dtype=np.uint8).reshape(len(sequences), self.length)
        index = self.table[codes]
        rows, positions = np.nonzero(index >= 0)
        columns = positions * self.width + index[rows, positions]
        return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                                 shape=(len(sequences), self.length * self.width))


class KmerFeatures:
    """Fit on training sequences (tuples, one string per column); transform any split."""

    def __init__(self, max_k: int = 3, case_sensitive: bool = False, crossed: bool = True):
        self.max_k, self.case_sensitive = max_k, case_sensitive  # SMILES: c (aromatic) is not C
        self.crossed = crossed  # several columns: cross each with the last (the peptide); False: counts only

    def fit(self, rows: list[tuple]) -> KmerFeatures:
        columns = list(zip(*rows))
        self.vectorizers = [_kmers(self.max_k, self.case_sensitive).fit(col) for col in columns]
        self.positions = None
        if len(columns) == 1 and len({len(s) for s in columns[0]}) == 1:
            self.positions = PositionOneHot().fit(columns[0])
        self.categories = None
        if len(columns) >= 2 and self.crossed:  # the last column is what the others pair with (the peptide)
            values = sorted(set(columns[-1]))
            if len(values) <= MAX_CATEGORIES:
                self.categories = {v: i for i, v in enumerate(values)}
            else:
                self.second_1mer = _kmers(1).fit(columns[-1])
        self.scaler = MaxAbsScaler().fit(self._raw(rows))
        return self

    def _raw(self, rows: list[tuple]):
        columns = list(zip(*rows))
        blocks = [v.transform(col) for v, col in zip(self.vectorizers, columns)]
        if len(columns) >= 2 and self.crossed:
            blocks += [b for own in blocks[:-1] for b in self._crossed(own.tocsr(), columns[-1])]
        if self.positions is not None:
            blocks.append(self.positions.transform(columns[0]))
        return sparse.hstack(blocks).tocsr()

    def _crossed(self, own, last) -> list:
        """One column's k-mer counts ``own`` crossed with the last column: a block per last-column value
        (few values), else a block per 1-mer of the last column (its count as the multiplier)."""
        if self.categories is not None:
            cat = np.array([self.categories.get(v, -1) for v in last])
            return [own.multiply((cat == j)[:, None]).tocsr() for j in range(len(self.categories))]
        counts = self.second_1mer.transform(last).tocsr()
        return [own.multiply(counts[:, j]).tocsr() for j in range(counts.shape[1])]

    def transform(self, rows: list[tuple]):
        return self.scaler.transform(self._raw(rows))


def fit_kmer_baseline(train_rows, y_train, val_rows, y_val, task: str, max_k: int = 3, seed: int = 0,
                      case_sensitive: bool = False):
    """Fit the baseline on the training rows, choosing its regularisation on the validation rows."""
    features = KmerFeatures(max_k, case_sensitive).fit(train_rows)
    x_train, x_val = features.transform(train_rows), features.transform(val_rows)
    model, strength, best_val = select_linear_model(x_train, y_train, x_val, y_val, task, seed)
    return KmerBaseline(features, model, task), {
        "strength": strength, "best_val": best_val, "n_features": x_train.shape[1],
        "position_features": features.positions is not None}


def linear_scores(model, x, task: str | Task) -> np.ndarray:
    """Scores of a model from :func:`select_linear_model`: positive-class probabilities (one column per
    target for multilabel) or regression values."""
    return as_task(task).linear_scores(model, x)


def select_linear_model(x_train, y_train, x_val, y_val, task: str | Task, seed: int = 0):
    """The task's regularised linear model (logistic regression, one per target for multilabel, or ridge)
    fitted on the training rows, its strength chosen by the primary metric on the validation rows.
    Returns ``(model, strength, validation metric)``."""
    task = as_task(task)
    best: tuple[float, float | None, Any] = (-np.inf, None, None)  # (metric, strength, model)
    for strength in task.linear_grid:
        model = task.linear_model(strength, seed).fit(x_train, y_train)
        value = task.metrics(y_val, task.linear_scores(model, x_val)).get(task.primary_metric)
        if value is not None and value > best[0]:
            best = (value, strength, model)
    if best[2] is None:
        raise InputError("the validation split gives no defined metric for choosing the regularisation",
                         fix="use more data or a larger finetune.val_fraction")
    return best[2], best[1], best[0]


class KmerBaseline:
    def __init__(self, features: KmerFeatures, model, task: str):
        self.features, self.model, self.task = features, model, task

    def predict(self, rows) -> np.ndarray:
        return linear_scores(self.model, self.features.transform(rows), self.task)


class PerValueKmer:
    """``kmer[per-value]``: one k-mer model per value of the last column (each peptide), as the field's
    per-epitope benchmarks fit them, on the other columns' k-mers; a value seen in training with one class only,
    or not seen at all, is scored by the joint model (k-mers × value). Each value's regularisation is chosen on
    that value's validation rows when they hold both classes, else the joint model's strength is used."""

    def __init__(self, joint: KmerBaseline, models: dict, task):
        self.joint, self.models, self.task = joint, models, task

    def predict(self, rows: list[tuple]) -> np.ndarray:
        scores = self.joint.predict(rows)
        values = np.array([r[-1] for r in rows], dtype=object)
        for value, (features, model) in self.models.items():
            members = np.flatnonzero(values == value)
            if len(members):
                scores[members] = linear_scores(model, features.transform([rows[i][:-1] for i in members]),
                                                self.task)
        return scores


def fit_kmer_per_value(train_rows, y_train, val_rows, y_val, task, max_k: int = 3, seed: int = 0,
                       case_sensitive: bool = False) -> tuple[PerValueKmer, dict]:
    """The joint baseline (:func:`fit_kmer_baseline`) and one model per last-column value on top of it."""
    task = as_task(task)
    joint, details = fit_kmer_baseline(train_rows, y_train, val_rows, y_val, task, max_k, seed, case_sensitive)
    train_values = np.array([r[-1] for r in train_rows], dtype=object)
    val_values = np.array([r[-1] for r in val_rows], dtype=object)
    models, chosen = {}, {}
    for value in sorted(set(train_values)):
        fit, val = np.flatnonzero(train_values == value), np.flatnonzero(val_values == value)
        if len(np.unique(y_train[fit])) < 2:
            continue  # one class: the joint model scores this value
        own = [train_rows[i][:-1] for i in fit]
        features = KmerFeatures(max_k, case_sensitive, crossed=False).fit(own)  # CDR3α and β: counts, not crossed
        x_fit = features.transform(own)
        if len(val) and len(np.unique(y_val[val])) == 2:
            model, strength, _ = select_linear_model(x_fit, y_train[fit], features.transform(
                [val_rows[i][:-1] for i in val]), y_val[val], task, seed)
        else:
            strength = details["strength"]
            model = task.linear_model(strength, seed).fit(x_fit, y_train[fit])
        models[value], chosen[value] = (features, model), strength
    return PerValueKmer(joint, models, task), {**details, "per_value_strengths": chosen,
                                               "values_by_joint_model": int(len(set(train_values)) - len(models))}
