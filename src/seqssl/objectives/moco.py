"""MoCo: negatives from outside the batch, kept in a queue of keys from a momentum-updated copy of the encoder.

He, Fan, Wu, Xie & Girshick 2020 ("Momentum contrast", v1: queue of K keys, momentum encoder θ_k ← m θ_k +
(1 − m) θ_q, eq. 2); Chen, Fan, Girshick & He 2020 (v2: MLP projector); Chen, Xie & He 2021 (v3: the keys of the
batch as negatives too, a symmetric loss over both views, and the momentum raised from m₀ to 1 on a cosine
schedule, as in BYOL, Grill et al. 2020). A batch's negatives cost one key forward of the batch, however long the
queue; gradient caching (``--chunk-size``) is for the in-batch losses and does not apply here.

For query q_i (the encoder's projected view 1) the candidates are every key of the batch (the momentum encoder's
projected view 2; its own key is the positive) and the queue's filled entries, scored by the InfoNCE of
:func:`seqssl.losses.info_nce` (with ``hard_negative_beta`` / ``debias_tau_plus`` when set). With an empty queue
(K = 0) and the key encoder equal to the encoder, the loss is the in-batch InfoNCE (tested). After each optimiser
step the key encoder moves towards the encoder and the batch's keys are enqueued, oldest overwritten first; under
``torchrun`` the keys are all ranks' (gathered before enqueueing), so every rank holds the same queue. The queue,
its pointer and the step counter are buffers: checkpoints save them, and a resumed run continues exactly.
"""
from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import NORM_EPS
from ..models.heads import projection_head
from ..options import option
from ..train.distributed import gather_with_gradient, local_block
from .base import Amp, Objective
from .contrastive import TwoViewObjective, duplicate_mask
from .registry import register

KEY_PREFIX = "key_"  # the momentum copies' attribute names start with this (they are never optimised)


def momentum_at(step: int, total: int | None, base: float) -> float:
    """m at optimiser step ``step`` of ``total``: from ``base`` to 1 on a half cosine (MoCo v3 / BYOL); a run
    without a known length (no ``max_steps``) keeps ``base``."""
    if not total:
        return base
    return 1.0 - (1.0 - base) * (math.cos(math.pi * min(step, total) / total) + 1.0) / 2.0


class KeyQueue(nn.Module):
    """A ring buffer of the last ``size`` keys (rows), oldest overwritten first; only filled rows are read."""

    keys: torch.Tensor  # (buffers, so that checkpoints hold them)
    pointer: torch.Tensor
    filled: torch.Tensor

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.register_buffer("keys", torch.zeros(size, dim))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    def contents(self) -> torch.Tensor:
        return self.keys[: int(self.filled)]

    @torch.no_grad()
    def push(self, keys: torch.Tensor) -> None:
        if self.size == 0:
            return
        keys = keys.detach().to(self.keys.dtype)[-self.size:]  # more keys than room: the newest stay
        rows = (int(self.pointer) + torch.arange(keys.shape[0], device=self.keys.device)) % self.size
        self.keys[rows] = keys
        self.pointer.fill_((int(self.pointer) + keys.shape[0]) % self.size)
        self.filled.fill_(min(int(self.filled) + keys.shape[0], self.size))


@dataclass
class MocoOptions:
    """``pretrain.moco``: the queue and the key encoder's momentum (He et al. 2020; v3: Chen et al. 2021)."""

    queue_size: int = option(4096, "K keys kept as negatives; 0: in-batch keys only", at_least=0,
                             old="moco_queue_size")
    momentum: float = option(0.99, "m0 of the key encoder's update, raised to 1 on a cosine over max_steps",
                             at_least=0, at_most=1, old="moco_momentum")
    symmetric: bool = option(False, "v3's loss over both views (each view's queries against the other's keys)",
                             old="moco_symmetric")


