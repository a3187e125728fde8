"""Triplet margin loss with hard-negative mining (seed 004)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import pairwise_distance, triplet_margin
from ..models.heads import projection_head
from ..options import option
from .contrastive import TwoViewObjective
from .miners import MINERS, mine_triplets
from .registry import register


@dataclass
class TripletOptions:
    """``pretrain.triplet``: the margin and which triplets are mined."""

    margin: float = option(0.2, "the triplet margin", at_least=0, old="margin")
    miner: str = option("semi-hard", "all triplets, semi-hard ones (FaceNet) or the hardest per anchor (batch-hard)",
                        choices=MINERS, old="miner")


@register("triplet")
class Triplet(TwoViewObjective):
    """Both views of every example are pooled into one set of 2N embeddings whose labels are the
    example index (or ``batch["group"]``: positives from a shared label). Identical sequences share a
    label, so a duplicate is never used as a negative. Miner and margin: ``pretrain.triplet``
    (:class:`TripletOptions`); the distance: the shared ``pretrain.distance``."""

    Options = TripletOptions

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        z = self.projector(torch.cat(embeddings))
        labels = batch.get("group")
        if labels is None:  # example identity; duplicates get the id of their first copy
            ids = batch["input_ids"]
            same = (ids.unsqueeze(1) == ids.unsqueeze(0)).all(-1)
            labels = same.float().argmax(1)
        labels = torch.cat([labels, labels])
        distances = pairwise_distance(z, self.cfg.distance)
        triplets = mine_triplets(distances, labels, self.options.miner, self.options.margin)
        return {"loss": triplet_margin(distances, triplets, self.options.margin),
                "n_triplets": torch.tensor(float(len(triplets)))}
