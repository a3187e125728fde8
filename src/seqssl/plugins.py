"""Components defined outside the package: a module that registers an objective (``@register``), an arm
(``@register_arm``), a task (``@register_task``) or a transfer mode (``@register_mode``) when it is imported.

Three ways in, all imported before the run reads its config:

- ``--plugin MODULE`` on ``pretrain``, ``finetune`` and ``crossval`` (repeatable; a dotted module name on the
  Python path, or a ``.py`` file), recorded in the config as ``plugins`` so that crossval's worker processes
  (``--jobs``) import them too;
- the environment variable ``SEQSSL_PLUGINS`` (comma-separated, the same forms);
- Python entry points of an installed package, in the groups :data:`ENTRY_POINT_GROUPS`
  (``[project.entry-points."seqssl.objectives"] my_loss = "my_package.losses"``).

A plugin that cannot be imported is the user's input error (its name and the import's reason), not a traceback.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from .errors import InputError

ENTRY_POINT_GROUPS = ("seqssl.objectives", "seqssl.arms", "seqssl.tasks", "seqssl.modes")
ENV = "SEQSSL_PLUGINS"
_imported: set[str] = set()  # plugin specs and entry points already imported in this process


def plugin_specs(named=()) -> list[str]:
    """``named`` (``--plugin``) then ``SEQSSL_PLUGINS``, each once, in order."""
    from_env = [s.strip() for s in os.environ.get(ENV, "").split(",") if s.strip()]
    return list(dict.fromkeys([*named, *from_env]))


def import_plugin(spec: str) -> None:
    """Import one plugin: a dotted module name, or a ``.py`` file (imported under its file name)."""
    if spec in _imported:
        return
    try:
        if spec.endswith(".py"):
            path = Path(spec)
            if not path.is_file():
                raise FileNotFoundError(f"no file {path}")
            if path.stem in sys.modules:  # imported already (by name, or as this file): its registrations stand
                _imported.add(spec)
                return
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[path.stem] = module
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except InputError:
        raise
    except Exception as err:  # any failure inside the user's module is reported as theirs
        raise InputError(f"plugin '{spec}' could not be imported ({type(err).__name__}: {err})",
                         fix="check the module name and that it is on the Python path (or pass its .py file)") from None
    _imported.add(spec)


@functools.cache
def declared_entry_points() -> tuple:
    """``(group, entry point)`` of every installed package's plugins, scanned once per process (a scan reads every
    installed distribution's metadata: ~15 ms, and every config load asks)."""
    return tuple((group, point) for group in ENTRY_POINT_GROUPS for point in entry_points(group=group))


def load_plugins(named=()) -> list[str]:
    """Import every plugin (``named``, ``SEQSSL_PLUGINS``, then installed entry points); returns the specs and
    entry points imported, in order."""
    loaded = []
    for spec in plugin_specs(named):
        import_plugin(spec)
        loaded.append(spec)
    for group, point in declared_entry_points():
        key = f"{group}:{point.name}"
        if key in _imported:
            continue
        try:
            point.load()
        except Exception as err:
            raise InputError(f"entry point {point.name} ({group}: {point.value}) could not be loaded "
                             f"({type(err).__name__}: {err})", fix="fix or uninstall the package that "
                             "declares it") from None
        _imported.add(key)
        loaded.append(key)
    return loaded
