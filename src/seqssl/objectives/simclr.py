"""SimCLR on token sequences: two views, pooled encoder output, projection, NT-Xent."""
from __future__ import annotations

import torch

from ..losses import nt_xent
from ..models.heads import projection_head
from .contrastive import TwoViewObjective
from .registry import register


@register("simclr")
class SimCLR(TwoViewObjective):
    """Chen et al. 2020 with seed 000's views by default: each view replaces k residues by ``[MASK]``."""

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        a, b = embeddings
        return {"loss": nt_xent(self.projector(a), self.projector(b), self.cfg.temperature)}
