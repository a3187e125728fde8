"""N-way InfoNCE (van den Oord et al. 2018) with in-batch negatives and label-aware positives."""
from __future__ import annotations

import torch

from ..models.heads import projection_head
from .contrastive import TwoViewObjective, duplicate_mask
from .registry import register


@register("infonce")
class InfoNCE(TwoViewObjective):
    """Anchors: the first views; candidates: all second views (the other rows' are the negatives).
    The positive of anchor i is its own second view and, when ``batch["group"]`` holds labels, every
    second view with the same label (supervised-contrastive). Exact duplicates of an anchor that are
    not positives are left out of its denominator rather than counted as negatives. Explicit negatives
    (``--negative-column``) join every anchor's candidates."""

    takes_negatives = True

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        anchors, candidates = self.projector(embeddings[0]), self.projector(embeddings[1])
        n = anchors.shape[0]
        positive = torch.eye(n, dtype=torch.bool, device=anchors.device)
        if "group" in batch:
            positive = positive | (batch["group"].unsqueeze(1) == batch["group"].unsqueeze(0))
        ignore = duplicate_mask(batch["input_ids"])
        candidates, positive, ignore = self.with_negatives(candidates, positive, ignore, embeddings, batch,
                                                           [batch["input_ids"]])
        return {"loss": self.nway(anchors, candidates, positive, ignore)}
