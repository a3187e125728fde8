"""Options a component declares for itself: an objective, arm, transfer mode or task names its settings in a
dataclass of its own module, each field made by :func:`option` (default, help text, allowed values or bounds,
and the flat config key it replaced, if any)::

    @dataclass
    class MocoOptions:
        queue_size: int = option(4096, "K keys kept as negatives", at_least=0, old="moco_queue_size")

    @register("moco")
    class Moco(TwoViewObjective):
        Options = MocoOptions          # read in the objective as self.options.queue_size

From those declarations, and nothing else: the config section ``pretrain.moco: {queue_size: 1024}`` (objectives
under ``pretrain``, transfer modes under ``finetune``, arms under ``crossval``, tasks under ``data``; see
:data:`SECTION_OF_KIND`), the flags ``--moco-queue-size`` of the commands that run that kind of component
(:mod:`seqssl.cli_components`), their ``--help``, the checks of every value, and the old flat key
(``pretrain.moco_queue_size``) still read, with a deprecation line.

``--help`` must not import torch, and the built-in components' modules do. So the declarations of the built-in
components are also written to ``options.json`` beside this module (``python scripts/write_options_manifest.py``
regenerates it, through :mod:`seqssl.options_manifest`; a test fails, naming that command, when it is out of
step); a plugin's component is imported before the command line is read (``--plugin``, ``SEQSSL_PLUGINS``), so
its declarations are read live (:data:`DECLARED`).

One spelling for a component of either origin: objectives read ``self.options`` (the run's ``pretrain`` section
is theirs), arms, tasks and transfer modes ``self.options(config)`` (:class:`DeclaresOptions`).
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .values import coerce

SECTION_OF_KIND = {"objective": "pretrain", "transfer mode": "finetune", "arm": "crossval", "task": "data"}
KINDS_OF_SECTION = {section: kind for kind, section in SECTION_OF_KIND.items()}
MANIFEST = Path(__file__).with_name("options.json")
TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list[str]": list[str]}
DECLARED: dict[str, dict[str, list[OptionSpec]]] = {}  # kind → component → its options, as registered live
DECLARED_IN: dict[tuple[str, str], str] = {}  # (kind, component) → the module that declared it


@dataclass(frozen=True)
class OptionSpec:
    """One declared option, as plain data (what ``options.json`` holds for each)."""

    name: str
    type: str  # int | float | bool | str | list[str]
    optional: bool  # None is allowed
    default: object
    help: str
    choices: tuple | None = None
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    at_most: float | None = None
    old: str | None = None  # the flat key of its section this option replaced (pretrain.moco_queue_size); several
    #                         options may share one (crossval.gnn_hidden: the gcn and the gat arm's hidden)

    def check(self, value, key: str):
        """``value`` converted to the option's type and checked against its choices and bounds."""
        hint = TYPES[self.type] | None if self.optional else TYPES[self.type]
        value = coerce(value, hint, key)
        if value is None:
            return None
        choices = self.choices or ()
        unknown = [v for v in (value if isinstance(value, list) else [value]) if choices and v not in choices]
        if unknown:
            raise InputError(f"unknown {key} '{unknown[0]}'", fix=f"use one of {', '.join(map(str, choices))}")
        if not isinstance(value, list) and not self.within_bounds(value):
            raise InputError(f"config key '{key}' must be {self.bounds_text()}, got {value!r}")
        return value

    def within_bounds(self, value) -> bool:
        return ((self.at_least is None or value >= self.at_least) and (self.above is None or value > self.above)
                and (self.below is None or value < self.below) and (self.at_most is None or value <= self.at_most))

    def bounds_text(self) -> str:
        parts = [f"{word} {bound:g}" for word, bound in (("at least", self.at_least), ("above", self.above),
                                                           ("below", self.below), ("at most", self.at_most))
                 if bound is not None]
        return " and ".join(parts)

    def describe(self) -> str:
        """The help text with what the value may be: ``K keys kept as negatives (at least 0)``."""
        allowed = " | ".join(map(str, self.choices)) if self.choices else self.bounds_text()
        return f"{self.help} ({allowed})" if allowed else self.help


def option(default, help: str, *, choices=None, at_least=None, above=None, below=None, at_most=None,
           old: str | None = None):
    """A field of a component's options dataclass: its default and what :class:`OptionSpec` records of it (a list
    default is copied for each instance)."""
    meta = {"help": help, "choices": tuple(choices) if choices else None, "at_least": at_least, "above": above,
            "below": below, "at_most": at_most, "old": old}
    if isinstance(default, list):
        return field(default_factory=functools.partial(list, default), metadata={"seqssl": meta})
    return field(default=default, metadata={"seqssl": meta})


