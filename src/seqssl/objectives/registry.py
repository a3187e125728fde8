"""A small decorator registry: ``@register("name")`` on an :class:`~seqssl.objectives.base.Objective` class."""
from __future__ import annotations

from ..config import check_choices
from ..errors import InputError

OBJECTIVES: dict[str, type] = {}


def register(name: str):
    """Record ``cls`` under ``name`` and set its :attr:`~seqssl.objectives.base.Objective.name`."""
    def decorate(cls):
        if name in OBJECTIVES:
            raise ValueError(f"objective '{name}' registered twice")
        OBJECTIVES[name] = cls
        cls.name = name
        return cls
    return decorate


def objective_class(name: str) -> type:
    """The objective registered as ``name``; a misspelt name is the user's input error."""
    if name not in OBJECTIVES:
        raise InputError(f"unknown objective '{name}'", fix=f"use one of {', '.join(sorted(OBJECTIVES))}")
    return OBJECTIVES[name]


def build_objective(name: str, encoder, cfg, vocab_size: int):
    """Instantiate a registered objective around ``encoder`` with the pretraining config; misspelt
    choices (:data:`seqssl.config.CHOICES`) are refused before any training starts."""
    cls = objective_class(name)
    check_choices(cfg, "pretrain")
    if cfg.view == "dropout" and cfg.positives == "augment":
        import warnings
        warnings.warn("view=dropout makes the two views differ only by dropout: set model.dropout > 0",
                      stacklevel=2)
    return cls(encoder, cfg, vocab_size)
