"""Seeding, device and precision choices shared by every command."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from .errors import InputError


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch; same seed and thread count give identical numbers on CPU."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda requested but no CUDA GPU is visible", fix="use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise InputError(f"unknown device '{name}'", fix="use auto, cpu or cuda")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(int(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def configure_process(threads: int | None, quiet: bool) -> None:
    """What every command sets first: torch's threads, and with ``quiet`` no loading bars, tables or notices
    from ``transformers`` (seqssl's own errors still show)."""
    set_threads(threads)
    if quiet:
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked (CPU or CUDA), otherwise a no-op context."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    raise InputError(f"unknown precision '{precision}'", fix="use fp32 or bf16")


def generator_for(device: torch.device, seed: int) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
