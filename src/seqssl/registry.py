"""A small registry of named things (tasks, arms, transfer modes): ``@REGISTRY.register`` on a class with a
``name`` stores one instance of it; ``REGISTRY.get(name)`` returns it, or raises the user's input error naming
the known names. Objectives keep their own class registry (:mod:`seqssl.objectives.registry`), since each
run builds a new objective around its encoder."""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from .errors import InputError
from .options import declare

T = TypeVar("T")
REGISTERED: dict[str, set[str]] = {}  # kind → every name registered so far (built-in and plugins), for config checks


class Registry(dict[str, T], Generic[T]):
    """``name → instance``, in registration order; ``kind`` names what it holds in error messages."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, cls: type[Any]) -> type[Any]:
        """Class decorator: store one instance of ``cls`` under ``cls.name``."""
        if cls.name in self:
            raise ValueError(f"{self.kind} '{cls.name}' registered twice")
        self[cls.name] = cls()
        REGISTERED.setdefault(self.kind, set()).add(cls.name)
        declare(self.kind, cls.name, cls)  # its Options, if it declares any (seqssl.options)
        return cls

    def lookup(self, name: str) -> T:
        """The thing called ``name``; an unknown name is an :class:`InputError` listing the known ones."""
        if name not in self:
            raise InputError(f"unknown {self.kind} '{name}'", fix=f"use one of {', '.join(self)}")
        return self[name]
