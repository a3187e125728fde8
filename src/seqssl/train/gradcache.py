"""Gradient caching (Gao, Zhang, Han & Callan 2021, "Scaling Deep Contrastive Learning Batch Size under
Memory Limited Setup"): the exact gradient of a contrastive loss over a large batch, in bounded memory.

1. Embed every part of the batch in chunks of ``chunk_size`` rows *without* a graph, recording the
   random state before each chunk (dropout).
2. Compute the loss on the full set of embeddings (projector and loss see the whole batch, so every
   negative counts) and backpropagate it to the embeddings: that gradient is the cache.
3. Re-embed each chunk *with* a graph, the random state replayed so dropout draws the same masks, and
   backpropagate the cached gradient of its rows into the encoder.

Naive gradient accumulation would instead shrink the set of negatives to a micro-batch. Written by hand:
the reference implementation is not a maintained library, and ours must fit our objectives' split
(:meth:`~seqssl.objectives.contrastive.TwoViewObjective.loss_from_embeddings`).
"""
from __future__ import annotations

import torch

from ..errors import InputError
from ..heap import trim_heap


def _rng_state(device: torch.device):
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _chunks(part: dict, size: int):
    n = part["input_ids"].shape[0]
    for start in range(0, n, size):
        yield {k: part[k][start:start + size] for k in ("input_ids", "attention_mask", "token_type_ids")}


def cached_backward(objective, batch: dict, generator: torch.Generator | None, chunk_size: int) -> dict:
    """One gradient-cached forward/backward of a contrastive objective; gradients are accumulated into
    the parameters exactly as ``objective(batch)["loss"].backward()`` would with the same dropout masks.
    Returns the objective's output dict (its loss detached)."""
    if not objective.gradient_caching:  # seqssl.objectives.base.Objective: embed() + loss_from_embeddings()
        raise InputError(f"gradient caching applies to contrastive objectives, "
                         f"not '{objective.name or type(objective).__name__}'",
                         fix="token objectives accumulate micro-batches: seqssl.train.accumulate.token_backward")
    parts = objective.inputs(batch, generator)
    device = batch["input_ids"].device
    states, cached = [], []
    with torch.no_grad():  # pass 1: embeddings without a graph
        for part in parts:
            pieces = []
            for chunk in _chunks(part, chunk_size):
                states.append(_rng_state(device))
                pieces.append(objective.embed(chunk))
            cached.append(torch.cat(pieces))
    after = _rng_state(device)
    leaves = [e.detach().requires_grad_(True) for e in cached]
    out = objective.loss_from_embeddings(leaves, batch)  # the full batch: every negative counts
    (out["loss"] * objective.loss_weight).backward()  # projector/predictor gradients, and the cache d loss / d emb.
    if device.type == "cpu":
        trim_heap()  # pass 1's workspace, before pass 2 allocates its graphs
    index = 0
    for part, leaf in zip(parts, leaves):  # pass 2: replay each chunk with a graph
        assert leaf.grad is not None  # d loss / d embedding, from the backward above
        for start, chunk in zip(range(0, leaf.shape[0], chunk_size), _chunks(part, chunk_size)):
            _set_rng_state(states[index], device)
            index += 1
            objective.embed(chunk).backward(leaf.grad[start:start + chunk_size])
            if device.type == "cpu":
                trim_heap()
    _set_rng_state(after, device)
    return {k: v.detach() if torch.is_tensor(v) else v for k, v in out.items()}
