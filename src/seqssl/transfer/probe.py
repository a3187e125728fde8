"""Linear probe on frozen pooled embeddings (``--mode probe``): the encoder is not trained.

Embeddings are computed once (encoder in eval mode), standardised on the training rows, and fed to a
logistic regression (classification) or ridge (regression) whose strength is chosen on the validation
split, as for the k-mer baseline. With few labels this is the low-variance way to ask what the
pretrained representation already knows.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from ..errors import InputError
from ..io import atomic_write_text, save_tensors
from ..models.encoder import embed_dataset
from ..tasks import Task, as_task
from .kmer import linear_scores, select_linear_model


class LinearProbe:
    """Frozen encoder → standardised pooled embedding → fitted linear model."""

    def __init__(self, encoder, scaler: StandardScaler, model, task: Task, device: torch.device):
        self.encoder, self.scaler, self.model, self.task, self.device = encoder, scaler, model, task, device

    def predict(self, data) -> np.ndarray:
        x = self.scaler.transform(embed_dataset(self.encoder, data, self.device))
        return linear_scores(self.model, x, self.task)

    def save(self, directory: Path) -> None:
        """Weights as safetensors (coefficients, intercept, scaler), settings as JSON: no pickle."""
        directory.mkdir(parents=True, exist_ok=True)
        coef = np.atleast_2d(self.model.coef_).astype(np.float32)
        intercept = np.atleast_1d(self.model.intercept_).astype(np.float32)
        save_tensors({"coef": torch.from_numpy(coef), "intercept": torch.from_numpy(intercept),
                   "mean": torch.from_numpy(self.scaler.mean_.astype(np.float32)),
                   "scale": torch.from_numpy(self.scaler.scale_.astype(np.float32))},
                  str(directory / "probe.safetensors"))
        strength = getattr(self.model, "C", None) or getattr(self.model, "alpha", None)
        classes = getattr(self.model, "classes_", None)
        atomic_write_text(directory / "probe.json", json.dumps(
            {"task": self.task.name, "kind": type(self.model).__name__, "strength": strength,
             "classes": None if classes is None else np.asarray(classes).tolist()}))


def restored_linear_model(kind: str, coef: np.ndarray, intercept: np.ndarray, classes):
    """A fitted scikit-learn model rebuilt from its saved coefficients (no pickle): the attributes its
    ``predict`` / ``predict_proba`` read. Multilabel per-target models come back as logistic regressions (a
    constant target as a zero-coefficient one with its rate's logit as intercept: the same probabilities)."""
    from sklearn.linear_model import LogisticRegression, Ridge

    from ..models.linear import PerTargetLogistic

    def logistic(w, b, labels):
        model = LogisticRegression()
        model.coef_, model.intercept_, model.classes_ = np.atleast_2d(w), np.atleast_1d(b), np.asarray(labels)
        return model
    if kind == "Ridge":
        model = Ridge()
        model.coef_, model.intercept_ = coef.reshape(-1), float(intercept.reshape(-1)[0])
        return model
    if kind == "PerTargetLogistic":
        per_target = PerTargetLogistic(1.0, 0)
        per_target.models = [logistic(coef[j], intercept[j], [0.0, 1.0]) for j in range(coef.shape[0])]
        return per_target
    return logistic(coef, intercept, classes)


def load_probe(directory: Path, encoder, task: Task, device) -> LinearProbe:
    """The probe :meth:`LinearProbe.save` wrote into ``directory``, on ``encoder``."""
    from safetensors.torch import load_file
    weights = {k: v.numpy().astype(np.float64) for k, v in load_file(str(directory / "probe.safetensors")).items()}
    settings = json.loads((directory / "probe.json").read_text())
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = weights["mean"], weights["scale"]
    scaler.var_, scaler.n_features_in_ = weights["scale"] ** 2, len(weights["mean"])
    model = restored_linear_model(settings["kind"], weights["coef"], weights["intercept"], settings.get("classes"))
    return LinearProbe(encoder, scaler, model, task, device)


def fit_probe(encoder, fit, val, task: str | Task, *, device: torch.device, seed: int = 0):
    """Fit a linear probe on ``fit``, choosing its regularisation on ``val``; return (probe, details)."""
    task = as_task(task)
    if task.per_token:
        raise InputError("--mode probe is for per-sequence tasks", fix="use --mode full for token-classification")
    x_fit, x_val = embed_dataset(encoder, fit, device), embed_dataset(encoder, val, device)
    scaler = StandardScaler().fit(x_fit)
    model, strength, best_val = select_linear_model(scaler.transform(x_fit), fit.labels, scaler.transform(x_val),
                                                    val.labels, task, seed)
    return LinearProbe(encoder, scaler, model, task, device), {"strength": strength, "best_val": best_val,
                                                               "mode": "probe"}


class ProbeWithKmers:
    """``--mode probe+kmer``: the frozen encoder's standardised pooled embedding beside the ``kmer`` arm's
    features (:class:`~seqssl.transfer.kmer.KmerFeatures` of the same rows) in one regularised linear model whose
    strength is chosen on the validation split. Compared with ``kmer`` alone it measures what the pretrained
    representation adds to k-mers, the question a frozen pretrained model is asked in the field's benchmarks."""

    def __init__(self, encoder, scaler: StandardScaler, features, model, task: Task, device: torch.device):
        self.encoder, self.scaler, self.features, self.model = encoder, scaler, features, model
        self.task, self.device = task, device

    def design(self, data):
        from scipy import sparse
        embedded = self.scaler.transform(embed_dataset(self.encoder, data, self.device))
        return sparse.hstack([sparse.csr_matrix(embedded), self.features.transform(rows_of(data))]).tocsr()

    def predict(self, data) -> np.ndarray:
        return linear_scores(self.model, self.design(data), self.task)


def rows_of(data) -> list[tuple]:
    """The sequences of ``data`` as text (what k-mers are counted on)."""
    if data.rows is None:
        raise InputError("--mode probe+kmer needs the rows' sequences as text", fix="use --mode probe")
    return data.rows


def fit_probe_with_kmers(encoder, fit, val, task: str | Task, *, device: torch.device, seed: int = 0,
                         max_k: int = 3) -> tuple[ProbeWithKmers, dict]:
    """Fit :class:`ProbeWithKmers` on ``fit`` with its strength chosen on ``val``."""
    from .kmer import KmerFeatures
    task = as_task(task)
    scaler = StandardScaler().fit(embed_dataset(encoder, fit, device))
    model = ProbeWithKmers(encoder, scaler, KmerFeatures(max_k).fit(rows_of(fit)), None, task, device)
    model.model, strength, best_val = select_linear_model(model.design(fit), fit.labels, model.design(val),
                                                          val.labels, task, seed)
    return model, {"strength": strength, "best_val": best_val, "features": "embedding + k-mers"}
