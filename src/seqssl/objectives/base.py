"""What the pretraining loop (:func:`seqssl.train.loop.run_pretraining`) asks of every objective.

An objective is an ``nn.Module`` whose ``forward(batch, generator)`` returns a dict with a scalar
``"loss"`` (and other scalars to log). Around that, the loop needs to know:

- how batches are cut (:attr:`Objective.drop_last`) and how many loop steps a budget of encoder
  updates takes (:meth:`Objective.loop_steps`);
- who updates: one or more *players*, each a parameter set with its own optimiser and schedule
  (:meth:`Objective.players`), and which of them update at a given step (:meth:`Objective.players_at`);
- how one batch's gradient is made (:meth:`Objective.forward_backward`): a plain forward and backward
  here; contrastive objectives cache gradients (Gao et al. 2021) and token objectives accumulate
  micro-batches normalised per predicted token when ``chunk_size`` is set.

The defaults describe an ordinary objective: one player ``"model"`` holding every parameter, updated
at every step. A game (the adversarial MLM: an encoder against a noiser) overrides
:attr:`player_names`, :meth:`players` and :meth:`players_at`; the step bookkeeping of a game
(:meth:`begin_step`, :meth:`backward_inputs`, :meth:`update`) is written here, generic over players,
and costs nothing when there is a single one.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import InputError
from ..options import options_for

Amp = Callable[[], AbstractContextManager]  # makes the autocast context of one forward pass


class Objective(nn.Module):
    """Base class of the pretraining objectives (see the module docstring for the loop's contract)."""

    name: str | None = None  # the registered name, set by :func:`seqssl.objectives.registry.register`
    Options: ClassVar[Any] = None  # a dataclass of its own settings (seqssl.options), read as self.options
    drop_last = False  # drop the last, smaller batch of an epoch (contrastive objectives need full batches)
    gradient_caching = False  # True when the objective splits into embed() and loss_from_embeddings()
    player_names: tuple[str, ...] = ("model",)  # the keys of players(), in order
    active_players: tuple[str, ...] = ("model",)  # the players updating at the current step (begin_step)
    uses_positive_pairs = False  # True when the loss reads positives made by pretrain.positives (label, ...)
    loss_weight = 1.0  # the backward pass is of loss_weight × loss (a part of seqssl.objectives.combined)
    takes_negatives = False  # True when the loss reads explicit negatives (batch["negative"], --negative-column)
    two_towers = False  # True when it trains the two sides of a pair against each other (seqssl.models.towers):
    #                     the saved encoder then scores a pair zero-shot

    @functools.cached_property
    def options(self):
        """This objective's declared settings, from the config section ``pretrain.<name>`` (defaults for the
        rest): an instance of :attr:`Options`."""
        return options_for("objective", type(self), self.cfg)

    # -- who trains ------------------------------------------------------------------------------
    def players(self) -> dict[str, tuple[list[nn.Parameter], dict]]:
        """Player name → (its parameters, overrides of the optimiser config); one optimiser and
        schedule each. Default: one player ``"model"`` with every parameter and the config as is."""
        return {"model": (list(self.parameters()), {})}

    def players_at(self, step: int) -> tuple[str, ...]:
        """Names of the players that update at loop step ``step`` (default: all of them)."""
        return self.player_names

    def loop_steps(self, encoder_updates: int) -> int:
        """Loop steps (batches) needed for ``encoder_updates`` encoder updates (``pretrain.max_steps``
        counts those); default: one update per step, so the same number."""
        return encoder_updates

    @property
    def multi_player(self) -> bool:
        """True for games: several parameter sets taking turns (some parameters idle at some steps)."""
        return len(self.player_names) > 1

    @property
    def some_parameters_idle(self) -> bool:
        """True when some parameters get no gradient at some passes (DDP must look for unused ones)."""
        return self.multi_player

    def uses_gradient_cache(self, cfg) -> bool:
        """True when ``cfg.chunk_size`` makes this objective cache gradients (contrastive objectives)."""
        return bool(cfg.chunk_size) and self.gradient_caching

    # -- one step --------------------------------------------------------------------------------
    def begin_step(self, step: int) -> tuple[str, ...]:
        """Record in :attr:`active_players` (``forward`` may read it) and return who updates at ``step``."""
        self.active_players = tuple(self.players_at(step))
        return self.active_players

    def backward_inputs(self, players: dict, wrapped: bool) -> list | None:
        """The parameters the backward pass may write gradients to: with several players, only the active
        players' (no encoder weight gradients on the noiser's turn); ``None`` (all) for a single player,
        or when ``wrapped`` by DistributedDataParallel, which needs a gradient for every parameter in the
        graph (the idle players' are dropped by :meth:`update`)."""
        if not self.multi_player or wrapped:
            return None
        return [p for name in self.active_players for p in players[name].params]

    def forward_backward(self, model: nn.Module, batch: dict, generator: torch.Generator | None, cfg,
                         inputs: list | None, amp: Amp = nullcontext) -> dict:
        """One batch's forward (under ``amp()``) and backward into ``inputs`` (``None``: every parameter);
        ``model`` is this objective or its DDP wrapper. Returns the forward's output dict. A non-finite
        loss is returned without a backward pass (the loop stops on it)."""
        if cfg.chunk_size:
            raise InputError(f"--chunk-size does not apply to objective '{self.name or type(self).__name__}'",
                             fix="drop --chunk-size")
        with amp():
            out = model(batch, generator)
        if torch.isfinite(out["loss"]):
            (out["loss"] * self.loss_weight).backward(inputs=inputs)
        return out

    def exported_heads(self) -> dict[str, dict[str, torch.Tensor]]:
        """Heads trained beside the encoder that are saved with it (file name → tensors): the MLM head, which
        ``seqssl evaluate lm`` reads; default: none."""
        return {}

    def after_step(self) -> None:
        """State that moves after each optimiser step without a gradient (MoCo's momentum encoder and queue);
        default: nothing."""

    def update(self, players: dict, grad_clip: float) -> dict[str, float]:
        """Step the active players' optimisers, drop the gradients an idle player must not carry into its
        turn, and return the ``{name}_updates`` counters to log (empty for a single player)."""
        for name in self.active_players:
            players[name].step(grad_clip)
        self.after_step()
        if not self.multi_player:
            return {}
        for name, player in players.items():
            if name not in self.active_players:
                for p in player.params:
                    p.grad = None
        return {f"{name}_updates": 1.0 for name in self.active_players}
