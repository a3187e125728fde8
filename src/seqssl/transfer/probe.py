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
        atomic_write_text(directory / "probe.json",
                          json.dumps({"task": self.task.name, "kind": type(self.model).__name__, "strength": strength}))


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
