"""Command-line flags generated from the settings components declare (:mod:`seqssl.options`).

Each declared setting becomes ``--<component>-<setting>`` (``--moco-queue-size``, ``--adversarial-mlm-noiser-steps``)
on the commands that run that kind of component (:data:`COMMAND_KINDS`), listed in ``--help`` under a panel of its
own with its help text, what it may be and its config key; a value given lands in the component's config section
(``pretrain.moco.queue_size``) and is checked there like a YAML value. A flag an explicit option of the command
already has is not generated twice.

The flags are added to the typer commands' signatures before the command line is read (:func:`command_with_settings`,
called by :func:`seqssl.cli.main`), from ``options.json`` and the plugins the command line names (``--plugin``, its
``--config`` file's ``plugins``, ``SEQSSL_PLUGINS``), so ``--help`` imports no torch.
"""
from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml

from .options import SECTION_OF_KIND, TYPES, OptionSpec, declared

COMMAND_KINDS = {"pretrain": ("objective",), "finetune": ("transfer mode", "task", "arm"),
                 "crossval": ("objective", "transfer mode", "arm", "task")}
ARMS_OF_MODES_ONLY = {"finetune"}  # runs no arm; its gcn and gat modes read the settings of the arms of their names
PANELS = {"objective": "Objective settings", "transfer mode": "Transfer mode settings", "arm": "Arm settings",
          "task": "Task settings"}
_given: dict = {}  # the generated flags given on this command line, as nested config overrides


def values_of(argv: list[str], flag: str) -> list[str]:
    """The values of ``flag`` on a command line (``--flag X`` and ``--flag=X``), before click reads it."""
    found = []
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif token.startswith(f"{flag}="):
            found.append(token.split("=", 1)[1])
    return found


def plugins_named(argv: list[str]) -> list[str]:
    """The plugins a command line names: ``--plugin`` values, then the ``plugins`` of its ``--config`` file (a file
    that cannot be read is left to :func:`seqssl.config.load_config` to report)."""
    named = values_of(argv, "--plugin")
    for path in values_of(argv, "--config"):
        try:
            values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        listed = values.get("plugins") if isinstance(values, dict) else None
        named += [listed] if isinstance(listed, str) else [str(p) for p in listed or () if isinstance(listed, list)]
    return list(dict.fromkeys(named))


def flag_of(component: str, spec: OptionSpec) -> str:
    return f"--{component}-{spec.name}".replace("_", "-")


def _parameter(component: str, spec: OptionSpec, kind: str) -> inspect.Parameter:
    section = SECTION_OF_KIND[kind]
    flag = flag_of(component, spec)
    if spec.type == "bool":
        flag = f"{flag}/--no-{flag[2:]}"
    help_text = f"{component}: {spec.describe()}; {section}.{component}.{spec.name} = {spec.default}"
    value_type = str if spec.type == "list[str]" else TYPES[spec.type]  # a list as A,B (checked as YAML's)
    hint = Annotated[Optional[value_type], typer.Option(flag, help=help_text,  # type: ignore[valid-type]
                                                        rich_help_panel=PANELS[kind])]
    return inspect.Parameter(_dest(component, spec), inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)


def _dest(component: str, spec: OptionSpec) -> str:
    return f"setting__{component}__{spec.name}".replace("-", "_")


def components_of(command: str, kind: str) -> dict[str, list[OptionSpec]]:
    """The components of ``kind`` whose settings ``command`` takes: all of them, but for a command that runs no arm
    only the arms named like a transfer mode (:data:`ARMS_OF_MODES_ONLY`)."""
    components = declared(kind)
    if kind == "arm" and command in ARMS_OF_MODES_ONLY:
        modes = declared("transfer mode")
        components = {name: specs for name, specs in components.items() if name in modes}
    return components


def generated_parameters(command: str, taken: set[str]) -> dict[str, tuple[inspect.Parameter, tuple]]:
    """Parameter name → (the parameter, (section, component, setting)) of every flag generated for ``command``."""
    out = {}
    for kind in COMMAND_KINDS.get(command, ()):
        for component, specs in sorted(components_of(command, kind).items()):
            for spec in specs:
                if flag_of(component, spec) in taken or _dest(component, spec) in out:
                    continue
                out[_dest(component, spec)] = (_parameter(component, spec, kind),
                                               (SECTION_OF_KIND[kind], component, spec.name))
    return out


def _flags_of(callback) -> set[str]:
    hints = typing.get_type_hints(callback, include_extras=True)
    flags: set[str] = set()
    for hint in hints.values():
        for extra in getattr(hint, "__metadata__", ()):
            flags.update(d.split("/")[0] for d in (getattr(extra, "param_decls", None) or ()) if d.startswith("--"))
    return flags | {f"--{name.replace('_', '-')}" for name in inspect.signature(callback).parameters}


def with_settings(callback, command: str):
    """``callback`` with the generated flags of ``command`` added to its signature; their values are kept for
    :func:`given_settings` and the rest passed on."""
    original = callback
    generated = generated_parameters(command, _flags_of(original))

    @functools.wraps(original)
    def run(*args, **kwargs):
        _given.clear()
        for name, (_, (section, component, setting)) in generated.items():
            value = kwargs.pop(name, None)
            if value is not None:
                _given.setdefault(section, {}).setdefault(component, {})[setting] = value
        return original(*args, **kwargs)

    hints = typing.get_type_hints(original, include_extras=True)  # cli.py's annotations are strings
    signature = inspect.signature(original)
    own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()]
    parameters = [*own, *(p for p, _ in generated.values())]
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {**hints, **{name: p.annotation for name, (p, _) in generated.items()}}
    return run


def command_with_settings(app: typer.Typer):
    """The click command of ``app`` whose commands of :data:`COMMAND_KINDS` have the flags of the settings
    declared now (a plugin imported since adds its own); ``app`` itself is left as it was."""
    infos = [(info, info.name or info.callback.__name__) for info in app.registered_commands
             if info.callback is not None and (info.name or info.callback.__name__) in COMMAND_KINDS]
    originals = [info.callback for info, _ in infos]
    try:
        for (info, name), callback in zip(infos, originals):
            info.callback = with_settings(callback, name)
        return typer.main.get_command(app)
    finally:
        for (info, _), callback in zip(infos, originals):
            info.callback = callback


def given_settings(overrides: dict) -> dict:
    """``overrides`` (nested config keys) with the generated flags given on this command line added."""
    out = {section: dict(values) if isinstance(values, dict) else values for section, values in overrides.items()}
    for section, components in _given.items():
        out.setdefault(section, {})
        for component, settings in components.items():
            out[section][component] = {**out[section].get(component, {}), **settings}
    return out
