"""Nearest-neighbour prediction from a similarity matrix between query and training rows: the rule of the
``knn`` arm (edit-distance similarity of sequences, as the TCR-specificity field's distance baselines) and
of the ``knn`` transfer mode (cosine similarity of a frozen encoder's embeddings, as pretrained TCR
encoders are judged).

Classification: a query's score is the mean similarity to its ``k`` most similar training positives of
the same group (for pair inputs: the same second sequence, e.g. the same peptide; all training positives
when its group has none). Regression: the similarity-weighted mean label of its ``k`` nearest training
rows. ``k`` is chosen on the validation split by the task's primary metric. Written here because
scikit-learn's ``KNeighbors*`` take feature vectors and distances, not a precomputed similarity restricted
to positives of the query's own group.
"""
from __future__ import annotations

import numpy as np

K_GRID = (1, 3, 5, 10)


def predicts(task) -> bool:
    """Whether the rule scores ``task``: one binary label or one number per row (the ``knn`` arm and mode)."""
    return not task.per_token and bool(task.binary or task.standardise_targets)


def top_k_mean(similarity: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of its ``k`` largest entries (all of them when fewer); ``-inf`` entries are absent."""
    if similarity.shape[1] == 0:
        return np.zeros(similarity.shape[0])
    k = min(k, similarity.shape[1])
    top = -np.partition(-similarity, k - 1, axis=1)[:, :k]
    top = np.where(np.isfinite(top), top, np.nan)
    with np.errstate(invalid="ignore"):
        out = np.nanmean(top, axis=1) if top.size else np.zeros(similarity.shape[0])
    return np.nan_to_num(out, nan=0.0)


def positive_neighbour_scores(similarity: np.ndarray, labels: np.ndarray, query_groups, train_groups,
                              k: int) -> np.ndarray:
    """Mean similarity of each query to its ``k`` nearest training positives of its own group (any positive
    when its group has none in training). ``similarity``: ``(queries, training rows)``."""
    positives = np.asarray(labels) == 1
    scores = top_k_mean(similarity[:, positives], k)
    if query_groups is None or train_groups is None:
        return scores
    train_groups = np.asarray(train_groups)[positives]
    sub = similarity[:, positives]
    for group in np.unique(query_groups):
        members = train_groups == group
        if members.any():
            rows = np.flatnonzero(np.asarray(query_groups) == group)
            scores[rows] = top_k_mean(sub[np.ix_(rows, np.flatnonzero(members))], k)
    return scores


def neighbour_regression(similarity: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Similarity-weighted mean of the ``k`` nearest training values (weights clipped at a small positive
    floor so that dissimilar neighbours still count a little)."""
    k = min(k, similarity.shape[1])
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    weights = np.clip(np.take_along_axis(similarity, nearest, axis=1), 1e-6, None)
    return (weights * np.asarray(values, dtype=float)[nearest]).sum(1) / weights.sum(1)


def knn_scores(task, similarity: np.ndarray, train_labels: np.ndarray, query_groups, train_groups,
               k: int) -> np.ndarray:
    """The task's scores of the queries from their similarities to the training rows."""
    if task.binary:
        return positive_neighbour_scores(similarity, train_labels, query_groups, train_groups, k)
    return neighbour_regression(similarity, train_labels, k)


def choose_k(task, val_similarity: np.ndarray, train_labels, val_labels, val_groups, train_groups) -> tuple:
    """``(k, validation metric)``: the ``k`` of :data:`K_GRID` with the best validation primary metric."""
    best = (K_GRID[0], None)
    for k in K_GRID:
        scores = knn_scores(task, val_similarity, train_labels, val_groups, train_groups, k)
        value = task.metrics(val_labels, scores).get(task.primary_metric)
        if value is not None and (best[1] is None or value > best[1]):
            best = (k, value)
    return best


class Calibration:
    """Platt scaling (Platt 1999): a logistic regression of the label on the validation split's similarity
    scores, turning similarities into probabilities so that thresholded metrics (accuracy at 0.5) mean what
    they mean for the other arms; monotone, so every ranking metric is unchanged. Regression scores pass
    through unchanged."""

    def __init__(self, task, val_scores: np.ndarray, val_labels: np.ndarray):
        from sklearn.linear_model import LogisticRegression
        self.model = None  # the fitted scikit-learn model (None when loaded from a saved model or not fitted)
        self.coef: float | None = None  # p = sigmoid(coef · (score − center) / scale + intercept)
        self.intercept = 0.0
        scores = np.asarray(val_scores, dtype=np.float64)
        # standardised first: cosine similarities of a random encoder all lie within ~0.01 of 1
        self.center, self.scale = float(scores.mean()) if len(scores) else 0.0, float(scores.std()) or 1.0
        if task.binary and len(np.unique(val_labels)) == 2:
            self.model = LogisticRegression(C=1e4).fit(self._feature(scores), val_labels)
            self.coef, self.intercept = float(self.model.coef_[0, 0]), float(self.model.intercept_[0])

    def _feature(self, scores) -> np.ndarray:
        return ((np.asarray(scores, dtype=np.float64) - self.center) / self.scale).reshape(-1, 1)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if self.coef is None or self.coef <= 0:  # a decreasing fit would reverse the ranking: keep it
            return np.asarray(scores)
        from scipy.special import expit
        return expit(self.coef * self._feature(scores)[:, 0] + self.intercept)

    def to_dict(self) -> dict | None:
        """What :meth:`from_dict` needs (``None`` when nothing was fitted: scores pass through)."""
        if self.coef is None:
            return None
        return {"coef": self.coef, "intercept": self.intercept, "center": self.center, "scale": self.scale}

    @classmethod
    def from_dict(cls, saved: dict | None) -> Calibration:
        """The calibration :meth:`to_dict` wrote (a saved model's)."""
        calibration = cls.__new__(cls)
        calibration.model, calibration.coef, calibration.intercept = None, None, 0.0
        calibration.center, calibration.scale = 0.0, 1.0
        if saved:
            calibration.coef, calibration.intercept = float(saved["coef"]), float(saved["intercept"])
            calibration.center, calibration.scale = float(saved["center"]), float(saved["scale"])
        return calibration


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` cosine similarities of two sets of vectors."""
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return a @ b.T


def rows_edit_similarity(queries: list[tuple], references: list[tuple]) -> np.ndarray:
    """``(queries, references)`` similarity of rows of one or more sequences: :func:`edit_similarity` for one;
    for several, 1 − (summed edit distances) / (summed longer lengths), column by column (CDR3α with CDR3α,
    CDR3β with CDR3β; the way TCRdist sums its per-CDR distances), which is :func:`edit_similarity` again
    when there is one column."""
    width = len(queries[0]) if queries else 1
    if width == 1:
        return edit_similarity([q[0] for q in queries], [r[0] for r in references])
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein
    if not queries or not references:
        return np.zeros((len(queries), len(references)))
    distance = np.zeros((len(queries), len(references)), dtype=np.float64)
    longer = np.zeros_like(distance)
    for c in range(width):
        column_q, column_r = [q[c] for q in queries], [r[c] for r in references]
        distance += process.cdist(column_q, column_r, scorer=Levenshtein.distance, dtype=np.int32, workers=-1)
        longer += np.maximum.outer(np.fromiter(map(len, column_q), np.int64, len(column_q)),
                                   np.fromiter(map(len, column_r), np.int64, len(column_r)))
    return (1.0 - distance / np.maximum(longer, 1)).astype(np.float32)


def edit_similarity(queries: list[str], references: list[str]) -> np.ndarray:
    """``(queries, references)`` normalised Levenshtein similarity, 1 − distance / longer length
    (``rapidfuzz``, in C, on both cores)."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein
    if not queries or not references:
        return np.zeros((len(queries), len(references)))
    return process.cdist(queries, references, scorer=Levenshtein.normalized_similarity, dtype=np.float32,
                         workers=-1)
