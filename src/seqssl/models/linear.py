"""Linear models scikit-learn does not have in the shape seqssl needs."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


class PerTargetLogistic:
    """Multilabel: one logistic regression per target, fitted on the rows where that target was measured
    (a target with one class in training predicts its training rate). scikit-learn's
    ``MultiOutputClassifier`` cannot leave each target's unmeasured (NaN) rows out, hence this class."""

    def __init__(self, strength: float, seed: int):
        self.strength, self.seed = strength, seed
        self.models: list = []  # per target: a fitted LogisticRegression, or a constant rate (float)

    @property
    def C(self) -> float:  # noqa: N802 (scikit-learn's name, read by reports)
        return self.strength

    def fit(self, x, y: np.ndarray) -> PerTargetLogistic:
        self.models = []
        for j in range(y.shape[1]):
            rows = np.flatnonzero(~np.isnan(y[:, j]))
            values = y[rows, j]
            if len(np.unique(values)) < 2:
                self.models.append(float(values.mean()) if len(values) else 0.5)
                continue
            model = LogisticRegression(C=self.strength, max_iter=2000, solver="liblinear", random_state=self.seed)
            self.models.append(model.fit(x[rows], values))
        return self

    @property
    def coef_(self) -> np.ndarray:
        """``(targets, features)``; zeros for a constant target (its rate is in ``intercept_``)."""
        width = next((m.coef_.shape[1] for m in self.models if not isinstance(m, float)), 0)
        return np.stack([np.zeros(width) if isinstance(m, float) else m.coef_[0] for m in self.models])

    @property
    def intercept_(self) -> np.ndarray:
        def logit(p: float) -> float:
            return float(np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1)))
        return np.array([logit(m) if isinstance(m, float) else m.intercept_[0] for m in self.models])

    def predict_proba(self, x) -> np.ndarray:
        """``(rows, targets)`` probabilities of the positive class."""
        return np.stack([np.full(x.shape[0], m) if isinstance(m, float) else m.predict_proba(x)[:, 1]
                         for m in self.models], axis=1)
