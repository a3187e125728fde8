"""``crossval.jobs`` (``--jobs N``): the (fold, arm) parts of one cross-validation in N worker processes.

Small encoders (the demo's is 2 layers of width 64) cannot keep several cores busy: their matrix multiplies are
too small to split, so a second thread makes a step no faster (measured on 2 cores: a demo fine-tuning epoch
takes 2.4 s with one thread, 3.0 s with two). Independent parts can: each worker runs whole (fold, arm) parts
with ``threads // jobs`` torch threads (at least one), so the machine's cores are not oversubscribed, and
writes them to the run's :class:`~seqssl.evaluate.parts.PartStore` as a serial run does. The main process then
gathers the parts exactly as ``--resume`` does, so the tables, statistics and report are made by one code path.

A part's result does not depend on which process ran it or in what order: each arm seeds itself from the
fold's seed, and every worker reads the same rows and plans the same folds (:func:`prepare_run`). Arithmetic
can depend on the thread count (reductions split differently), so a run with ``--jobs 2`` on 2 cores matches a
serial run with ``--threads 1``, not necessarily one with two threads (``tests/test_crossval_jobs.py``).

Workers are started with ``spawn`` (a fresh interpreter; ``fork`` after torch has started its thread pools can
hang). Pretraining parts are handed out first, so the long parts do not all land at the end. The standard
library's process pool does the scheduling; what is written here is only what a part needs to run in another
process.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from tqdm.auto import tqdm

from ..errors import TrainingStopped


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def resolve_jobs(cfg) -> int:
    """``crossval.jobs``, with 0 read as one process per core on a CPU run (one process on a GPU)."""
    if cfg.crossval.jobs:
        return cfg.crossval.jobs
    from ..runtime import resolve_device
    return available_cores() if resolve_device(cfg.device).type == "cpu" else 1


def worker_config(cfg, jobs: int):
    """The config a worker runs: quiet, with its share of the threads."""
    threads = max(1, (cfg.threads or available_cores()) // jobs)
    return dataclasses.replace(cfg, threads=threads, quiet=True)


def part_id(fold: int, arm: str) -> str:
    """A part's id, ``fold<K>:<arm>`` (``crossval --list-parts``, ``--part``, :mod:`.jobs`)."""
    return f"fold{fold}:{arm}"


def part_order(arms, folds: int) -> list[tuple[int, int]]:
    """``(fold, arm index)`` pairs, pretraining arms first, then fine-tuned encoders, then the rest (the
    longest first, so the pool is not left waiting on one long part at the end); folds in order within each."""
    def cost_rank(index: int) -> int:
        arm = arms[index]
        return 0 if arm.needs_corpus else 1 if arm.uses_modes else 2
    order = sorted(range(len(arms)), key=cost_rank)
    return [(k, i) for i in order for k in range(folds)]


def run_parts_in_workers(run_part, cfg, prepared, units: dict, resume: bool, jobs: int) -> None:
    """Run every (fold, arm) part in ``jobs`` processes: ``run_part(worker config, fold, arm index, resume)``, a
    module-level function (the pool sends it by name), runs one and stores it (with ``resume``, only if not yet
    on disk). A part that fails stops the run with its error; the parts finished so far stay for ``--resume``."""
    todo = part_order(prepared.arms, len(prepared.folds))
    child = worker_config(cfg, jobs)
    n_parts = {i: len(units[arm.name]) for i, arm in enumerate(prepared.arms)}
    bar = tqdm(total=sum(n_parts[i] for _, i in todo), desc=f"crossval ({jobs} processes)", disable=cfg.quiet,
               unit="arm")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
        futures = {pool.submit(run_part, child, k, i, resume): i for k, i in todo}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()  # a worker's error is raised here
                    bar.update(n_parts[futures[future]])
        except BrokenProcessPool:
            raise TrainingStopped("a worker process died (out of memory?); the finished parts are kept",
                                  path=str(cfg.out), fix="run again with --resume, with fewer --jobs") from None
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        finally:
            bar.close()
