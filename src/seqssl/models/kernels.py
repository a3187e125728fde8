"""Faster kernels for the same functions inside ``transformers`` encoders, and ``torch.compile`` of them.

ESM's feed-forward activation is written in ``transformers`` as ``x * 0.5 * (1 + erf(x / √2))``: five
elementwise kernels forward and about ten backward over the (batch, length, 4 × hidden) activations of every
layer. ``torch.nn.functional.gelu`` is the same exact-erf GELU in one kernel each way: on [-12, 12] the two
differ by at most 4.8e-7, and ``F.gelu`` is the closer of the two to the float64 value. In an ESM-2-8M-sized
encoder on proteins of ~220 residues (``benchmarks/bench_throughput.py``, shape b) the five-kernel form took
about a quarter of a CPU training step; with one kernel a step is ~12% faster (``docs/results/throughput.md``).
Weights, state-dict keys and saved models are unchanged: only the module's class is swapped, and a saved
model loads back into the stock ``transformers`` class.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.esm.modeling_esm import EsmIntermediate


class FusedGeluEsmIntermediate(EsmIntermediate):
    """``EsmIntermediate`` with its GELU computed by ``F.gelu`` (one kernel forward, one backward)."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden_states))


def use_fused_kernels(backbone: nn.Module) -> nn.Module:
    """Swap, in place, the modules of ``backbone`` that have a faster equivalent (ESM's feed-forward GELU)."""
    for module in backbone.modules():
        if type(module) is EsmIntermediate:
            module.__class__ = FusedGeluEsmIntermediate
    return backbone


def compile_backbones(model: nn.Module) -> int:
    """``torch.compile`` (in place, dynamic shapes: batches vary in width) every encoder backbone inside
    ``model`` (modules with a ``backbone``); returns how many were compiled. Parameters and state-dict keys
    stay as they are, so checkpoints and ``save_pretrained`` are unaffected."""
    compiled = 0
    for module in model.modules():
        backbone = getattr(module, "backbone", None)
        if isinstance(backbone, nn.Module) and hasattr(backbone, "config"):
            backbone.compile(dynamic=True)
            compiled += 1
    return compiled
