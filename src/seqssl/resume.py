"""What a resumed run may change, and the check that it changed nothing else: one table, read by the
``--resume`` help of every command, by ``crossval``'s part store and by ``pretrain``, so that a resume never
records settings it did not use. The check runs before anything is written: a refused resume leaves the
run's files as they were."""
from __future__ import annotations

from pathlib import Path

import yaml

from .errors import InputError

# dotted config key → the flag that sets it: how a run is executed, not what it computes
MAY_CHANGE_ON_RESUME = {"crossval.arms": "--arms", "crossval.modes": "--mode", "crossval.jobs": "--jobs",
                        "crossval.executor": "--executor", "crossval.ray_address": "--ray-address",
                        "threads": "--threads", "device": "--device", "quiet": "--quiet", "out": "--out",
                        "overwrite": "--overwrite", "tracking": "--tracking"}


def may_change() -> str:
    """``--arms, --mode, ... and --tracking``: the flags a resume may change."""
    flags = list(dict.fromkeys(MAY_CHANGE_ON_RESUME.values()))
    return f"{', '.join(flags[:-1])} and {flags[-1]}"


def resume_note() -> str:
    """The sentence ``--resume``'s help and the README give: which flags may change."""
    return f"Only {may_change()} may change; any other setting is refused."


def flatten(d: dict, prefix: tuple = ()) -> dict:
    """``{"a": {"b": 1}}`` → ``{("a", "b"): 1}``."""
    out: dict = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out |= flatten(value, prefix + (key,))
        else:
            out[prefix + (key,)] = value
    return out


def with_renamed_keys(before: dict) -> dict:
    """A run's config written before its components declared their settings: each flat key one of them replaced
    (``pretrain.moco_queue_size``) moved to where it is now (``pretrain.moco.queue_size``); at its default it is
    dropped, since such a config recorded every objective's settings, used or not."""
    from .options import old_keys
    out = {section: dict(values) if isinstance(values, dict) else values for section, values in before.items()}
    for section, values in out.items():
        for key in list(values) if isinstance(values, dict) else ():
            found = old_keys(section, key)
            value = values.pop(key) if found else None
            for component, spec in found:
                if value != spec.default:
                    values[component] = {**values.get(component, {}), spec.name: value}
    return out


def declared_defaults() -> dict:
    """``(section, component, setting) → default`` of every declared setting (a component's section is written
    only for the components a run uses, so an absent one is at its defaults)."""
    from .options import SECTION_OF_KIND, declared
    return {(section, component, spec.name): spec.default for kind, section in SECTION_OF_KIND.items()
            for component, specs in declared(kind).items() for spec in specs}


def check_resume(saved: Path, now: dict) -> None:
    """Refuse a resume whose settings differ from the run's own (``saved``: its config.yaml), naming the
    first difference; settings added to seqssl after the run started count as unchanged at their default."""
    from .config import Config
    if not saved.exists():
        raise InputError("--resume: no earlier run here (config.yaml missing)", path=str(saved.parent),
                         fix="run without --resume to start from scratch")
    before = with_renamed_keys(yaml.safe_load(saved.read_text()) or {})
    old, new, defaults = flatten(before), flatten(now), {**declared_defaults(), **flatten(Config().to_dict())}
    ignored = {tuple(k.split(".")) for k in MAY_CHANGE_ON_RESUME}
    for key in sorted(set(old) | set(new), key=str):
        if key in ignored or old.get(key) == new.get(key):
            continue
        if key not in old and new.get(key) == defaults.get(key):
            continue
        if key not in new and key[:-1] not in {k[:-1] for k in new} and old.get(key) == defaults.get(key):
            continue  # a component's section this run does not write (it does not use the component), at defaults
        raise InputError(f"--resume: {'.'.join(key)} was {old.get(key)!r}, this run has {new.get(key)!r}",
                         path=str(saved), fix=f"resume with the original settings (only {may_change()} may change)")
