"""Differentiable discrete sampling for the adversarial masker (seed 001, Appendix A).

Pure functions of (scores, masks, seeded generator). Written by hand because no maintained library
offers budgeted *relaxed subset* sampling with per-row budgets; ``torch.nn.functional.gumbel_softmax``
has no ``generator`` argument, so it cannot be made reproducible alongside our seeded views.
"""
from __future__ import annotations

import torch

_EPS = 1e-18  # the seed's epsilon inside log(max(1 - p, eps))
_NEG = -1e9   # "minus infinity" that keeps softmax finite when a row has no eligible token


def gumbel_noise(shape, generator: torch.Generator | None, device, dtype=torch.float32) -> torch.Tensor:
    """Standard Gumbel(0, 1) noise, ``-log(-log U)`` with U clamped away from 0 and 1."""
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    u = u.clamp(torch.finfo(dtype).tiny, 1.0 - torch.finfo(dtype).eps)
    return -torch.log(-torch.log(u))


def relaxed_subset(scores: torch.Tensor, eligible: torch.Tensor, budget: torch.Tensor,
                   temperature: float = 1.0, generator: torch.Generator | None = None,
                   noise: torch.Tensor | None = None) -> torch.Tensor:
    """Relaxed k-subset sample per row (Xie & Ermon 2019, Alg. 2; the seed's Alg. 1 with row budgets).

    ``scores`` (B, L) unnormalised log-weights; ``eligible`` (B, L) bool; ``budget`` (B,) integers
    ≤ the row's eligible count. Gumbel-perturbed keys go through ``max(budget)`` rounds of softmax;
    after each round the chosen mass is suppressed by ``log(1 - p)``. A row stops adding once its
    budget is spent, so each row of the result sums to its budget and is 0 off ``eligible``; entries
    tend to {0, 1} as the temperature falls (at high temperature, with a budget close to the eligible
    count, single entries can exceed 1: it is a relaxation).
    """
    keys = scores.float() + (gumbel_noise(scores.shape, generator, scores.device) if noise is None else noise)
    keys = keys.masked_fill(~eligible, _NEG)
    soft = torch.zeros_like(keys)
    onehot = torch.zeros_like(keys)
    for round_ in range(int(budget.max().item()) if budget.numel() else 0):
        keys = keys + torch.log(torch.clamp(1.0 - onehot, min=_EPS))
        onehot = torch.softmax(keys / temperature, dim=-1)
        active = (budget > round_).to(keys.dtype).unsqueeze(1)
        soft = soft + active * onehot
    return soft * eligible


def top_budget(soft: torch.Tensor, eligible: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """Hard mask: the ``budget[i]`` eligible positions of row i with the largest relaxed weights."""
    ranked = soft.detach().masked_fill(~eligible, -1.0)
    rank = ranked.argsort(dim=1, descending=True, stable=True).argsort(dim=1)
    return eligible & (rank < budget.unsqueeze(1))


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Bengio et al. 2013: the value of ``hard``, the gradient of ``soft``."""
    return hard.to(soft.dtype) + soft - soft.detach()


def gumbel_softmax_st(logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None,
                      noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Straight-through Gumbel-softmax (Jang et al. 2017) over the last axis (``noise``: the Gumbel
    noise, drawn beforehand).

    Returns ``(one-hot sample with the soft sample's gradient, soft sample)``."""
    if noise is None:
        noise = gumbel_noise(logits.shape, generator, logits.device)
    soft = torch.softmax((logits.float() + noise) / temperature, -1)
    hard = torch.nn.functional.one_hot(soft.argmax(-1), soft.shape[-1])
    return straight_through(hard, soft), soft


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


def reverse_gradient(x: torch.Tensor) -> torch.Tensor:
    """Identity forward, negated gradient backward (Ganin & Lempitsky 2015): minimising a loss
    through it maximises the loss for everything upstream."""
    return _ReverseGradient.apply(x)