@register("moco")
class MoCo(TwoViewObjective):
    """See the module docstring. Settings: ``pretrain.moco`` (:class:`MocoOptions`: queue size K, momentum m₀,
    v3's symmetric loss), and the shared ``temperature`` and ``projection_dim``."""

    Options = MocoOptions

    gradient_caching = False
    updates: torch.Tensor  # optimiser steps taken (a buffer: the momentum schedule resumes exactly)

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)
        self.key_encoder = copy.deepcopy(encoder)
        self.key_projector = copy.deepcopy(self.projector)
        for parameter in self.momentum_parameters():
            parameter.requires_grad_(False)
        self.queue = KeyQueue(self.options.queue_size, cfg.projection_dim or encoder.hidden_size)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._pending: torch.Tensor | None = None  # this step's keys, enqueued after the optimiser step

    def momentum_parameters(self) -> list[nn.Parameter]:
        return list(self.key_encoder.parameters()) + list(self.key_projector.parameters())

    def players(self) -> dict[str, tuple[list[nn.Parameter], dict]]:
        """The encoder and projector only: the momentum copies move by :meth:`after_step`, not by gradient."""
        return {"model": ([p for n, p in self.named_parameters() if not n.startswith(KEY_PREFIX)], {})}

    def momentum(self) -> float:
        return momentum_at(int(self.updates), self.cfg.max_steps, self.options.momentum)

    def queries(self, part: dict) -> torch.Tensor:
        return self.projector(self.embed(part))

    @torch.no_grad()
    def keys(self, part: dict) -> torch.Tensor:
        pooled = self.key_encoder(part["input_ids"], part["attention_mask"], part["token_type_ids"])
        keys = self.key_projector(pooled).float()
        return F.normalize(keys, dim=1, eps=NORM_EPS) if self.cfg.distance == "cosine" else keys

    def contrast(self, queries: torch.Tensor, keys: torch.Tensor, batch: dict) -> torch.Tensor:
        """InfoNCE of each query against the batch's keys (its own the positive) and the queue."""
        queued = self.queue.contents().to(keys.dtype)
        candidates = torch.cat([keys, queued])
        n = queries.shape[0]
        positive = torch.zeros(n, candidates.shape[0], dtype=torch.bool, device=queries.device)
        positive[:, :n] = torch.eye(n, dtype=torch.bool, device=queries.device)
        ignore = torch.zeros_like(positive)
        ignore[:, :n] = duplicate_mask(batch["input_ids"])  # an identical sequence is not a negative
        return self.nway(queries, candidates, positive, ignore)

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        first, second = (local_block(p) for p in self.views(batch, generator))
        q1 = gather_with_gradient(self.queries(first))
        k2 = gather_with_gradient(self.keys(second))  # (no gradient: gathered as is)
        if not self.options.symmetric:
            self._pending = k2
            return {"loss": self.contrast(q1, k2, batch), "momentum": torch.tensor(self.momentum())}
        q2 = gather_with_gradient(self.queries(second))
        k1 = gather_with_gradient(self.keys(first))
        loss = (self.contrast(q1, k2, batch) + self.contrast(q2, k1, batch)) / 2
        self._pending = torch.cat([k2, k1])
        return {"loss": loss, "momentum": torch.tensor(self.momentum())}

    def forward_backward(self, model: nn.Module, batch: dict, generator: torch.Generator | None, cfg,
                         inputs: list | None, amp: Amp = nullcontext) -> dict:
        return Objective.forward_backward(self, model, batch, generator, cfg, inputs, amp)  # no gradient caching

    @torch.no_grad()
    def after_step(self) -> None:
        """θ_k ← m θ_k + (1 − m) θ_q for the encoder and projector (buffers copied), then the batch's keys
        enqueued."""
        m = self.momentum()
        for online, momentum in ((self.encoder, self.key_encoder), (self.projector, self.key_projector)):
            for q, k in zip(online.parameters(), momentum.parameters()):
                k.mul_(m).add_(q.detach(), alpha=1.0 - m)
            for q, k in zip(online.buffers(), momentum.buffers()):
                k.copy_(q)
        if self._pending is not None:
            self.queue.push(self._pending)
            self._pending = None
        self.updates += 1
