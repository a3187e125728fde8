"""The pretraining loop: any registered objective over a token dataset, with atomic checkpoints,
exact resume (bit for bit on CPU), a graceful stop on SIGINT/SIGTERM and a non-finite loss guard."""
from __future__ import annotations

import copy
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.dataset import EncodedDataset
from ..data.positives import pretraining_batches
from ..errors import InputError, TrainingStopped
from ..runtime import autocast, generator_for
from .checkpoint import clear_checkpoints, latest_checkpoint, load_checkpoint, restore_rng, save_checkpoint
from ..objectives.token import TokenObjective
from .accumulate import token_backward
from .distributed import is_main, world
from .gradcache import cached_backward
from .memory import release_freed_cpu_memory
from .optim import build_players


def to_device(batch: dict, device: torch.device) -> dict:
    return {k: to_device(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}


def data_parallel(objective, cfg, device: torch.device):
    """``objective`` itself, or wrapped in DistributedDataParallel under ``torchrun``."""
    if world()[1] == 1:
        return objective
    if cfg.chunk_size and not isinstance(objective, TokenObjective):
        raise InputError("torchrun with several processes does not combine with gradient caching (--chunk-size) "
                         "of contrastive objectives", fix="drop --chunk-size: each rank's negatives are gathered "
                         "from every rank, so the global batch is already --batch-size")
    from torch.nn.parallel import DistributedDataParallel
    # a game's players take turns: the noiser's parameters get no gradient on the encoder's turns
    return DistributedDataParallel(objective, device_ids=[torch.cuda.current_device()] if device.type == "cuda" else None,
                                   find_unused_parameters=hasattr(objective, "players"))


def players_at(objective, step: int) -> tuple[str, ...]:
    """Names of the players that update at loop step ``step`` (every player, by default)."""
    return objective.players_at(step) if hasattr(objective, "players_at") else ("model",)


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
        self.requested, self._old = False, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def run_pretraining(objective: torch.nn.Module, data: EncodedDataset, cfg, *, device: torch.device,
                    precision: str = "fp32", seed: int = 0, progress: bool = True,
                    desc: str = "pretrain", groups: np.ndarray | None = None,
                    checkpoint_dir: Path | None = None, resume: bool = False, on_log=None,
                    tokenizer=None, max_length: int | None = None) -> list[dict]:
    """Train ``objective`` (which owns the encoder) for ``cfg.epochs`` or ``cfg.max_steps``.

    Returns the logged history: one dict per ``cfg.log_every`` steps (step, epoch, losses, lr).
    With ``checkpoint_dir``, a checkpoint is written every ``cfg.checkpoint_every`` steps, at the end,
    and on SIGINT/SIGTERM; ``resume`` continues from the newest one. ``on_log(record)`` is called with each
    logged record as it is made (experiment trackers). ``tokenizer`` and ``max_length`` (tokens, specials
    included) are for positives made from the text of the sequences (``smiles``).
    """
    drop_last = getattr(objective, "drop_last", False)
    per_epoch = steps_per_epoch(len(data), cfg.batch_size, drop_last)
    if getattr(cfg, "positives", "augment") == "label" and groups is not None:
        from ..data.positives import label_batches  # P×K epochs hold only the labelled entries
        per_epoch = len(label_batches(groups, cfg.per_label, cfg.batch_size, np.random.default_rng(seed)))
    if per_epoch == 0:
        raise InputError(f"pretraining corpus has {len(data)} sequences, fewer than one batch of "
                         f"{cfg.batch_size}", fix="lower --batch-size or add data")
    total = per_epoch * cfg.epochs if cfg.max_steps is None else cfg.max_steps
    if hasattr(objective, "loop_steps"):  # max_steps counts encoder updates; other players' come on top
        total = objective.loop_steps(total)
    objective.to(device).train()
    players = build_players(objective, cfg, total)
    model, main = data_parallel(objective, cfg, device), is_main()
    tokens_split = isinstance(objective, TokenObjective) and (bool(cfg.chunk_size) or world()[1] > 1)
    progress = progress and main
    rng = np.random.default_rng(seed)
    gen = generator_for(device, seed)
    history, running, step, epoch, skip = [], [], 0, 0, 0
    settings = {"objective": getattr(objective, "name", None), "batch_size": cfg.batch_size,
                "optimizer": cfg.optimizer, "corpus_size": len(data), "seed": seed, "total_steps": total}
    if checkpoint_dir is not None and not resume and main:
        clear_checkpoints(checkpoint_dir)
    if resume and checkpoint_dir is not None:
        found = latest_checkpoint(checkpoint_dir)
        if found is None:
            raise InputError("--resume: no complete checkpoint found", path=str(checkpoint_dir),
                             fix="run without --resume to start from scratch")
        meta = load_checkpoint(found, objective, players, expected=settings)
        step, epoch, skip = meta["step"], meta["epoch"], meta["batches_in_epoch"]
        history, running = meta["history"], meta["running"]
        rng.bit_generator.state = meta["numpy_epoch_start"]
        restore_rng(meta, gen)
    start = time.time()
    bar = tqdm(total=total, initial=step, desc=desc, disable=not progress, leave=False, unit="step")
    last_saved = None
    with StopRequest() as stop:
        while step < total:
            epoch_start = copy.deepcopy(rng.bit_generator.state)
            produced = 0
            for i, batch in enumerate(pretraining_batches(data, cfg, rng, groups, drop_last, tokenizer, max_length)):
                produced += 1
                if i < skip:  # replaying the epoch's order up to where the checkpoint left it
                    continue
                batch = to_device(batch, device)
                active = [players[name] for name in players_at(objective, step)]
                objective.active_players = tuple(p.name for p in active)
                # several players: only the active players' gradients (no encoder weight grads for the noiser);
                # under DDP every parameter in the graph must get one (the inactive players' are dropped below)
                restrict = len(players) > 1 and model is objective
                inputs = [p for player in active for p in player.params] if restrict else None
                backward_done = tokens_split or bool(cfg.chunk_size)
                with autocast(device, precision):
                    if tokens_split:  # micro-batches and/or DDP ranks, normalised per predicted token
                        out = token_backward(model, objective, batch, gen, cfg.chunk_size, inputs)
                    elif cfg.chunk_size:  # gradient caching: backward happens inside, in chunks
                        out = cached_backward(objective, batch, gen, cfg.chunk_size)
                    else:
                        out = model(batch, gen)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    kept = f"; last good checkpoint: {last_saved}" if last_saved else ""
                    raise TrainingStopped(f"non-finite pretraining loss ({float(loss.detach())}) at step {step + 1}{kept}",
                                          fix="lower --lr, raise the temperature, or use --precision fp32")
                if not backward_done:
                    loss.backward(inputs=inputs)
                for player in active:
                    player.step(cfg.grad_clip)
                for player in players.values():  # gradients a waiting player must not carry into its turn
                    if player not in active:
                        for p in player.params:
                            p.grad = None
                step += 1
                logged = {k: float(v.detach()) for k, v in out.items() if torch.is_tensor(v) and v.numel() == 1}
                if len(players) > 1:  # e.g. noiser_updates / encoder_updates since the last log
                    logged |= {f"{p.name}_updates": 1.0 for p in active}
                running.append(logged)
                if step % cfg.log_every == 0 or step == total:
                    if device.type == "cpu":  # batches of varying width fragment the C heap over a long run
                        release_freed_cpu_memory()
                    history.append({"step": step, "epoch": epoch, **mean_logs(running),
                                    **learning_rates(players), "seconds": time.time() - start})
                    if on_log is not None:
                        on_log(history[-1])
                    bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
                    running = []
                bar.update(1)
                due = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
                if checkpoint_dir is not None and main and (due or stop.requested or step == total):
                    last_saved = save_checkpoint(
                        checkpoint_dir, step, objective, players,
                        {"generator": gen, "numpy_epoch_start": epoch_start},
                        {"epoch": epoch, "batches_in_epoch": i + 1, "history": history, "running": running,
                         "settings": settings})
                if stop.requested:
                    where = f"checkpoint {last_saved}" if last_saved else "no checkpoint (no --out)"
                    raise TrainingStopped(f"interrupted at step {step}; saved {where}",
                                          fix="continue with the same command plus --resume")
                if step >= total:
                    break
            if produced == 0:
                raise InputError("an epoch of pretraining produced no batch",
                                 fix="check the corpus size, --batch-size and pretrain.per_label")
            skip = 0
            epoch += 1
    bar.close()
    objective.eval()
    return history
