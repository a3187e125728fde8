"""``crossval --executor ray`` (``--ray-address``): the (fold, arm) parts of one cross-validation as Ray tasks.

Ray (``pip install 'seqssl[ray]'``) schedules the parts over a cluster, or over the cores of this machine when no
address is given; seqssl only says what a part is (:func:`seqssl.evaluate.crossval.run_part_in_worker`, the
function ``--jobs`` workers and ``--part`` jobs run) and what it needs: ``crossval.ray_cpus`` CPUs (its torch
threads) and one GPU when the run names ``--device cuda``. Parts are submitted in ``--list-parts`` order (pretraining
first), each writes its rows into the shared ``--out`` (a network filesystem on a real cluster), and the calling
process gathers them exactly as ``--resume`` does, so the tables are those of a serial run with
``--threads`` = ``ray_cpus``. A part that raises is retried once by Ray, then the run stops naming the part; the
parts finished so far stay for ``--resume``.
"""
from __future__ import annotations

import dataclasses

from tqdm.auto import tqdm

from ..errors import TrainingStopped
from ..extras import require
from .workers import part_id, part_order


def part_config(cfg):
    """The config each Ray task runs: quiet, with ``ray_cpus`` torch threads."""
    return dataclasses.replace(cfg, threads=cfg.crossval.ray_cpus, quiet=True)


def gpus_per_part(cfg) -> int:
    """One GPU per part when the run names ``--device cuda`` (the workers' GPUs, not this process's, are what
    counts: ``auto`` asks for none, and each part then takes what its worker has)."""
    return 1 if str(cfg.device).startswith("cuda") else 0


def run_parts_on_ray(run_part, cfg, prepared, units: dict, resume: bool) -> None:
    """Run every part as a Ray task (``run_part(config, fold, arm index, resume)``, importable by name on the
    workers) and wait for all; joins ``crossval.ray_address`` or starts a local Ray, and shuts down what it
    started."""
    ray = require("ray", "crossval --executor ray")
    started = not ray.is_initialized()
    if started:
        ray.init(address=cfg.crossval.ray_address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    todo = part_order(prepared.arms, len(prepared.folds))
    remote = ray.remote(num_cpus=cfg.crossval.ray_cpus, num_gpus=gpus_per_part(cfg), max_retries=1,
                        retry_exceptions=True)(run_part)
    child = part_config(cfg)
    refs = {remote.remote(child, k, i, resume): (k, i) for k, i in todo}
    n_rows = {i: len(units[arm.name]) for i, arm in enumerate(prepared.arms)}
    bar = tqdm(total=sum(n_rows[i] for _, i in todo), desc=f"crossval (Ray, {len(todo)} parts)", disable=cfg.quiet,
               unit="arm")
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            k, i = refs[done[0]]
            try:
                ray.get(done[0])
            except Exception as err:
                for ref in pending:
                    ray.cancel(ref)
                cause = getattr(err, "cause", None) or err
                raise TrainingStopped(f"part {part_id(k, prepared.arms[i].name)} failed on Ray (tried twice): "
                                      f"{type(cause).__name__}: {cause}", path=str(cfg.out),
                                      fix="fix the cause, then run again with --resume (finished parts are kept)"
                                      ) from None
            bar.update(n_rows[i])
    finally:
        bar.close()
        if started:
            ray.shutdown()
