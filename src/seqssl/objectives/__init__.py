"""Pretraining objectives, registered by name: ``build_objective("simclr", encoder, cfg, vocab_size)``."""
from . import adversarial_mlm, clip, infonce, mlm, moco, rtd, simclr, simsiam, triplet  # noqa: F401,E402  (each registers itself)
from .registry import OBJECTIVES, build_objective, is_objective, objective_class, register  # noqa: F401
