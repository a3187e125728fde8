"""SimSiam (Chen & He 2021): projector with BatchNorm, predictor, stop-gradient, no negatives."""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..losses import negative_cosine
from .contrastive import TwoViewObjective
from .registry import register


def _projector(dim_in: int, dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim_in, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(),
                         nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim, affine=False))


@register("simsiam")
class SimSiam(TwoViewObjective):
    """Loss = D(p1, sg(z2))/2 + D(p2, sg(z1))/2 (eq. 2). Logs ``output_std``: the std of the
    L2-normalised projector outputs, ≈ 1/sqrt(d) when healthy and ≈ 0 when collapsed (sec. 4.1)."""

    collapse_fraction = 0.2  # warn when output_std < 0.2 / sqrt(d)

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        d = cfg.projection_dim
        if d < 1:
            raise InputError("simsiam needs a projection head (its predictor maps projections)",
                             fix="set pretrain.projection_dim to a positive width, e.g. 64")
        self.projector = _projector(encoder.hidden_size, d)
        self.predictor = nn.Sequential(nn.Linear(d, max(d // 4, 8), bias=False), nn.BatchNorm1d(max(d // 4, 8)),
                                       nn.ReLU(), nn.Linear(max(d // 4, 8), d))
        self._warned = False

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        h1, h2 = embeddings
        z1, z2 = self.projector(h1), self.projector(h2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        loss = 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)
        with torch.no_grad():
            std = F.normalize(z1.float(), dim=1).std(0).mean()
        healthy = 1.0 / math.sqrt(z1.shape[1])
        if std < self.collapse_fraction * healthy and not self._warned:
            warnings.warn(f"SimSiam may have collapsed: output std {float(std):.4f} vs {healthy:.4f} healthy",
                          stacklevel=2)
            self._warned = True
        return {"loss": loss, "output_std": std}
