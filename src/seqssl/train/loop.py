"""The pretraining loop: any registered objective over a token dataset."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.positives import pretraining_batches
from ..data.dataset import EncodedDataset
from ..errors import InputError
from ..runtime import autocast, generator_for
from .optim import build_optimizer, build_scheduler, clip_and_step


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: to_device(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def run_pretraining(objective: torch.nn.Module, data: EncodedDataset, cfg, *, device: torch.device,
                    precision: str = "fp32", seed: int = 0, progress: bool = True,
                    desc: str = "pretrain", groups: np.ndarray | None = None) -> list[dict]:
    """Train ``objective`` (which owns the encoder) for ``cfg.epochs`` or ``cfg.max_steps``.

    Returns the logged history: one dict per ``cfg.log_every`` steps with step, epoch, loss, lr.
    """
    drop_last = getattr(objective, "drop_last", False)
    per_epoch = steps_per_epoch(len(data), cfg.batch_size, drop_last)
    if per_epoch == 0:
        raise InputError(f"pretraining corpus has {len(data)} sequences, fewer than one batch of "
                         f"{cfg.batch_size}", fix="lower --batch-size or add data")
    total = per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, per_epoch * cfg.epochs)
    if cfg.max_steps is not None and cfg.max_steps > per_epoch * cfg.epochs:
        total = cfg.max_steps  # max_steps wins over epochs when larger
    objective.to(device).train()
    optimizer = build_optimizer(objective.parameters(), cfg)
    scheduler = build_scheduler(optimizer, cfg, total)
    rng = np.random.default_rng(seed)
    gen = generator_for(device, seed)
    history, running, step, start = [], [], 0, time.time()
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False, unit="step")
    while step < total:
        epoch = step // per_epoch
        for batch in pretraining_batches(data, cfg, rng, groups, drop_last):
            batch = to_device(batch, device)
            with autocast(device, precision):
                out = objective(batch, gen)
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite pretraining loss at step {step}: {float(loss)}")
            loss.backward()
            clip_and_step(objective, optimizer, scheduler, cfg.grad_clip)
            step += 1
            running.append({k: float(v.detach()) for k, v in out.items() if torch.is_tensor(v) and v.numel() == 1})
            if step % cfg.log_every == 0 or step == total:
                means = {k: float(np.mean([r[k] for r in running])) for k in running[0]}
                history.append({"step": step, "epoch": epoch, **means,
                                "lr": scheduler.get_last_lr()[0], "seconds": time.time() - start})
                bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
                running = []
            bar.update(1)
            if step >= total:
                break
    bar.close()
    objective.eval()
    return history
