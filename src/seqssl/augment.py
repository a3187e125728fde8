"""View-makers for contrastive pretraining: pure functions of (token ids, seeded generator)."""
from __future__ import annotations

import torch

from .data.tokenizers import MASK_ID, SPECIAL_TOKENS

FIRST_RESIDUE_ID = len(SPECIAL_TOKENS)


def residue_positions(input_ids: torch.Tensor) -> torch.Tensor:
    """True where a token is a residue (never ``[PAD] [CLS] [SEP] [MASK] [UNK]``)."""
    return input_ids >= FIRST_RESIDUE_ID


def choose_positions(eligible: torch.Tensor, counts: torch.Tensor, generator: torch.Generator | None):
    """Pick exactly ``min(counts[i], eligible[i].sum())`` eligible positions per row, uniformly."""
    scores = torch.rand(eligible.shape, generator=generator, device=eligible.device)
    scores = scores.masked_fill(~eligible, -1.0)
    rank = scores.argsort(dim=1, descending=True).argsort(dim=1)
    return eligible & (rank < counts.unsqueeze(1))


def mask_tokens(input_ids: torch.Tensor, k: int = 1, rate: float | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace ``k`` residues per sequence (or ``max(1, round(rate * length))``) by ``[MASK]``.

    The view-maker of seed 000: one masked token per view by default. Special and padding tokens
    are never masked.
    """
    eligible = residue_positions(input_ids)
    n_residues = eligible.sum(1)
    if rate is not None:
        counts = torch.clamp(torch.round(n_residues.float() * rate).long(), min=1)
    else:
        counts = torch.full_like(n_residues, int(k))
    chosen = choose_positions(eligible, counts, generator)
    return input_ids.masked_fill(chosen, MASK_ID)
