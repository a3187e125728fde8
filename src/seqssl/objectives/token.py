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
normalises by itself, as before. :meth:`TokenObjective.forward_backward` chooses between the two.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from ..train.accumulate import token_backward
from ..train.distributed import world
from .base import Amp, Objective


class TokenObjective(Objective):
    """A loss normalised per predicted token, whose batches may be split exactly (see the module docstring)."""

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

    def forward_backward(self, model: nn.Module, batch: dict, generator: torch.Generator | None, cfg,
                         inputs: list | None, amp: Amp = nullcontext) -> dict:
        """Micro-batches of ``cfg.chunk_size`` rows and/or this rank's block under DDP, normalised per
        predicted token of the whole batch (:func:`~seqssl.train.accumulate.token_backward`); otherwise
        the plain forward and backward of :meth:`Objective.forward_backward`."""
        if not cfg.chunk_size and world()[1] == 1:
            return super().forward_backward(model, batch, generator, cfg, inputs, amp)
        with amp():
            return token_backward(model, self, batch, generator, cfg.chunk_size, inputs)
