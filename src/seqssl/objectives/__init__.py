"""Pretraining objectives, registered by name: ``build_objective("simclr", encoder, cfg)``."""
from .registry import OBJECTIVES, build_objective, register  # noqa: F401
from . import simclr  # noqa: F401  (registers)
