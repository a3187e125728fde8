"""SimCLR on token sequences: two masked views, pooled encoder output, projection, NT-Xent."""
from __future__ import annotations

import torch
from torch import nn

from ..augment import mask_tokens
from ..losses import nt_xent
from ..models.heads import ProjectionHead
from .registry import register


@register("simclr")
class SimCLR(nn.Module):
    """Chen et al. 2020 with seed 000's views: each view replaces k residues by ``[MASK]``."""

    drop_last = True  # contrastive batches need negatives

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        self.encoder = encoder
        self.projector = ProjectionHead(encoder.hidden_size, cfg.projection_dim)
        self.temperature, self.k, self.rate = cfg.temperature, cfg.mask_tokens, cfg.mask_rate

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        ids, attn, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        view1 = mask_tokens(ids, self.k, self.rate, generator)
        view2 = mask_tokens(ids, self.k, self.rate, generator)
        n = ids.shape[0]
        # one forward for both views: 2N rows
        pooled = self.encoder(torch.cat([view1, view2]), attn.repeat(2, 1), types.repeat(2, 1))
        z = self.projector(pooled)
        loss = nt_xent(z[:n], z[n:], self.temperature)
        return {"loss": loss}
