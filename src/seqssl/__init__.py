"""seqssl: self-supervised pretraining of biological sequence encoders, and honest evaluation.

Python API::

    import seqssl
    cfg = seqssl.load_config("run.yaml")        # or seqssl.Config() and set fields
    seqssl.pretrain(cfg)                        # -> encoder directory (transformers format)
    results = seqssl.crossval(cfg)              # -> dict, also results.json / report.md
"""
from .api import crossval, embed, finetune, pretrain  # noqa: F401
from .config import Config, load_config  # noqa: F401
from .errors import InputError  # noqa: F401


def _version() -> str:
    """The installed distribution's version: one source, ``pyproject.toml``."""
    from importlib import metadata
    try:
        return metadata.version("seqssl")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


__version__ = _version()
