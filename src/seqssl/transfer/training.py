"""The one early-stopping training loop every fine-tuned model shares (sequence encoders + heads, GNNs):
optimise a task loss epoch by epoch, score the validation split after each epoch, keep the best weights
(:class:`~seqssl.transfer.early_stopping.EarlyStopping`)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch

from ..interrupts import Terminated, keeping_best, signal_name
from ..train.optim import build_optimizer, build_scheduler, clip_and_step
from .early_stopping import EarlyStopping


def total_steps(per_epoch: int, cfg) -> int:
    """Optimiser steps of a run: every epoch, or ``cfg.max_steps`` if fewer."""
    return per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, per_epoch * cfg.epochs)


def train_with_early_stopping(model: torch.nn.Module, *, batches: Callable[[], Iterable], per_epoch: int,
                              step_loss: Callable[[object], torch.Tensor], validate: Callable[[], float | None],
                              cfg, metric: str, device: torch.device, progress: bool, desc: str,
                              slow_params=None) -> dict:
    """Train ``model`` until ``validate()`` (the validation primary metric, higher is better) stops improving
    for ``cfg.patience`` epochs, capped at ``cfg.epochs`` or ``cfg.max_steps``; load the best weights and
    return the run's details (:meth:`EarlyStopping.finish`).

    ``batches()`` yields one epoch's training batches and ``step_loss(batch)`` their loss; ``slow_params``
    train at ``cfg.encoder_lr`` (when set) instead of ``cfg.lr``."""
    total = total_steps(per_epoch, cfg)
    optimizer = build_optimizer(model.parameters(), cfg, slow=slow_params, slow_lr=getattr(cfg, "encoder_lr", None))
    scheduler = build_scheduler(optimizer, cfg, total)
    stopping = EarlyStopping(metric, cfg.patience, cfg.min_delta, cfg.epochs, progress=progress, desc=desc,
                             select=getattr(cfg, "select", "best"))
    step, interrupted = 0, None
    try:
        for epoch in range(cfg.epochs):
            started = time.perf_counter()
            model.train()
            losses = []
            for batch in batches():
                loss = step_loss(batch)
                loss.backward()
                clip_and_step(model, optimizer, scheduler, cfg.grad_clip)
                losses.append(float(loss.detach()))
                step += 1
                if step >= total:
                    break
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - started
            mean_loss = float(np.mean(losses)) if losses else math.nan
            if stopping.update(model, epoch, mean_loss, validate(), seconds) or step >= total:
                break
    except (KeyboardInterrupt, Terminated) as err:  # finetune keeps the best epoch so far (keep_best_on_interrupt)
        if not keeping_best() or stopping.best_state is None:
            raise
        interrupted = signal_name(err)
        if stopping.select == "last":
            model.load_state_dict(stopping.last_state)
    details = stopping.finish(model, cfg.batch_size)
    return details if interrupted is None else {**details, "interrupted_by": interrupted, "stopped_early": False}
