"""Optimiser and learning-rate schedule from an :class:`~seqssl.config.OptimConfig`."""
from __future__ import annotations

import torch

from ..errors import InputError


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    """AdamW, or SGD with momentum (seed 000's pretraining); no weight decay on biases and norms."""
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    raise InputError(f"unknown optimizer '{cfg.optimizer}'", fix="use adamw or sgd")


def build_scheduler(optimizer, cfg, total_steps: int):
    """Linear warm-up over ``warmup_ratio`` of the steps, then cosine, linear or constant."""
    from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                              get_linear_schedule_with_warmup)
    warmup = int(round(cfg.warmup_ratio * total_steps))
    if cfg.scheduler == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, max(total_steps, 1))
    if cfg.scheduler == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, max(total_steps, 1))
    if cfg.scheduler == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    raise InputError(f"unknown scheduler '{cfg.scheduler}'", fix="use cosine, linear or constant")


def clip_and_step(model, optimizer, scheduler, grad_clip: float) -> float:
    """Clip the global gradient norm (if ``grad_clip`` > 0), step, and return the pre-clip norm."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else float("inf"))
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return float(norm)
