"""CLIP between the two sides of a pair: a receptor and the peptide it binds (Radford et al. 2021, "Learning
transferable visual models from natural language supervision", the symmetric InfoNCE of their Figure 3).

Each corpus row is a *binding* pair (``--columns cdr3_b_aa,peptide``; more receptor columns may come first); the
two towers are one shared encoder told apart by the segment embedding, without projection heads
(:mod:`seqssl.models.towers`), so the saved encoder scores a new pair by the cosine of its towers. For the N pairs
of a batch, the loss is the mean of the receptor→peptide InfoNCE (each receptor's candidates are the batch's N
peptides) and the peptide→receptor one, both at ``pretrain.temperature``. It is label-aware: candidate j is a
positive of anchor i, not a negative, when pair j has the same peptide as pair i (two receptors of one peptide) or
the same receptor (one receptor binding two peptides), so a batch of a few peptides is not a contest between
receptors of the same peptide. Hardness (``hard_negative_beta``), debiasing (``debias_tau_plus``) and
``distance`` apply as for ``infonce``. No augmentation: the pair itself is the positive. Gradient caching
(``--chunk-size``) is exact, as for the other in-batch losses.
"""
from __future__ import annotations

import torch

from ..losses import similarity_logits
from ..models.towers import same_rows, tower_batches
from .contrastive import TwoViewObjective
from .registry import register


@register("clip")
class Clip(TwoViewObjective):
    """See the module docstring."""

    two_towers = True
    uses_positive_pairs = False  # the positive is the row's other side, not made by pretrain.positives

    def inputs(self, batch: dict, generator) -> list[dict]:
        return list(tower_batches(batch))

    def loss_from_embeddings(self, embeddings: list[torch.Tensor], batch: dict) -> dict:
        receptors, peptides = embeddings
        first, second = tower_batches(batch)
        positive = same_rows(first["input_ids"]) | same_rows(second["input_ids"])
        positive = positive.to(receptors.device)
        forward = self.nway(receptors, peptides, positive)
        backward = self.nway(peptides, receptors, positive.T)
        with torch.no_grad():  # the batch's retrieval top-1: is a receptor's nearest peptide one it binds?
            best = similarity_logits(receptors, peptides, 1.0, self.cfg.distance).argmax(1)
            top1 = positive[torch.arange(len(best), device=best.device), best].float().mean()
        return {"loss": (forward + backward) / 2, "top1": top1}
