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

__version__ = "0.1.0"
