"""The pretraining loop: any registered objective over a token dataset, with atomic checkpoints,
exact resume (bit for bit on CPU), a graceful stop on SIGINT/SIGTERM and a non-finite loss guard."""
from __future__ import annotations

import copy
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.dataset import EncodedDataset
from ..errors import InputError, TrainingStopped
from ..heap import trim_heap
from ..objectives.base import Objective
from ..positives import pretraining_batches
from ..runtime import autocast, generator_for
from .checkpoint import clear_checkpoints, latest_checkpoint, load_checkpoint, restore_rng, save_checkpoint
from .distributed import is_main, world
from .optim import Player, build_players

if TYPE_CHECKING:
    from ..config import PretrainConfig


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: to_device(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}


def data_parallel(objective: Objective, cfg, device: torch.device):
    """``objective`` itself, or wrapped in DistributedDataParallel under ``torchrun``."""
    if world()[1] == 1:
        return objective
    if objective.uses_gradient_cache(cfg):
        raise InputError("torchrun with several processes does not combine with gradient caching (--chunk-size) "
                         "of contrastive objectives", fix="drop --chunk-size: each rank's negatives are gathered "
                         "from every rank, so the global batch is already --batch-size")
    from torch.nn.parallel import DistributedDataParallel
    # a game's players take turns (the noiser's parameters get no gradient on the encoder's turns), and the
    # parts of a combined objective each leave the others' heads idle
    device_ids = [torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(objective, device_ids=device_ids,
                                   find_unused_parameters=objective.some_parameters_idle)


TRIM_EVERY_S = 10.0  # malloc_trim takes ~25 ms: at each log it cost a short run (a log every step) a third of
#                      its time; every 10 s it bounds the heap all the same, at ~0.3% of a run


def mean_logs(running: list[dict]) -> dict:
    """Per-key means over the steps since the last log (``*_updates`` keys: sums). A key missing from
    a step is not counted (alternating players log different things); NaN entries are ignored."""
    out = {}
    for key in dict.fromkeys(k for r in running for k in r):
        values = [r[key] for r in running if key in r and not math.isnan(r[key])]
        if key.endswith("_updates"):
            out[key] = float(sum(values))
        else:
            out[key] = float(np.mean(values)) if values else math.nan
    return out


def learning_rates(players: dict) -> dict:
    if list(players) == ["model"]:
        return {"lr": players["model"].scheduler.get_last_lr()[0]}
    return {f"lr_{name}": p.scheduler.get_last_lr()[0] for name, p in players.items()}


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else math.ceil(n / batch_size)


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps (main thread only)."""

    def __init__(self):
        self.requested, self._old, self.signum = False, {}, signal.SIGINT

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested, self.signum = True, signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def count_steps(objective: Objective, n: int, cfg, groups: np.ndarray | None, seed: int,
                lengths: np.ndarray | None = None) -> int:
    """Loop steps of the run: ``cfg.epochs`` epochs of ``cfg.batch_size`` (P×K batches of the labelled
    entries for label positives; with ``cfg.max_tokens``, the token-bounded batches of each epoch, cut from
    ``lengths`` as the loop will cut them), or ``cfg.max_steps`` encoder updates turned into loop steps by
    :meth:`~seqssl.objectives.base.Objective.loop_steps` (a game's other players update on top)."""
    per_epoch = steps_per_epoch(n, cfg.batch_size, objective.drop_last)
    epochs = [per_epoch] * cfg.epochs
    if cfg.positives == "label" and groups is not None:
        from ..positives import label_batches  # P×K epochs hold only the labelled entries
        per_epoch = len(label_batches(groups, cfg.per_label, cfg.batch_size, np.random.default_rng(seed)))
        epochs = [per_epoch] * cfg.epochs
    if getattr(cfg, "max_tokens", None) and lengths is not None:
        epochs = token_epochs(lengths, cfg, objective.drop_last, seed, cfg.epochs if cfg.max_steps is None else 1)
        per_epoch = min(epochs)
    if per_epoch == 0:
        raise InputError(f"pretraining corpus has {n} sequences, fewer than one batch of "
                         f"{cfg.batch_size}", fix="lower --batch-size or add data")
    total = sum(epochs) if cfg.max_steps is None else cfg.max_steps
    return objective.loop_steps(total)


def batch_phases(cfg, total: int) -> list[tuple[int, int]]:
    """``pretrain.batch_schedule`` as ``[(first loop step, batch size), ...]``, starting with ``(0,
    cfg.batch_size)``: seed 001 grew its batch from 128 to 256 for the last ~20% of training (``[[0.8, 256]]``).
    A schedule needs ``max_steps`` (its fractions are of the run's steps) and row-counted batches."""
    if not getattr(cfg, "batch_schedule", None):
        return [(0, cfg.batch_size)]
    if cfg.max_steps is None:
        raise InputError("pretrain.batch_schedule is in fractions of the run's steps: it needs --max-steps",
                         fix="set --max-steps, or drop pretrain.batch_schedule")
    if getattr(cfg, "max_tokens", None):
        raise InputError("pretrain.batch_schedule sets batch sizes in rows; --max-tokens bounds batches by tokens",
                         fix="drop one of them")
    return [(0, cfg.batch_size)] + [(int(round(fraction * total)), int(size)) for fraction, size in cfg.batch_schedule]


def phase_at(phases: list[tuple[int, int]], step: int) -> tuple[int, int | None]:
    """``(batch size, the step its phase ends at or None)`` for loop step ``step`` (counted from 0)."""
    current = [i for i, (first, _) in enumerate(phases) if first <= step][-1]
    end = phases[current + 1][0] if current + 1 < len(phases) else None
    return phases[current][1], end


def token_epochs(lengths: np.ndarray, cfg, drop_last: bool, seed: int, epochs: int) -> list[int]:
    """Batches in each of ``epochs`` epochs of token-bounded batches (:func:`~seqssl.data.collate.token_batches`):
    the loop's batch order, replayed from the seed (the number varies a little from epoch to epoch)."""
    from ..data.collate import token_batches
    rng = np.random.default_rng(seed)  # the loop's batch-order generator, drawn from by nothing else
    return [len(token_batches(lengths, cfg.max_tokens, cfg.batch_size, rng, drop_last=drop_last,
                              row_multiple=world()[1])) for _ in range(epochs)]


def log_interval(cfg, total: int) -> int:
    """Loop steps between history records. A ``log_every`` set in the config is kept as given; the default
    (20) is only a ceiling: a run logs about every 1% of its ``total`` steps (every step under 200 steps), so
    a 10-step run still draws a loss curve in the report rather than one point, and a run under 2,000 steps
    keeps 100-200 records. Setting ``log_every`` to the default value itself reads as the default."""
    default = next(f.default for f in fields(cfg) if f.name == "log_every")
    if cfg.log_every != default:
        return cfg.log_every
    return min(cfg.log_every, max(1, total // 100))


@dataclass
class PretrainingRun:
    """What the loop carries from step to step; a checkpoint saves the counters, histories and random
    states, and a resume restores them."""

    objective: Objective
    model: torch.nn.Module  # the objective, or its DistributedDataParallel wrapper
    players: dict[str, Player]
    cfg: PretrainConfig  # the pretrain config section
    device: torch.device
    precision: str
    total: int  # loop steps
    settings: dict  # what a checkpoint must match to be resumed
    rng: np.random.Generator  # batch order (its state at each epoch start is checkpointed)
    gen: torch.Generator  # the objectives' draws (views, masks, noise)
    checkpoint_dir: Path | None = None
    on_log: Callable[[dict], object] | None = None
    main: bool = True  # rank 0 (writes checkpoints, shows progress)
    step: int = 0
    epoch: int = 0
    skip: int = 0  # batches of the current epoch done before the checkpoint resumed from
    history: list[dict] = field(default_factory=list)
    running: list[dict] = field(default_factory=list)  # logged values since the last history record
    last_saved: Path | None = None
    start: float = 0.0
    bar: Any = None  # the tqdm progress bar, made by run_pretraining before the first step
    log_every: int = 1  # loop steps between history records (:func:`log_interval`), set by start_run
    last_trim: float = 0.0  # when freed C-heap pages were last handed back to the OS (CPU)


def start_run(objective: Objective, n: int, cfg, device: torch.device, precision: str, seed: int,
              groups: np.ndarray | None, checkpoint_dir: Path | None, resume: bool, on_log,
              lengths: np.ndarray | None = None) -> PretrainingRun:
    """Count the steps (``lengths``: the examples' token counts, for ``max_tokens`` batches), build the players'
    optimisers, wrap for DDP, then clear ``checkpoint_dir`` for a fresh run or restore the newest checkpoint in
    it (``resume``)."""
    total = count_steps(objective, n, cfg, groups, seed, lengths)
    objective.to(device).train()
    if getattr(cfg, "compile", False):
        from ..models.kernels import compile_backbones
        compile_backbones(objective)
    players = build_players(objective, cfg, total)
    model, main = data_parallel(objective, cfg, device), is_main()
    batch_phases(cfg, total)  # a schedule the run cannot follow is refused before the first step
    settings = {"objective": objective.name, "batch_size": cfg.batch_size, "optimizer": cfg.optimizer,
                "batch_schedule": getattr(cfg, "batch_schedule", None) or None,
                "corpus_size": n, "seed": seed, "total_steps": total, "max_tokens": getattr(cfg, "max_tokens", None)}
    run = PretrainingRun(objective, model, players, cfg, device, precision, total, settings,
                         rng=np.random.default_rng(seed), gen=generator_for(device, seed),
                         checkpoint_dir=checkpoint_dir, on_log=on_log, main=main,
                         log_every=log_interval(cfg, total))
    if checkpoint_dir is not None and not resume and main:
        clear_checkpoints(checkpoint_dir)
    run.start = time.time()
    if resume and checkpoint_dir is not None:
        resume_run(run)
        # the history's seconds go on from where the checkpoint left them (training time, over sessions)
        run.start -= run.history[-1].get("seconds", 0.0) if run.history else 0.0
    return run


def resume_run(run: PretrainingRun) -> None:
    """Restore counters, histories, the epoch-start batch order and the generator from the newest
    complete checkpoint, so the run continues bit for bit (on CPU) as if never stopped."""
    assert run.checkpoint_dir is not None  # start_run resumes only with a checkpoint directory
    found = latest_checkpoint(run.checkpoint_dir)
    if found is None:
        raise InputError("--resume: no complete checkpoint found", path=str(run.checkpoint_dir),
                         fix="run without --resume to start from scratch")
    meta = load_checkpoint(found, run.objective, run.players, expected=run.settings)
    run.step, run.epoch, run.skip = meta["step"], meta["epoch"], meta["batches_in_epoch"]
    run.history, run.running = meta["history"], meta["running"]
    run.rng.bit_generator.state = meta["numpy_epoch_start"]
    restore_rng(meta, run.gen)


def train_step(run: PretrainingRun, batch: dict) -> dict:
    """One loop step: the players whose turn it is, the batch's gradient (the objective's own way:
    :meth:`~seqssl.objectives.base.Objective.forward_backward`), the non-finite loss guard, the
    optimiser steps. Returns the scalars to log."""
    objective = run.objective
    objective.begin_step(run.step)
    inputs = objective.backward_inputs(run.players, wrapped=run.model is not objective)
    out = objective.forward_backward(run.model, batch, run.gen, run.cfg, inputs,
                                     amp=partial(autocast, run.device, run.precision))
    loss = out["loss"]
    if not torch.isfinite(loss):
        kept = f"; last good checkpoint: {run.last_saved}" if run.last_saved else ""
        raise TrainingStopped(f"non-finite pretraining loss ({float(loss.detach())}) at step {run.step + 1}{kept}",
                              fix="lower --lr, raise the temperature, or use --precision fp32")
    updates = objective.update(run.players, run.cfg.grad_clip)
    run.step += 1
    logged = {k: float(v.detach()) for k, v in out.items() if torch.is_tensor(v) and v.numel() == 1}
    return logged | updates


def log_step(run: PretrainingRun, logged: dict) -> None:
    """Collect ``logged``; every ``run.log_every`` steps (and at the end) append their means and the
    learning rates to the history and hand the record to ``on_log``."""
    run.running.append(logged)
    if run.step % run.log_every == 0 or run.step == run.total:
        now = time.time()
        if run.device.type == "cpu" and now - run.last_trim >= TRIM_EVERY_S:
            trim_heap()  # batches of varying width fragment the C heap over a long run
            run.last_trim = now
        run.history.append({"step": run.step, "epoch": run.epoch, **mean_logs(run.running),
                            **learning_rates(run.players), "seconds": time.time() - run.start})
        if run.on_log is not None:
            run.on_log(run.history[-1])
        run.bar.set_postfix(loss=f"{run.history[-1]['loss']:.3f}")
        run.running = []
    run.bar.update(1)


def checkpoint_step(run: PretrainingRun, stop: StopRequest, epoch_start: Mapping[str, Any],
                    batches_in_epoch: int) -> None:
    """Save a checkpoint every ``cfg.checkpoint_every`` steps, at the end and on a stop request (rank 0,
    with a ``checkpoint_dir``); then honour the stop request."""
    due = run.cfg.checkpoint_every and run.step % run.cfg.checkpoint_every == 0
    if run.checkpoint_dir is not None and run.main and (due or stop.requested or run.step == run.total):
        run.last_saved = save_checkpoint(
            run.checkpoint_dir, run.step, run.objective, run.players,
            {"generator": run.gen, "numpy_epoch_start": epoch_start},
            {"epoch": run.epoch, "batches_in_epoch": batches_in_epoch, "history": run.history,
             "running": run.running, "settings": run.settings})
    if stop.requested:
        where = f"checkpoint {run.last_saved}" if run.last_saved else "no checkpoint (no --out)"
        raise TrainingStopped(f"interrupted ({signal.Signals(stop.signum).name}) at step {run.step}; saved {where}",
                              fix="continue with the same command plus --resume",
                              exit_code=128 + int(stop.signum))


def run_epoch(run: PretrainingRun, batches, stop: StopRequest, end: int | None = None) -> None:
    """One epoch of ``batches(rng)``, stopping early at ``run.total`` (or at ``end``, where a batch-size phase
    ends: the next phase starts a fresh epoch); after a resume, the epoch's order is replayed and its first
    ``run.skip`` batches (already trained on) are passed over."""
    epoch_start = copy.deepcopy(run.rng.bit_generator.state)
    produced = 0
    for i, batch in enumerate(batches(run.rng)):
        produced += 1
        if i < run.skip:
            continue
        logged = train_step(run, to_device(batch, run.device))
        if run.cfg.batch_schedule:
            logged["batch_rows"] = float(batch["input_ids"].shape[0])
        log_step(run, logged)
        checkpoint_step(run, stop, epoch_start, i + 1)
        if run.step >= run.total or (end is not None and run.step >= end):
            break
    if produced == 0:
        raise InputError("an epoch of pretraining produced no batch",
                         fix="check the corpus size, --batch-size and pretrain.per_label")
    run.skip = 0
    run.epoch += 1


def run_pretraining(objective: Objective, data: EncodedDataset, cfg, *, device: torch.device,
                    precision: str = "fp32", seed: int = 0, progress: bool = True,
                    desc: str = "pretrain", groups: np.ndarray | None = None,
                    checkpoint_dir: Path | None = None, resume: bool = False, on_log=None,
                    tokenizer=None, max_length: int | None = None) -> list[dict]:
    """Train ``objective`` (which owns the encoder) for ``cfg.epochs`` or ``cfg.max_steps``.

    Returns the logged history: one dict per :func:`log_interval` steps (step, epoch, losses, lr).
    With ``checkpoint_dir``, a checkpoint is written every ``cfg.checkpoint_every`` steps, at the end,
    and on SIGINT/SIGTERM; ``resume`` continues from the newest one. ``on_log(record)`` is called with each
    logged record as it is made (experiment trackers). ``tokenizer`` and ``max_length`` (tokens, specials
    included) are for positives made from the text of the sequences (``smiles``).
    """
    lengths = data.lengths() if getattr(cfg, "max_tokens", None) else None
    run = start_run(objective, len(data), cfg, device, precision, seed, groups, checkpoint_dir, resume, on_log,
                    lengths)
    run.bar = tqdm(total=run.total, initial=run.step, desc=desc, disable=not (progress and run.main), leave=False,
                   unit="step")

    phases = batch_phases(cfg, run.total)

    def batches(rng: np.random.Generator):
        size, _ = phase_at(phases, run.step)
        phase_cfg = cfg if size == cfg.batch_size else replace(cfg, batch_size=size)
        return pretraining_batches(data, phase_cfg, rng, groups, objective.drop_last, tokenizer, max_length,
                                   row_multiple=world()[1])

    with StopRequest() as stop:
        while run.step < run.total:
            run_epoch(run, batches, stop, phase_at(phases, run.step)[1])
    run.bar.close()
    objective.eval()
    return run.history
