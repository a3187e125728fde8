"""Prototypes: each class's mean embedding, and a row scored by its distances to them (Snell, Swersky & Zemel 2017,
"Prototypical networks for few-shot learning", eqs. 1-2: p(y = c | x) ∝ exp(−‖f(x) − c_k‖²)).

For a binary task the score is the difference of squared Euclidean distances ``‖x − c₀‖² − ‖x − c₁‖²`` (the
logit of the two-prototype softmax). With groups (the last column of a pair task: the peptide), each group with
both classes among the training rows has its own pair of prototypes; a row of any other group is scored against
the prototypes of all training rows. Written by hand: a class mean and two distances are not worth a dependency
(scikit-learn's ``NearestCentroid`` predicts labels, not scores, and knows no groups).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ALL = "\x00all"  # the key of the prototypes of every training row


def class_means(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """``[mean of the negatives, mean of the positives]`` (2 × d), or ``None`` when a class is missing."""
    positive = np.asarray(labels) > 0.5
    if positive.all() or not positive.any():
        return None
    return np.stack([embeddings[~positive].mean(0), embeddings[positive].mean(0)])


@dataclass
class Prototypes:
    """Class prototypes of all training rows (:data:`ALL`) and of each group with both classes."""

    means: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def fit(cls, embeddings: np.ndarray, labels, groups=None) -> Prototypes:
        overall = class_means(embeddings, labels)
        if overall is None:
            raise ValueError("prototypes need training rows of both classes")
        means = {ALL: overall}
        if groups is not None:
            keys = np.asarray([str(g) for g in groups])
            for key in np.unique(keys):
                found = class_means(embeddings[keys == key], np.asarray(labels)[keys == key])
                if found is not None:
                    means[str(key)] = found
        return cls(means)

    def scores(self, embeddings: np.ndarray, groups=None) -> np.ndarray:
        """``‖x − c₀‖² − ‖x − c₁‖²`` per row, with its group's prototypes where the group has them."""
        keys = [ALL] * len(embeddings) if groups is None else [str(g) if str(g) in self.means else ALL
                                                                  for g in groups]
        out = np.empty(len(embeddings))
        for key in set(keys):
            rows = np.flatnonzero(np.asarray(keys) == key)
            distances = ((embeddings[rows, None, :] - self.means[key][None]) ** 2).sum(-1)
            out[rows] = distances[:, 0] - distances[:, 1]
        return out
