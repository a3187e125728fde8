"""Pure loss functions on embeddings; they know nothing of models or training loops."""
from __future__ import annotations

import torch
import torch.nn.functional as F

NORM_EPS = 1e-6  # safe in bf16 too


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """NT-Xent (normalised temperature-scaled cross entropy), SimCLR eq. 1 (Chen et al. 2020).

    For 2N embeddings (two views of N examples), each view's positive is the other view of the same
    example; the other 2N-2 are negatives; the self-similarity is excluded. Mean over all 2N anchors.
    Computed with ``cross_entropy`` (log-sum-exp), so low temperatures do not overflow.
    """
    if z1.shape != z2.shape:
        raise ValueError(f"views must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    n = z1.shape[0]
    z = torch.cat([z1, z2], 0)
    z = F.normalize(z.to(torch.promote_types(z.dtype, torch.float32)), dim=1, eps=NORM_EPS)
    logits = z @ z.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)
