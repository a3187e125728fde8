"""A YAML or command-line value checked and converted against a dataclass field's type hint: the one conversion
the config sections (:mod:`seqssl.config`) and the options components declare (:mod:`seqssl.options`) share."""
from __future__ import annotations

import math
import types
import typing

from .errors import InputError


def coerce(value, hint, key: str):
    """Check/convert a YAML or CLI value against a dataclass field's type hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return coerce(value, args[0], key)
    if origin is dict:
        return coerce_mapping(value, typing.get_args(hint)[1], key)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise InputError(f"config key '{key}' expects a list, got {value!r}")
        return [coerce(v, inner, key) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes"):
            return True
        if str(value).lower() in ("false", "0", "no"):
            return False
        raise InputError(f"config key '{key}' expects true/false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise InputError(f"config key '{key}' expects a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float's range
            raise InputError(f"config key '{key}' expects {hint.__name__}, got {value!r}") from None
        if hint is int:
            if not math.isfinite(number) or number != int(number):
                raise InputError(f"config key '{key}' expects an integer, got {value!r}")
            return int(number)
        return number
    if hint is str:
        if isinstance(value, (dict, list)):
            raise InputError(f"config key '{key}' expects text, got {value!r}")
        return str(value)
    return value


def coerce_mapping(value, inner, key: str) -> dict:
    """A mapping from YAML, or ``a=1,b=0.5`` from the command line, its values checked against ``inner``."""
    if isinstance(value, str) and typing.get_origin(inner) is list:  # lr=1e-4,3e-4,epochs=10,30
        value = grouped_values(value, key)
    elif isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(p) != 2 for p in pairs):
            raise InputError(f"config key '{key}' expects NAME=VALUE pairs, got {value!r}", fix="e.g. mlm=1,simclr=0.5")
        value = {name.strip(): v.strip() for name, v in pairs}
    if not isinstance(value, dict):
        raise InputError(f"config key '{key}' expects a mapping, got {value!r}")
    return {str(k): coerce(v, inner, f"{key}.{k}") for k, v in value.items()}


def grouped_values(text: str, key: str) -> dict[str, list[str]]:
    """``lr=1e-4,3e-4,epochs=10,30`` → ``{lr: [1e-4, 3e-4], epochs: [10, 30]}``: an item with ``=`` starts a
    name, the items after it add values to it."""
    out: dict[str, list[str]] = {}
    name = None
    for item in (i.strip() for i in text.split(",")):
        if "=" in item:
            name, item = (part.strip() for part in item.split("=", 1))
            out[name] = []
        if name is None or not item:
            raise InputError(f"config key '{key}' expects NAME=V1,V2,... groups, got {text!r}",
                             fix="e.g. lr=1e-4,3e-4,1e-3,epochs=10,30")
        out[name].append(item)
    return out
