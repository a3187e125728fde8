"""Gradient accumulation for token-level objectives (MLM, RTD, adversarial MLM), normalised by the
number of predicted tokens of the whole batch, not by the number of micro-batches.

The full batch's loss is ``Σ_tokens ℓ / N``. Averaging micro-batch means instead weights a token by
``1 / (k · n_i)``, which is wrong whenever micro-batches predict different numbers of tokens (variable
lengths, rounding of the masking rate). Here the masking is drawn once for the whole batch
(:meth:`~seqssl.objectives.token.TokenObjective.draw`), ``N`` per loss term is counted from it, and each
micro-batch backpropagates ``Σ_its tokens ℓ / N``: the gradients add up to the full batch's exactly
(with dropout off; with dropout on, each micro-batch draws its own masks, as any accumulation does).

Under ``torchrun`` the same function runs on every rank over that rank's block of the global batch,
dividing by ``N / world size``: DDP's average over ranks then gives the global per-token mean.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.distributed as dist

from .distributed import local_block, world


def row_slice(batch: dict, start: int, stop: int) -> dict:
    """Rows ``start:stop`` of every tensor in ``batch`` (nested dicts too)."""
    return {k: row_slice(v, start, stop) if isinstance(v, dict) else v[start:stop] for k, v in batch.items()}


def token_backward(model, objective, batch: dict, generator: torch.Generator | None, chunk_size: int | None,
                   inputs: list | None = None) -> dict:
    """Forward and backward of a token objective over ``batch`` in micro-batches of ``chunk_size`` rows
    (this rank's rows only under DDP). ``model`` is ``objective`` or its DDP wrapper; ``inputs`` limits
    the backward to those parameters (one player of a game). Returns the logged values: ``loss`` the whole
    batch's, other scalars row-weighted means over micro-batches."""
    _, size = world()
    full = {**batch, "draws": objective.draw(batch, generator)}
    objective.normalizers = {k: v.float() / size for k, v in objective.token_counts(full).items()}
    local = local_block(full)
    n = local["input_ids"].shape[0]
    step = chunk_size or n
    starts = list(range(0, n, step))
    sums: dict[str, torch.Tensor] = {}
    try:
        for i, start in enumerate(starts):
            chunk = row_slice(local, start, start + step)
            last = i == len(starts) - 1
            with nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync():
                out = model(chunk, generator)
                (out["loss"] * objective.loss_weight).backward(inputs=inputs)
            rows = chunk["input_ids"].shape[0]
            for key, value in out.items():
                if torch.is_tensor(value) and value.numel() == 1:
                    weight = 1.0 if key in ("loss", "n_predicted") else rows / n
                    sums[key] = sums.get(key, 0.0) + value.detach().float() * weight
    finally:
        objective.normalizers = None
    if size > 1:  # the logged loss: the global batch's (each rank holds its share times the world size)
        loss = sums["loss"].clone()
        dist.all_reduce(loss)
        sums["loss"] = loss / size
    return sums
