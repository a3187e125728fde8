"""seqssl: self-supervised pretraining of biological sequence encoders, and honest evaluation.

Python API (``help(seqssl.embed)`` and so on for each)::

    import seqssl
    cfg = seqssl.load_config("run.yaml")        # or seqssl.Config() and set fields
    seqssl.pretrain(cfg)                        # -> encoder directory (transformers format)
    results = seqssl.crossval(cfg)              # -> dict, also results.json / report.md
    seqssl.finetune(cfg)                        # -> a fine-tuned model directory
    vectors = seqssl.embed(["CASSLGQAYEQYF"], encoder="encoder_dir")   # -> numpy array (rows, hidden)
    table = seqssl.predict("model_dir", dataframe)                   # -> pandas DataFrame of predictions
"""
import os as _os

# OpenMP threads that wait sleep instead of spinning: beside other busy jobs, torch's spinning threads fight for
# the cores (measured by benchmarks/bench_shared_cpu.py). Set before torch loads; a user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import Config, load_config  # noqa: E402,F401
from .errors import InputError  # noqa: E402,F401

__all__ = ["Config", "InputError", "crossval", "embed", "finetune", "load_config", "predict", "pretrain"]
_API = ("crossval", "embed", "finetune", "predict", "pretrain")  # imported on first use: they need torch, ~5 s


def __getattr__(name: str):
    """``seqssl.pretrain`` and the other API functions, imported when first used (PEP 562), so that
    ``import seqssl`` and ``seqssl --help`` do not load torch."""
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'seqssl' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


def _version() -> str:
    """The installed distribution's version: one source, ``pyproject.toml``."""
    from importlib import metadata
    try:
        return metadata.version("seqssl")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


__version__ = _version()
