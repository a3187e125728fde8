"""Writes ``options.json`` (:mod:`seqssl.options`): every built-in objective, arm, task and transfer mode by kind, in
registration order, with the settings it declares. It imports them all (so torch), which is why it is a module of
its own at the top of the package and not part of :mod:`seqssl.options`, which every floor reads."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from . import objectives, tasks  # noqa: F401  (each import registers its components)
from .evaluate import arms  # noqa: F401
from .options import DECLARED, DECLARED_IN, MANIFEST, OptionSpec
from .transfer import modes  # noqa: F401


def manifest_text() -> str:
    """``options.json``'s text: every built-in component by kind, in registration order, with its options."""
    out = {kind: {name: [_written(spec) for spec in specs] for name, specs in components.items()  # registration order
                  if _built_in(kind, name)} for kind, components in sorted(DECLARED.items())}
    return json.dumps({kind: components for kind, components in out.items() if components}, indent=1) + "\n"


def _written(spec: OptionSpec) -> dict:
    """A spec as ``options.json`` keeps it: the fields left unset (None) out, the default always in."""
    return {key: value for key, value in dataclasses.asdict(spec).items() if value is not None or key == "default"}


def _built_in(kind: str, name: str) -> bool:
    return DECLARED_IN.get((kind, name), "").startswith("seqssl.")


def write_manifest(path: Path = MANIFEST) -> None:
    partial = path.with_suffix(f".partial-{os.getpid()}")
    partial.write_text(manifest_text(), encoding="utf-8")
    os.replace(partial, path)
