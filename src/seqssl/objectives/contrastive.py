"""Shared plumbing of the contrastive objectives: two views per example, pooled and projected.

A batch either carries one set of sequences (both views are augmentations of it) or, under
``batch["pair"]``, a second set of different sequences that are positives of the first
(neighbouring chunks of one long sequence, or two sequences with the same label).
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from ..augment import make_view
from ..data.tokenizers import drawable_residues
from ..errors import InputError
from ..losses import info_nce
from ..train.distributed import gather_with_gradient, local_block
from ..train.gradcache import cached_backward
from .base import Amp, Objective


class TwoViewObjective(Objective):
    """``inputs`` (the token batches to embed: the two views) → pooled embeddings →
    ``loss_from_embeddings``. The split lets :mod:`seqssl.train.gradcache` embed in chunks and still
    compute the loss over the whole batch (Gao et al. 2021)."""

    projector: nn.Module  # the projection head g of the subclasses that have one (simclr, infonce, ...)
    drop_last = True  # contrastive batches need negatives
    gradient_caching = True
    uses_positive_pairs = True

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        self.encoder, self.cfg = encoder, cfg
        self.n_residues = drawable_residues(vocab_size)
        if cfg.debias_tau_plus and cfg.distance != "cosine":
            raise InputError("pretrain.debias_tau_plus needs pretrain.distance cosine (Chuang et al.'s estimator "
                             "assumes similarities of at least −1)", fix="drop --debias-tau-plus or --distance")

    def nway(self, anchors: torch.Tensor, candidates: torch.Tensor, positive: torch.Tensor,
             ignore: torch.Tensor | None = None) -> torch.Tensor:
        """:func:`~seqssl.losses.info_nce` with the config's temperature, distance, hardness and debiasing."""
        cfg = self.cfg
        return info_nce(anchors, candidates, positive, cfg.temperature, ignore, cfg.hard_negative_beta,
                        cfg.debias_tau_plus, cfg.distance)

    def views(self, batch: dict, generator) -> tuple[dict, dict]:
        first = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        second = batch.get("pair", first)
        return (make_view(first, self.cfg, self.n_residues, generator),
                make_view(second, self.cfg, self.n_residues, generator))

    def inputs(self, batch: dict, generator) -> list[dict]:
        """The token batches whose pooled embeddings the loss needs (default: the two views, then the explicit
        negatives as they are, when the batch has them)."""
        parts = list(self.views(batch, generator))
        if "negative" in batch:
            parts.append(batch["negative"])
        return parts

    def with_negatives(self, candidates: torch.Tensor, positive: torch.Tensor, ignore: torch.Tensor,
                       embeddings: list[torch.Tensor], batch: dict, anchor_ids: list[torch.Tensor]):
        """``candidates``, ``positive`` and ``ignore`` extended by the batch's explicit negatives (projected
        ``embeddings[2]``), which are every anchor's negatives, as in sentence-transformers' (anchor, positive,
        negative) triplets; a negative identical to the anchor's own sequence (``anchor_ids``: the anchors'
        token rows, in blocks stacked in the anchors' order) is ignored."""
        if len(embeddings) < 3:
            return candidates, positive, ignore
        extra = self.projector(embeddings[2])
        anchors = positive.shape[0]
        negative_ids = batch["negative"]["input_ids"]
        same = torch.cat([same_sequences(ids, negative_ids) for ids in anchor_ids]).to(ignore.device)
        none_positive = torch.zeros(anchors, extra.shape[0], dtype=torch.bool, device=positive.device)
        return (torch.cat([candidates, extra.to(candidates.dtype)]), torch.cat([positive, none_positive], 1),
                torch.cat([ignore, same], 1))

    def embed(self, part: dict) -> torch.Tensor:
        return self.encoder(part["input_ids"], part["attention_mask"], part["token_type_ids"])

    def embed_all(self, parts: list[dict]) -> list[torch.Tensor]:
        """Pooled embeddings of every part; one forward pass when the parts have the same shape."""
        shapes = {p["input_ids"].shape for p in parts}
        if len(parts) > 1 and len(shapes) == 1:
            pooled = self.embed({k: torch.cat([p[k] for p in parts]) for k in ("input_ids", "attention_mask",
                                                                                 "token_type_ids")})
            return list(pooled.split(parts[0]["input_ids"].shape[0]))
        return [self.embed(p) for p in parts]

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        raise NotImplementedError

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        """Under ``torchrun``: views of the global batch, this rank's rows embedded, all ranks'
        embeddings gathered (with gradient) so the loss sees every negative."""
        parts = [local_block(p) for p in self.inputs(batch, generator)]
        embeddings = [gather_with_gradient(e) for e in self.embed_all(parts)]
        return self.loss_from_embeddings(embeddings, batch)

    def forward_backward(self, model: nn.Module, batch: dict, generator: torch.Generator | None, cfg,
                         inputs: list | None, amp: Amp = nullcontext) -> dict:
        """With ``cfg.chunk_size``: gradient caching, the backward done chunk by chunk inside
        :func:`~seqssl.train.gradcache.cached_backward` (its loss detached); otherwise the plain
        forward and backward of :meth:`Objective.forward_backward`."""
        if not cfg.chunk_size:
            return super().forward_backward(model, batch, generator, cfg, inputs, amp)
        with amp():
            return cached_backward(self, batch, generator, cfg.chunk_size)


def same_sequences(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``[i, j]`` True when row i of ``first`` and row j of ``second`` (each padded its own width) hold the same
    tokens."""
    width = max(first.shape[1], second.shape[1])
    a = torch.nn.functional.pad(first, (0, width - first.shape[1]))
    b = torch.nn.functional.pad(second, (0, width - second.shape[1])).to(a.device)
    return (a.unsqueeze(1) == b.unsqueeze(0)).all(-1)


def duplicate_mask(input_ids: torch.Tensor) -> torch.Tensor:
    """``[i, j]`` True when sequences i and j are token-for-token identical (i != j)."""
    n = input_ids.shape[0]
    same = (input_ids.unsqueeze(1) == input_ids.unsqueeze(0)).all(-1)
    return same & ~torch.eye(n, dtype=torch.bool, device=input_ids.device)
