"""SimCLR on token sequences: two views, pooled encoder output, projection, NT-Xent."""
from __future__ import annotations

import torch

from ..losses import nt_xent
from ..models.heads import projection_head
from .contrastive import TwoViewObjective
from .registry import register


@register("simclr")
class SimCLR(TwoViewObjective):
    """Chen et al. 2020 with seed 000's views by default: each view replaces k residues by ``[MASK]``. With
    ``hard_negative_beta`` / ``debias_tau_plus`` the 2N-anchor loss is :func:`~seqssl.losses.hard_debiased_nce`,
    and with ``distance: euclidean`` it scores −‖a − c‖ / t; explicit negatives (``--negative-column``) join every
    anchor's candidates (the whole (2N)² similarity matrix is then held: no row blocks)."""

    takes_negatives = True

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        a, b = self.projector(embeddings[0]), self.projector(embeddings[1])
        plain = not (self.cfg.hard_negative_beta or self.cfg.debias_tau_plus or self.cfg.distance != "cosine")
        if plain and len(embeddings) == 2:
            return {"loss": nt_xent(a, b, self.cfg.temperature)}
        # the same 2N anchors, each view's positive the other view, self excluded, reweighted / debiased
        z = torch.cat([a, b])
        n = a.shape[0]
        partner = torch.arange(2 * n, device=z.device).roll(n)
        positive = torch.zeros(2 * n, 2 * n, dtype=torch.bool, device=z.device)
        positive[torch.arange(2 * n, device=z.device), partner] = True
        itself = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        candidates, positive, itself = self.with_negatives(z, positive, itself, embeddings, batch,
                                                           [batch["input_ids"], batch.get("pair", batch)["input_ids"]])
        return {"loss": self.nway(z, candidates, positive, itself)}
