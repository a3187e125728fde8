"""Shared shape of the token-level objectives (MLM, RTD, adversarial MLM): what makes their gradient
exact when a batch is split into micro-batches (gradient accumulation) or over DDP ranks.

A token objective's loss is a sum over predicted tokens divided by how many there are. Two things
would break when the batch is split: the number of tokens differs between micro-batches (so a mean of
micro-batch means weights tokens unequally), and the random masking drawn per micro-batch differs from
the whole batch's. So each objective

- draws its model-independent randomness for the whole batch (:meth:`draw`), carried to the
  micro-batches in ``batch["draws"]``, row by row; and
- divides each loss term's sum by ``normalizers[term]`` when set — the whole batch's count from
  :meth:`token_counts` — instead of the micro-batch's own count.

:func:`seqssl.train.accumulate.token_backward` sets both; called on its own, an objective draws and
normalises by itself, as before.
"""
from __future__ import annotations

import torch
from torch import nn


class TokenObjective(nn.Module):
    drop_last = False
    normalizers: dict[str, torch.Tensor] | None = None

    def draw(self, batch: dict, generator: torch.Generator | None) -> dict:
        """Model-independent randomness (masks, replacements, noise) for every row of ``batch``."""
        raise NotImplementedError

    def token_counts(self, batch: dict) -> dict[str, torch.Tensor]:
        """Predicted tokens per loss term in ``batch`` (which carries ``draws``)."""
        raise NotImplementedError

    def draws_of(self, batch: dict, generator: torch.Generator | None) -> dict:
        return batch["draws"] if "draws" in batch else self.draw(batch, generator)

    def per_token(self, total: torch.Tensor, count: torch.Tensor, term: str) -> torch.Tensor:
        """``total / count``, or ``total / normalizers[term]`` under accumulation."""
        denominator = count if self.normalizers is None else self.normalizers[term]
        return total / denominator
