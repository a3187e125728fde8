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
    return OBJECTIVES[name](encoder, cfg, vocab_size)
