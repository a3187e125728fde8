"""What an arm of a cross-validation is, and the registry of arms by name.

An arm turns one fold's training rows into scores for its test rows. It says what it needs (a sequence
encoder it fine-tunes in each transfer mode, molecular graphs, SMILES) and implements
:meth:`Arm.fit`; work shared by an arm's label fractions and transfer modes in one fold (pretraining)
goes in :meth:`Arm.prepare`. ``seqssl crossval --arms`` is validated against this registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...config import Config
from ...data.splits import Split
from ...options import DeclaresOptions
from ...registry import Registry
from ...tasks import Task
from ...tasks.labelled import LabelledData

ARMS: Registry[Arm] = Registry("arm")  # filled by the arm modules, see seqssl/evaluate/arms/__init__.py


def register_arm(cls: type[Arm]) -> type[Arm]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    return ARMS.register(cls)


@dataclass
class RunContext:
    """What every arm of one crossval run shares: the config, the labelled data, where to write, and
    caches computed once per run (molecular graphs)."""

    cfg: Config
    data: LabelledData
    device: object
    out: Path
    resume: bool = False
    progress: bool = True
    cache: dict = field(default_factory=dict)

    @property
    def task(self) -> Task:
        return self.data.task


@dataclass
class FoldContext:
    """One fold: ``split`` (``train`` = the rows models fit, ``val``, ``test``), the whole training fold
    ``train_all`` (fit + validation rows), the fold's pretraining corpus (free of test sequences) and how
    many corpus entries were removed for it."""

    k: int
    seed: int
    split: Split
    train_all: np.ndarray
    corpus: object = None
    removed: int = 0


@dataclass
class Unit:
    """One fit of one row of the results table in one fold: its name, label fraction and transfer mode, the
    training rows that fraction keeps, the fit's seed (the fold's, or a repeat's: :mod:`..tuning`) and the
    fine-tuning settings it overrides (``finetune.search``'s candidate)."""

    name: str
    fraction: float
    mode: str | None
    fit_idx: np.ndarray
    seed: int = 0
    settings: dict = field(default_factory=dict)

    def finetune(self, cfg):
        """``cfg`` (a finetune section) with this fit's settings: its own fields (``lr``), and a transfer mode's
        declared ones (``lora.rank``) in that mode's section of ``options``."""
        from dataclasses import replace
        if not self.settings:
            return cfg
        fields = {key: value for key, value in self.settings.items() if "." not in key}
        options = {name: dict(values) for name, values in cfg.options.items()}
        for key, value in self.settings.items():
            if "." in key:
                component, setting = key.split(".", 1)
                options.setdefault(component, {})[setting] = value
        return replace(cfg, **fields, options=options)


class Arm(DeclaresOptions):
    """Defaults of an arm; subclasses set what they need and implement :meth:`fit`."""

    kind = "arm"  # its settings: self.options(config) (seqssl.options)
    name: str = ""
    baseline_rank: int | None = None  # baselines (none, kmer, ecfp) in comparison order; every other arm
    #                                   is compared with each baseline present
    uses_modes = False  # fine-tunes a sequence encoder: run once per transfer mode (--mode)
    needs_molecules = False  # the first column holds SMILES that must parse in RDKit
    needs_corpus = False  # pretrains on the fold's corpus (built free of test sequences)
    requires: tuple[str, ...] = ()  # optional packages it imports (checked before any work: seqssl.extras)
    def stochastic(self, mode: str | None) -> bool:
        """Whether its fit in ``mode`` depends on the seed: refit per finetune.repeats (others fit once)."""
        return False

    def tunable(self, mode: str | None) -> bool:
        """Whether ``finetune.search`` applies: the fit trains by gradient with the finetune settings."""
        return False

    def check(self, task: Task) -> None:
        """Refuse a task the arm cannot predict, before any work."""

    def check_run(self, run: RunContext, modes: list[str]) -> list:
        """What the arm must verify against the run's data and settings before the first fold (a loaded
        model's segments and tokenizer, an objective's settings, each transfer mode against the task): the
        checks as callables raising :class:`~seqssl.errors.InputError`, run together by
        :func:`seqssl.errors.check_all` so that every problem is reported at once."""
        return []

    def provenance(self) -> dict | None:
        """Where an arm's model came from, for results.json (a model the user brought: its path and hash)."""
        return None

    def modes(self, modes: list[str], data: LabelledData | None = None) -> list[str | None]:
        """The modes the arm is run in (``modes``: the run's transfer modes; ``data``: the run's rows), each a row
        of the table (``ARM[MODE]`` when the arm has several)."""
        return list(modes) if self.uses_modes else [None]

    def prepare(self, run: RunContext, fold: FoldContext) -> tuple[object, dict]:
        """Work shared by the arm's label fractions and modes in one fold (e.g. pretraining):
        ``(state passed to fit, what to record)``."""
        return None, {}

    def fit(self, run: RunContext, fold: FoldContext, unit: Unit, state) -> tuple[np.ndarray, dict]:
        """Fit on ``unit.fit_idx`` (choices made on ``fold.split.val``), score ``fold.split.test``:
        ``(scores, details)``."""
        raise NotImplementedError


def baselines_of(arms: list[Arm]) -> list[str]:
    """Names of the baseline arms among ``arms``, in comparison order."""
    ranked = [(a.baseline_rank, a.name) for a in arms if a.baseline_rank is not None]
    return [name for _, name in sorted(ranked, key=lambda r: r[0])]  # stable: ties keep the arms' order
