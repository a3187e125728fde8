"""Optional dependencies: which extra of ``pip install 'seqssl[...]'`` brings each, and the one-line error a user
gets when a feature needs one that is not installed (instead of an ImportError traceback)."""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import InputError

EXTRA_OF = {"rdkit": "molecules", "torch_geometric": "molecules", "tensorboard": "tracking", "mlflow": "tracking",
            "olga": "synthetic", "sceptr": "sceptr", "ray": "ray", "lmdb": "tape"}


def require(module: str, purpose: str) -> ModuleType:
    """``import module``, or an :class:`InputError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRA_OF.get(module)
        fix = f"pip install 'seqssl[{extra}]'" if extra else f"pip install {module}"
        raise InputError(f"{purpose} needs the {module} package, which is not installed", fix=fix) from None
