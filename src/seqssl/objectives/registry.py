"""A small decorator registry: ``@register("name")`` on an :class:`~seqssl.objectives.base.Objective` class."""
from __future__ import annotations

from ..config import check_choices
from ..errors import InputError
from ..options import declare
from .base import Objective

OBJECTIVES: dict[str, type[Objective]] = {}


def register(name: str):
    """Record ``cls`` under ``name`` and set its :attr:`~seqssl.objectives.base.Objective.name`."""
    def decorate(cls):
        if name in OBJECTIVES:
            raise ValueError(f"objective '{name}' registered twice")
        OBJECTIVES[name] = cls
        cls.name = name
        declare("objective", name, cls)  # its Options, if it declares any (seqssl.options)
        return cls
    return decorate


def objective_class(name: str) -> type[Objective]:
    """The objective registered as ``name``, or for ``a+b`` the weighted sum of the registered objectives
    ``a`` and ``b`` (:mod:`seqssl.objectives.combined`); a misspelt name is the user's input error."""
    from .combined import SEPARATOR, combined_class, part_names
    if SEPARATOR in name:
        parts = part_names(name)
        if len(set(parts)) < len(parts):
            raise InputError(f"objective '{name}' names a part twice", fix="weight it with pretrain.weights instead")
        return combined_class("+".join(parts), tuple(objective_class(p) for p in parts))
    if name not in OBJECTIVES:
        raise InputError(f"unknown objective '{name}'",
                         fix=f"use one of {', '.join(sorted(OBJECTIVES))}, or a sum such as mlm+simclr")
    return OBJECTIVES[name]


def is_objective(name: str) -> bool:
    """True for a registered objective's name or a sum of them (``mlm+simclr``)."""
    return all(part.strip() in OBJECTIVES for part in name.split("+"))


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
