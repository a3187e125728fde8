"""Adversarial masked language modelling (McDermott et al. 2021, seed 001).

A GRU noiser chooses which residues to mask (budgeted relaxed subset sampling, the seed's Alg. 1) and
how (Gumbel-softmax over ``[MASK]`` / keep / replace-by-residue, Alg. 2), made differentiable with the
straight-through estimator (Alg. 3): the encoder reads the noised sequence as one-hot rows times its
embedding matrix, so the MLM loss has a gradient with respect to the noiser. The noiser maximises the
MLM loss, the encoder minimises it (Alg. 4–5); a share of random 80/10/10 masking keeps the encoder
making general progress.

Schedules (``pretrain.adversarial_schedule``):

- ``alternating`` (the seed): ``noiser_steps`` noiser updates, then ``encoder_steps`` encoder updates.
  A noiser update costs a full encoder forward and backward, so a cycle of 10 + 10 costs ~2× MLM.
- ``joint``: one forward/backward per batch updates both players; the noiser's scores pass through a
  gradient reversal, so the same backward pass gives the encoder ∇L and the noiser −∇L.

``pretrain.max_steps`` counts *encoder* updates for this objective as for every other; the noiser's
updates come on top (see :meth:`AdversarialMLM.loop_steps`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..augment import FIRST_RESIDUE_ID, mlm_corrupt, residue_positions
from ..data.tokenizers import MASK_ID, drawable_residues
from ..models.noiser import GRUNoiser
from ..options import option as setting  # 'option' names the noiser's mask-type choice below
from ..sampling import gumbel_noise, gumbel_softmax_st, relaxed_subset, reverse_gradient, straight_through, top_budget
from .mlm import MLM_HEAD, TokenPredictionHead
from .registry import register
from .token import TokenObjective


def adversarial_budget(input_ids: torch.Tensor, eligible: torch.Tensor, rate: float) -> torch.Tensor:
    """``round(rate × residues)`` per sequence, capped by the positions still eligible."""
    wanted = torch.round(residue_positions(input_ids).sum(1).float() * rate).long()
    return torch.minimum(wanted, eligible.sum(1))


def noised_inputs(corrupted: torch.Tensor, original: torch.Tensor, chosen: torch.Tensor,
                  option: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The seed's Alg. 3 as (soft) one-hot rows, shape (B, L, V).

    ``chosen`` (B, L): 1 where the noiser masks (straight-through); ``option`` (B, L, 2 + R): one-hot
    over [MASK], keep-original, replace-by-residue r (straight-through). Unchosen positions keep
    ``corrupted`` (the input after random masking)."""
    n_replace = option.shape[-1] - 2
    base = F.one_hot(corrupted, vocab_size).to(option.dtype)
    masked = option[..., :1] * F.one_hot(torch.full_like(original, MASK_ID), vocab_size).to(option.dtype)
    masked = masked + option[..., 1:2] * F.one_hot(original, vocab_size).to(option.dtype)
    masked = masked + F.pad(option[..., 2:], (FIRST_RESIDUE_ID, vocab_size - FIRST_RESIDUE_ID - n_replace))
    chosen = chosen.unsqueeze(-1)
    return (1 - chosen) * base + chosen * masked


def noised_ids(corrupted: torch.Tensor, original: torch.Tensor, chosen: torch.Tensor,
               option: torch.Tensor) -> torch.Tensor:
    """The same noising on token ids when no gradient must reach the noiser (cheaper)."""
    pick = option.argmax(-1)
    replacement = torch.where(pick == 0, torch.full_like(original, MASK_ID),
                              torch.where(pick == 1, original, pick - 2 + FIRST_RESIDUE_ID))
    return torch.where(chosen.bool(), replacement, corrupted)


