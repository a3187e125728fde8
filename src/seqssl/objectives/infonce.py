"""N-way InfoNCE with in-batch negatives, optional hard negatives, and label-aware positives."""
from __future__ import annotations

import torch

from ..losses import info_nce
from ..models.heads import ProjectionHead
from .contrastive import TwoViewObjective, duplicate_mask
from .registry import register


@register("infonce")
class InfoNCE(TwoViewObjective):
    """Anchors: the first views; candidates: all second views (+ ``batch["hard_negative"]`` if given).
    The positive of anchor i is its own second view and, when ``batch["group"]`` holds labels, every
    second view with the same label (supervised-contrastive). Exact duplicates of an anchor that are
    not positives are left out of its denominator rather than counted as negatives."""

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = ProjectionHead(encoder.hidden_size, cfg.projection_dim)

    def inputs(self, batch: dict, generator) -> list[dict]:
        views = list(self.views(batch, generator))
        return views + [batch["hard_negative"]] if "hard_negative" in batch else views

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        anchors, candidates = self.projector(embeddings[0]), self.projector(embeddings[1])
        n = anchors.shape[0]
        positive = torch.eye(n, dtype=torch.bool, device=anchors.device)
        if "group" in batch:
            positive = positive | (batch["group"].unsqueeze(1) == batch["group"].unsqueeze(0))
        ignore = duplicate_mask(batch["input_ids"])
        if len(embeddings) == 3:  # explicitly supplied hard negatives
            extra = self.projector(embeddings[2])
            candidates = torch.cat([candidates, extra])
            pad = torch.zeros(n, extra.shape[0], dtype=torch.bool, device=anchors.device)
            positive, ignore = torch.cat([positive, pad], 1), torch.cat([ignore, pad], 1)
        return {"loss": info_nce(anchors, candidates, positive, self.cfg.temperature, ignore)}