def specs_of(options_class) -> list[OptionSpec]:
    """The :class:`OptionSpec` of each field of ``options_class``, in order."""
    hints = typing.get_type_hints(options_class)
    specs = []
    for item in dataclasses.fields(options_class):
        hint = hints[item.name]
        optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
        base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
        names = [name for name, allowed in TYPES.items() if allowed == base]
        if not names:
            raise TypeError(f"{options_class.__name__}.{item.name}: options are int, float, bool, str or list[str]")
        meta = item.metadata.get("seqssl", {"help": ""})
        made = item.default_factory
        default = made() if item.default is dataclasses.MISSING and callable(made) else item.default
        specs.append(OptionSpec(item.name, names[0], optional, default, **meta))
    return specs


def declare(kind: str, name: str, component) -> None:
    """Record ``component`` under ``kind`` and ``name`` with its options (its ``Options`` dataclass; none without
    one); the registries call this as they register."""
    options_class = getattr(component, "Options", None)
    DECLARED.setdefault(kind, {})[name] = specs_of(options_class) if options_class is not None else []
    DECLARED_IN[kind, name] = component.__module__


@functools.cache
def manifest() -> dict[str, dict[str, list[OptionSpec]]]:
    """The built-in components' declarations as ``options.json`` holds them."""
    if not MANIFEST.exists():
        return {}
    raw = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {kind: {name: [OptionSpec(**{**spec, "choices": tuple(spec["choices"]) if spec.get("choices") else None})
                          for spec in specs] for name, specs in components.items()}
            for kind, components in raw.items()}


def component_names(kind: str) -> list[str]:
    """The built-in components of ``kind`` in registration order (``options.json``; the choice lists of ``--help``)."""
    return list(manifest().get(kind, {}))


def declared(kind: str) -> dict[str, list[OptionSpec]]:
    """Component name → its options, for one kind: the built-in ones (``options.json``), then those registered
    in this process (plugins; a built-in module imported since is the same declaration)."""
    return {**manifest().get(kind, {}), **DECLARED.get(kind, {})}


def old_keys(section: str, key: str) -> list[tuple[str, OptionSpec]]:
    """The components and options that the flat key ``section.key`` became (none: it was not one; several when
    components share it, as the gcn and gat arms share ``crossval.gnn_hidden``)."""
    kind = KINDS_OF_SECTION.get(section)
    return [(component, spec) for component, specs in (declared(kind).items() if kind else ())
            for spec in specs if spec.old == key]


def new_keys_text(section: str, found: list[tuple[str, OptionSpec]]) -> str:
    """Where an old flat key went, for its deprecation line: ``crossval.gcn.hidden' and 'crossval.gat.hidden``."""
    return "' and '".join(f"{section}.{component}.{spec.name}" for component, spec in found)


def resolved(kind: str, component: str, given: dict, *, fill: bool) -> dict:
    """``given`` (one component's section) checked option by option; with ``fill``, every option, defaults
    included (what a run's ``config.yaml`` records)."""
    specs = {spec.name: spec for spec in declared(kind).get(component, [])}
    where = f"{SECTION_OF_KIND[kind]}.{component}"
    out = {}
    for key, value in given.items():
        if key not in specs:
            close = difflib.get_close_matches(str(key), list(specs), n=1)
            hint = f"did you mean '{where}.{close[0]}'?" if close else f"valid keys: {', '.join(specs) or 'none'}"
            raise InputError(f"unknown config key '{where}.{key}'", fix=hint)
        out[key] = specs[key].check(value, f"{where}.{key}")
    if fill:
        out = {name: out.get(name, spec.default) for name, spec in specs.items()}
    return out


def options_for(kind: str, component, section_config):
    """The ``Options`` instance of a registered component from its config section's values (defaults for the
    rest, each value checked): what the component reads as ``self.options``."""
    return options_named(kind, component.name, component.Options, section_config)


def options_named(kind: str, name: str, options_class, section_config):
    """``options_class`` filled from the settings of the component ``name`` of ``kind`` in its config section: how
    a component reads the settings another declares (the gcn transfer mode those of the gcn arm) without
    importing it."""
    given = section_config.options.get(name, {})
    return options_class(**resolved(kind, name, given, fill=False))


class DeclaresOptions:
    """Base of the registered components held as one instance each (arms, tasks, transfer modes): their
    declared settings for a run, ``self.options(config)`` (``config``: the whole :class:`seqssl.config.Config`, or
    the section holding them, e.g. the ``data_cfg`` a task's methods receive)."""

    kind: typing.ClassVar[str]  # arm | task | transfer mode
    Options: typing.ClassVar[typing.Any] = None  # a dataclass of option() fields, if it has settings

    def options(self, config):
        return options_for(self.kind, type(self), getattr(config, SECTION_OF_KIND[self.kind], config))
