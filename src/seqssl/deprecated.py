"""Old import paths kept for one release after a move: a module that lost names defines
``__getattr__(name)`` (PEP 562) returning :func:`moved`, which imports the new home only when an old name is
used (so the old module does not import a package above it) and says where the name went."""
from __future__ import annotations

import dataclasses
import functools
import importlib
import sys
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


class RenamedKey(FutureWarning):
    """A config key, flag or keyword read under the name it had before its component declared it
    (:mod:`seqssl.options`). A :class:`FutureWarning`, so that Python shows it by default."""


def renamed_keys_as_lines() -> None:
    """Show a :class:`RenamedKey` as one plain line on stderr (``warning: config key 'pretrain.moco_queue_size' is now
    ...``), not as Python's warning with a file and line of seqssl's own code; other warnings as Python shows them.
    Installed once by the command line."""
    shown = warnings.showwarning
    if getattr(shown, "seqssl_plain_lines", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RenamedKey):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)
    show.seqssl_plain_lines = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def renamed_key(old: str, new: str) -> None:
    """Say once that ``old`` is now ``new``; the value is used as given."""
    warnings.warn(RenamedKey(f"config key '{old}' is now '{new}' (the old name is still read in this release)"),
                  stacklevel=4)


def old_keywords(section: str):
    """Class decorator of a config section: the flat keywords and attributes it had before its components
    declared their own settings (``PretrainConfig(moco_queue_size=0)``, ``cfg.moco_queue_size``) still work for
    one release, each with a :class:`RenamedKey` line, reading and writing ``options[component][name]``."""
    from .options import new_keys_text, old_keys

    def decorate(cls):
        init, names = cls.__init__, {f.name for f in dataclasses.fields(cls)}

        def renamed(key: str):
            found = [] if key.startswith("_") else old_keys(section, key)
            if found:
                renamed_key(f"{section}.{key}", new_keys_text(section, found))
            return found

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            old = {key: kwargs.pop(key) for key in list(kwargs) if key not in names}
            init(self, *args, **kwargs)
            if old:
                self.options = {name: dict(settings) for name, settings in self.options.items()}  # not shared
            for key, value in old.items():
                found = renamed(key)
                if not found:
                    raise TypeError(f"{cls.__name__}() got an unexpected keyword argument '{key}'")
                for component, spec in found:
                    self.options.setdefault(component, {})[spec.name] = value

        def __getattr__(self, key: str):  # called only for a name that is not an attribute
            found = renamed(key) if key != "options" else []
            if not found:
                raise AttributeError(f"{cls.__name__!r} object has no attribute {key!r}")
            component, spec = found[0]  # several share one value
            return self.options.get(component, {}).get(spec.name, spec.default)

        cls.__init__, cls.__getattr__ = __init__, __getattr__
        return cls
    return decorate


def alias_module(old: str, new: str) -> None:
    """Make the module path ``old`` the module ``new`` itself (called from the shim left at ``old``): imports of the
    old path, and patches made through it, reach the one module; a :class:`DeprecationWarning` names both."""
    warnings.warn(f"{old} moved to {new}; the old path goes in the next release", DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
