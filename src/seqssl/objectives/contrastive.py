"""Shared plumbing of the contrastive objectives: two views per example, pooled and projected.

A batch either carries one set of sequences (both views are augmentations of it) or, under
``batch["pair"]``, a second set of different sequences that are positives of the first
(neighbouring chunks of one long sequence, or two sequences with the same label).
"""
from __future__ import annotations

import torch
from torch import nn

from ..augment import make_view
from ..data.tokenizers import drawable_residues


class TwoViewObjective(nn.Module):
    drop_last = True  # contrastive batches need negatives

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        self.encoder, self.cfg = encoder, cfg
        self.n_residues = drawable_residues(vocab_size)

    def views(self, batch: dict, generator) -> tuple[dict, dict]:
        first = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        second = batch.get("pair", first)
        return (make_view(first, self.cfg, self.n_residues, generator),
                make_view(second, self.cfg, self.n_residues, generator))

    def embed_both(self, a: dict, b: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled embeddings of both views; one forward pass when the two have the same width."""
        n = a["input_ids"].shape[0]
        if a["input_ids"].shape == b["input_ids"].shape:
            pooled = self.encoder(torch.cat([a["input_ids"], b["input_ids"]]),
                                  torch.cat([a["attention_mask"], b["attention_mask"]]),
                                  torch.cat([a["token_type_ids"], b["token_type_ids"]]))
            return pooled[:n], pooled[n:]
        return (self.encoder(a["input_ids"], a["attention_mask"], a["token_type_ids"]),
                self.encoder(b["input_ids"], b["attention_mask"], b["token_type_ids"]))


def duplicate_mask(input_ids: torch.Tensor) -> torch.Tensor:
    """``[i, j]`` True when sequences i and j are token-for-token identical (i != j)."""
    n = input_ids.shape[0]
    same = (input_ids.unsqueeze(1) == input_ids.unsqueeze(0)).all(-1)
    return same & ~torch.eye(n, dtype=torch.bool, device=input_ids.device)
