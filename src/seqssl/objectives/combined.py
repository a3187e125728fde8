"""Sums of registered objectives over one shared encoder: ``--objective mlm+simclr``.

The loss is ``L = Σ_i w_i · L_i`` (weights ``pretrain.weights``, default 1 each), as in SCEPTR
(Nagano et al. 2025, Cell Systems), which trains a small TCR encoder with masked-language modelling plus a contrastive
term,. One optimiser steps
once per batch on the summed gradient.

Each part keeps its own way of making a batch's gradient
(:meth:`~seqssl.objectives.base.Objective.forward_backward`): a contrastive part caches gradients under
``--chunk-size`` (Gao, Zhang, Han & Callan 2021), a token part accumulates micro-batches normalised per
predicted token, each scaled by its weight (:attr:`~seqssl.objectives.base.Objective.loss_weight`). Since
gradients add, the parts' backward passes into the same ``.grad`` give exactly the gradient of ``L`` (tested
against autograd of the weighted sum). Under ``torchrun`` each part's backward all-reduces the gradient so far;
averaging an already averaged term again leaves it unchanged, so the sum stays exact.

Games (several players: the adversarial MLM) do not combine: their players' turns would have to be shared.
"""
from __future__ import annotations

from contextlib import nullcontext
from functools import cache
from typing import cast

import torch
from torch import nn

from ..errors import InputError
from .base import Amp, Objective

SEPARATOR = "+"


def part_names(name: str) -> list[str]:
    """``"mlm+simclr"`` → ``["mlm", "simclr"]`` (spaces around the parts ignored)."""
    return [p.strip() for p in name.split(SEPARATOR)]


def part_weights(names: list[str], weights: dict[str, float] | None, objective: str) -> list[float]:
    """The weight of each part (1 where ``weights`` does not name it); a weight naming no part, or a
    negative or non-finite one, is the user's input error."""
    weights = dict(weights or {})
    strangers = sorted(set(weights) - set(names))
    if strangers:
        raise InputError(f"pretrain.weights names {', '.join(strangers)}, not a part of objective '{objective}'",
                         fix=f"weight the parts {', '.join(names)} (e.g. --objective-weights "
                             f"{names[0]}=1,{names[-1]}=0.5)")
    out = [float(weights.get(n, 1.0)) for n in names]
    if any(not (w >= 0 and w < float("inf")) for w in out):
        raise InputError(f"pretrain.weights must be finite and non-negative, got {weights}")
    return out


class CombinedObjective(Objective):
    """The weighted sum of :attr:`part_classes` around one encoder (see the module docstring); made per
    name by :func:`combined_class`. Logs ``loss`` (the weighted sum) and each part's values as
    ``{part}_{key}`` (e.g. ``mlm_loss``, ``mlm_accuracy``, ``simclr_loss``)."""

    part_classes: tuple[type[Objective], ...] = ()

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        games = [c.name for c in self.part_classes if len(c.player_names) > 1]
        if games:
            raise InputError(f"objective '{games[0]}' is a game of several players and does not combine",
                             fix="combine single-player objectives, e.g. mlm+simclr")
        self.encoder = encoder
        self.parts = nn.ModuleList([cls(encoder, cfg, vocab_size) for cls in self.part_classes])
        names = [str(p.name) for p in self.objectives]
        for part, weight in zip(self.objectives, part_weights(names, getattr(cfg, "weights", None), str(self.name))):
            part.loss_weight = weight
        self._current: Objective | None = None  # the part a wrapped (DDP) model's forward runs

    def exported_heads(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: tensors for part in self.objectives for name, tensors in part.exported_heads().items()}

    @property
    def objectives(self) -> list[Objective]:
        """The parts, typed (``self.parts`` is their ``nn.ModuleList``, so that they are submodules)."""
        return cast(list[Objective], list(self.parts))

    @property
    def some_parameters_idle(self) -> bool:
        return True  # each part's head is idle while another part runs

    def uses_gradient_cache(self, cfg) -> bool:
        return any(p.uses_gradient_cache(cfg) for p in self.objectives)

    def after_step(self) -> None:
        for part in self.objectives:
            part.after_step()

    def players(self) -> dict[str, tuple[list[nn.Parameter], dict]]:
        """The parameters some part trains (not MoCo's momentum copies), in ``parameters()`` order (the order
        checkpointed optimiser states are matched by)."""
        trained = {id(p) for part in self.objectives for p in part.players()["model"][0]}
        return {"model": ([p for p in self.parameters() if id(p) in trained], {})}

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        """The current part's forward while :meth:`forward_backward` runs it through a wrapper (DDP);
        otherwise every part's, their weighted sum as ``loss``."""
        if self._current is not None:
            return self._current(batch, generator)
        outs = [(part, part(batch, generator)) for part in self.objectives]
        loss = sum(part.loss_weight * out["loss"] for part, out in outs)
        return {"loss": loss, **{f"{part.name}_{k}": v for part, out in outs for k, v in out.items()}}

    def forward_backward(self, model: nn.Module, batch: dict, generator: torch.Generator | None, cfg,
                         inputs: list | None, amp: Amp = nullcontext) -> dict:
        """Each part's own forward and backward (scaled by its weight) into the shared gradients; a
        non-finite part loss stops there and is returned as the loss (the loop stops on it)."""
        total = torch.zeros((), device=batch["input_ids"].device)
        logs: dict = {}
        for part in self.objectives:
            self._current = part
            try:
                out = part.forward_backward(part if model is self else model, batch, generator, cfg, inputs, amp)
            finally:
                self._current = None
            if not torch.isfinite(out["loss"]):
                return {"loss": out["loss"].detach()}
            total = total + part.loss_weight * out["loss"].detach().float()
            logs.update({f"{part.name}_{k}": v for k, v in out.items()})
        return {"loss": total, **logs}


@cache
def combined_class(name: str, parts: tuple[type[Objective], ...]) -> type[CombinedObjective]:
    """The :class:`CombinedObjective` subclass of ``parts``, named ``name`` (one class per name)."""
    attributes = {"part_classes": parts, "name": name,
                  "drop_last": any(p.drop_last for p in parts),
                  "uses_positive_pairs": any(p.uses_positive_pairs for p in parts),
                  "two_towers": any(p.two_towers for p in parts),
                  "takes_negatives": any(p.takes_negatives for p in parts),
                  "__doc__": f"``{name}``: " + " + ".join(f"w·{p.__name__}" for p in parts) + "."}
    return type(f"Combined_{'_'.join(p.__name__ for p in parts)}", (CombinedObjective,), attributes)
