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


def check_resume(saved: Path, now: dict) -> None:
    """Refuse a resume whose settings differ from the run's own (``saved``: its config.yaml), naming the
    first difference; settings added to seqssl after the run started count as unchanged at their default."""
    from .config import Config
    if not saved.exists():
        raise InputError("--resume: no earlier run here (config.yaml missing)", path=str(saved.parent),
                         fix="run without --resume to start from scratch")
    before = yaml.safe_load(saved.read_text()) or {}
    old, new, defaults = flatten(before), flatten(now), flatten(Config().to_dict())
    ignored = {tuple(k.split(".")) for k in MAY_CHANGE_ON_RESUME}
    for key in sorted(set(old) | set(new), key=str):
        if key in ignored or old.get(key) == new.get(key):
            continue
        if key not in old and new.get(key) == defaults.get(key):
            continue
        raise InputError(f"--resume: {'.'.join(key)} was {old.get(key)!r}, this run has {new.get(key)!r}",
                         path=str(saved), fix=f"resume with the original settings (only {may_change()} may change)")