def mean_entropy(probs: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy (nats) of the distributions in ``probs[where]`` (last axis)."""
    p = probs[where]
    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1).mean() if p.numel() else probs.new_zeros(())


@dataclass
class AdversarialOptions:
    """``pretrain.adversarial-mlm``: the noiser, its budget and the schedule of the game (seed 001)."""

    rate: float = setting(0.1, "fraction of residues the noiser masks", at_least=0, below=1, old="adversarial_rate")
    random_rate: float = setting(0.1, "plus this fraction selected at random (80/10/10)", at_least=0, below=1,
                                old="adversarial_random_rate")
    mask_types: str = setting("mask", "mask: [MASK] only; all: the noiser also picks keep / replace-by-residue (with "
                             "all, the encoder learns to read the original residue from the noiser's choice; README)",
                             choices=("all", "mask"), old="adversarial_mask_types")
    schedule: str = setting("alternating", "alternating (seed 001) or joint (one pass, gradient reversal)",
                           choices=("alternating", "joint"), old="adversarial_schedule")
    noiser_steps: int = setting(10, "alternating: noiser updates per cycle", at_least=1, old="noiser_steps")
    encoder_steps: int = setting(10, "alternating: encoder updates per cycle", at_least=1, old="encoder_steps")
    noiser_layers: int = setting(3, "GRU layers", at_least=1, old="noiser_layers")
    noiser_embedding_size: int = setting(32, "GRU input width (a GRU is sequential: on CPU a 3-layer 64-wide one "
                                        "costs more than the encoder)", at_least=1, old="noiser_embedding_size")
    noiser_hidden_size: int = setting(32, "GRU width per direction", at_least=1, old="noiser_hidden_size")
    noiser_lr: float | None = setting(None, "the noiser's learning rate; unset: pretrain.lr (the seed used 1e-4 for "
                                     "both players)", above=0, old="noiser_lr")
    noiser_weight_decay: float = setting(0.01, "the noiser's weight decay", at_least=0, old="noiser_weight_decay")
    subset_temperature: float = setting(1.0, "temperature of the relaxed subset sampling (which tokens)", above=0,
                                       old="subset_temperature")
    mask_type_temperature: float = setting(1.0, "Gumbel-softmax temperature over [MASK] / keep / replace",
                                          above=0, old="mask_type_temperature")


@register("adversarial-mlm")
class AdversarialMLM(TokenObjective):
    """Encoder + tied MLM head (player ``encoder``) against a :class:`GRUNoiser` (player ``noiser``).

    Every random draw (the random share of the masking, the Gumbel noise of the noiser's subset and
    mask-type samples) is made for the whole batch in :meth:`draw`, and the loss is normalised by the whole
    batch's masked tokens (random + the noiser's exact budget), so micro-batches and DDP ranks give the
    whole batch's gradient. A game of two players: it overrides :meth:`players`, :meth:`players_at` and
    :meth:`loop_steps` of :class:`~seqssl.objectives.base.Objective`; the loop does the rest."""

    Options = AdversarialOptions
    player_names = ("encoder", "noiser")

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        self.encoder, self.cfg, self.vocab_size = encoder, cfg, vocab_size
        self.head = TokenPredictionHead(encoder, vocab_size)
        self.n_residues = drawable_residues(vocab_size)
        options = self.options
        self.noiser = GRUNoiser(vocab_size, self.n_residues, options.noiser_embedding_size, options.noiser_hidden_size,
                                options.noiser_layers)
        self.active_players: tuple[str, ...] = ("encoder",)

    # -- the training schedule: which player(s) update at loop step i -------------------------------
    def players(self) -> dict:
        """The encoder (everything but the noiser) at the config's settings, and the noiser at
        ``noiser_lr`` / ``noiser_weight_decay``; the loop builds one optimiser and schedule per player."""
        cfg = self.cfg
        noiser_cfg = {"lr": self.options.noiser_lr or cfg.lr, "weight_decay": self.options.noiser_weight_decay}
        noiser_params = set(map(id, self.noiser.parameters()))
        return {"encoder": ([p for p in self.parameters() if id(p) not in noiser_params], {}),
                "noiser": (list(self.noiser.parameters()), noiser_cfg)}

    def players_at(self, step: int) -> tuple[str, ...]:
        """``joint``: both players at every step; ``alternating``: ``noiser_steps`` noiser steps, then
        ``encoder_steps`` encoder steps, cycling."""
        if self.options.schedule == "joint":
            return ("encoder", "noiser")
        cycle = self.options.noiser_steps + self.options.encoder_steps
        return ("noiser",) if step % cycle < self.options.noiser_steps else ("encoder",)

    def loop_steps(self, encoder_updates: int) -> int:
        """Loop steps (batches) that contain ``encoder_updates`` encoder updates."""
        if self.options.schedule == "joint":
            return encoder_updates
        n_noise, n_enc = self.options.noiser_steps, self.options.encoder_steps
        cycles, rest = divmod(encoder_updates, n_enc)
        return cycles * (n_noise + n_enc) + (n_noise + rest if rest else 0)

    # -- one step ---------------------------------------------------------------------------------
    def exported_heads(self) -> dict[str, dict[str, torch.Tensor]]:
        return {MLM_HEAD: self.head.saved_state()}

    def draw(self, batch: dict, generator: torch.Generator | None) -> dict:
        """The random 80/10/10 share of the masking (the noiser chooses the rest in :meth:`forward`)."""
        ids = batch["input_ids"]
        if self.options.random_rate > 0:
            corrupted, selected = mlm_corrupt(ids, self.options.random_rate, n_residue_ids=self.n_residues,
                                              generator=generator)
        else:
            corrupted, selected = ids, torch.zeros_like(ids, dtype=torch.bool)
        draws = {"corrupted": corrupted, "random_selected": selected,
                 "subset_noise": gumbel_noise(ids.shape, generator, ids.device)}
        if self.options.mask_types == "all":  # [MASK], keep, or one of the residues
            draws["option_noise"] = gumbel_noise((*ids.shape, 2 + self.n_residues), generator, ids.device)
        return draws

    def token_counts(self, batch: dict) -> dict:
        ids, random_sel = batch["input_ids"], batch["draws"]["random_selected"]
        budget = adversarial_budget(ids, residue_positions(ids) & ~random_sel, self.options.rate)
        return {"mlm": random_sel.sum() + budget.sum()}

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        ids, attention = batch["input_ids"], batch["attention_mask"]
        draws = self.draws_of(batch, generator)
        corrupted, random_sel = draws["corrupted"], draws["random_selected"]
        eligible = residue_positions(ids) & ~random_sel
        budget = adversarial_budget(ids, eligible, self.options.rate)
        train_noiser = "noiser" in self.active_players
        with torch.set_grad_enabled(train_noiser and torch.is_grad_enabled()):
            scores = self.noiser(ids, attention)
            if train_noiser:
                scores = reverse_gradient(scores)  # the noiser maximises what the encoder minimises
            soft_any = relaxed_subset(scores[..., 0], eligible, budget, self.options.subset_temperature,
                                      noise=draws["subset_noise"])
            hard_any = top_budget(soft_any, eligible, budget)
            if self.options.mask_types == "all":
                option, _ = gumbel_softmax_st(scores[..., 1:], self.options.mask_type_temperature,
                                              noise=draws["option_noise"])
            else:  # the seed's "simple masking" (Alg. 3 with p_mask_type = None): always [MASK]
                option = F.one_hot(torch.zeros_like(ids), scores.shape[-1] - 1).to(scores.dtype)
        if train_noiser:
            chosen = straight_through(hard_any, soft_any)
            onehot = noised_inputs(corrupted, ids, chosen, option, self.vocab_size)
            embeds = onehot @ self.encoder.token_embedding_matrix()
            states = self.encoder.token_states(None, attention, batch["token_type_ids"], inputs_embeds=embeds)
        else:
            states = self.encoder.token_states(noised_ids(corrupted, ids, hard_any, option), attention,
                                               batch["token_type_ids"])
        selected = random_sel | hard_any
        # the head on the predicted tokens only (~20%), as in MLM (the cross entropy of losses.masked_token_loss)
        per_token = F.cross_entropy(self.head(states[selected]).float(), ids[selected], reduction="none")
        loss = self.per_token(per_token.sum(), selected.sum(), "mlm")
        players = {"encoder_loss": loss.detach()} if "encoder" in self.active_players else {}
        if train_noiser:
            players["noiser_loss"] = -loss.detach()  # what the noiser minimises
        return {"loss": loss, "n_predicted": selected.sum(), **players,
                **self._diagnostics(per_token, selected, ids, random_sel, hard_any, eligible, scores, option)}

    @torch.no_grad()
    def _diagnostics(self, per_token, selected, ids, random_sel, hard_any, eligible, scores, option) -> dict:
        """Realised masking rates, the MLM loss on adversarial vs random positions (``per_token``: the loss of
        each ``selected`` position), noiser entropies."""
        residues = residue_positions(ids).sum().clamp_min(1)
        per_token = per_token.detach()
        nan = per_token.new_tensor(math.nan)
        any_probs = torch.softmax(scores[..., 0].float().masked_fill(~eligible, -1e9), -1)
        rows = eligible.any(1)
        picked = option.argmax(-1)[hard_any]
        n_adv = hard_any.sum().clamp_min(1)
        return {
            "adversarial_rate": hard_any.sum() / residues,
            "random_rate": random_sel.sum() / residues,
            "loss_adversarial": per_token[hard_any[selected]].mean() if hard_any.any() else nan,
            "loss_random": per_token[random_sel[selected]].mean() if random_sel.any() else nan,
            "noiser_entropy": mean_entropy(any_probs, rows),
            "mask_type_entropy": mean_entropy(torch.softmax(scores[..., 1:].float(), -1), eligible),
            "adversarial_mask_share": (picked == 0).sum() / n_adv,
            "adversarial_keep_share": (picked == 1).sum() / n_adv,
        }
