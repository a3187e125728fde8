"""A small decorator registry: ``@register("name")`` on an objective class."""
from __future__ import annotations

from ..errors import InputError

OBJECTIVES: dict[str, type] = {}


def register(name: str):
    def decorate(cls):
        if name in OBJECTIVES:
            raise ValueError(f"objective '{name}' registered twice")
        OBJECTIVES[name] = cls
        cls.name = name
        return cls
    return decorate


def build_objective(name: str, encoder, cfg, vocab_size: int):
    """Instantiate a registered objective around ``encoder`` with the pretraining config."""
    if name not in OBJECTIVES:
        raise InputError(f"unknown objective '{name}'", fix=f"use one of {', '.join(sorted(OBJECTIVES))}")
    check_choices(cfg)
    return OBJECTIVES[name](encoder, cfg, vocab_size)


def check_choices(cfg) -> None:
    """Refuse misspelt choices before any training starts."""
    from ..augment import VIEWS
    from ..data.positives import POSITIVES
    from .miners import MINERS
    for key, allowed in (("view", VIEWS), ("positives", POSITIVES), ("miner", MINERS),
                         ("distance", ("cosine", "euclidean")),
                         ("adversarial_schedule", ("alternating", "joint")),
                         ("adversarial_mask_types", ("all", "mask"))):
        value = getattr(cfg, key)
        if value not in allowed:
            raise InputError(f"unknown pretrain.{key} '{value}'", fix=f"use one of {', '.join(allowed)}")
    if cfg.view == "dropout" and cfg.positives == "augment":
        import warnings
        warnings.warn("view=dropout makes the two views differ only by dropout: set model.dropout > 0")
