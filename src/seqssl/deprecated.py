"""Old import paths kept for one release after a move: a module that lost names defines
``__getattr__(name)`` (PEP 562) returning :func:`moved`, which imports the new home only when an old name is
used (so the old module does not import a package above it) and says where the name went."""
from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping


def moved(old: str, name: str, homes: Mapping[str, str]):
    """The object an old name ``old.name`` now is, ``homes[name]`` (``"package.module.new_name"``), with a
    :class:`DeprecationWarning` naming both paths; :class:`AttributeError` for a name not in ``homes``."""
    if name not in homes:
        raise AttributeError(f"module {old!r} has no attribute {name!r}")
    module, _, new_name = homes[name].rpartition(".")
    warnings.warn(f"{old}.{name} moved to {homes[name]}; the old path goes in the next release",
                  DeprecationWarning, stacklevel=3)
    return getattr(importlib.import_module(module), new_name)
