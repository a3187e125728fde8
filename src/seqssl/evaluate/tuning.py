"""Repeated fine-tuning and a small search, per (fold, row) of a cross-validation.

- ``finetune.search`` (``--search lr=1e-4,3e-4,1e-3,epochs=10,30``): every combination of the settings is
  fitted on the fold's fit rows with the fold's seed, and the one with the best validation value (the value
  early stopping kept: ``best_val``) is chosen. Only the validation split decides, never the test rows; the
  choice and every candidate's validation value are recorded per fold. Seed 001 (TAPE) tunes fine-tuning so.
- ``finetune.repeats`` (``--repeats N``): the chosen settings are fitted N times, with the fold's seed and
  N − 1 more, the same for every arm (:func:`repeat_seed`); what differs between repeats is the fine-tuning's
  randomness (head initialisation, dropout, batch order, LoRA's initialisation), the encoder it starts from
  (pretrained once per fold; ``none``'s random initialisation drawn once per fold) does not. Fits that do
  not depend on a seed (``kmer``, ``knn``, fingerprints; the ``probe`` and ``knn`` modes of a fixed encoder)
  are fitted once.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from .arms import Arm, Unit


def repeat_seed(fold_seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` in a fold: the fold's own for the first (so one repeat is the run
    without repeats), then spread apart so that no two (fold, repeat) pairs share one."""
    return (fold_seed + 1_000_003 * repeat) % 2**31


def candidates(search: dict[str, list]) -> list[dict]:
    """Every combination of the searched settings (``[{}]`` when nothing is searched)."""
    keys = list(search)
    return [dict(zip(keys, values)) for values in itertools.product(*(search[k] for k in keys))]


@dataclass
class Fit:
    """One fit of a unit: its test scores and what it recorded."""

    scores: np.ndarray
    details: dict


def fit_tuned(arm: Arm, cfg, unit: Unit, fit) -> tuple[list[Fit], dict]:
    """``fit(unit) -> (scores, details)`` run as ``cfg.finetune`` asks: the search (when the arm is tunable in
    the unit's mode), then the repeats (when the arm is stochastic). Returns the repeats' fits (the first is
    the chosen candidate's own fit) and what to record (``search``: the choice and each candidate's
    validation value)."""
    record: dict = {}
    grid = candidates(cfg.finetune.search) if arm.tunable(unit.mode) else [{}]
    tried = [(settings, Fit(*fit(replace(unit, settings=settings)))) for settings in grid]
    chosen, first = max(tried, key=lambda t: validation_value(t[1]))  # ties: the first listed
    if len(grid) > 1:
        record["search"] = {"chosen": chosen, "candidates": [
            {"settings": settings, "best_val": validation_value(f)} for settings, f in tried]}
    repeats = cfg.finetune.repeats if arm.stochastic(unit.mode) else 1
    fits = [first] + [Fit(*fit(replace(unit, seed=repeat_seed(unit.seed, r), settings=chosen)))
                      for r in range(1, repeats)]
    return fits, record


def validation_value(fit: Fit) -> float:
    """The validation value of the model a fit kept (the best epoch's, or with ``finetune.select: last`` the last
    epoch's; higher is better; ``-inf`` when it recorded none or a non-finite one)."""
    value = fit.details.get("last_val" if fit.details.get("select") == "last" else "best_val")
    return float("-inf") if value is None or not np.isfinite(value) else float(value)
