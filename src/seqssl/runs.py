"""Run registry: every command that writes results appends one JSON line to ``$SEQSSL_HOME/runs.jsonl``
(default ``~/.seqssl``), so ``seqssl runs list`` can show what was run, on what, with which result."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError
from .io import versions


def registry_path() -> Path:
    return Path(os.environ.get("SEQSSL_HOME", Path.home() / ".seqssl")) / "runs.jsonl"


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def new_run_id(out: str | Path) -> tuple[str, str]:
    """``(run id, ISO date)`` of a run starting now: ``YYYYMMDD-HHMMSS-`` + 6 hex digits of its output path."""
    now = dt.datetime.now(dt.timezone.utc)
    run_id = now.strftime("%Y%m%d-%H%M%S-") + hashlib.sha1(f"{out}{now.timestamp()}".encode()).hexdigest()[:6]
    return run_id, now.isoformat(timespec="seconds")


def record_run(command: str, cfg, out: str | Path | None, metrics: dict, wall_seconds: float,
               run_id: str | None = None, status: str = "finished", error: str | None = None,
               primary_metric: str | None = None) -> str:
    """Append a run and return its id (``run_id`` if the run already has one); a finished run's entry is also
    written to ``OUT/run.json`` (a failed or interrupted run leaves its directory as it was)."""
    fresh_id, date = new_run_id(out or "")
    run_id = run_id or fresh_id
    entry = {"id": run_id, "command": command, "status": status, "date": date,
             "objective": cfg.pretrain.objective if command == "pretrain" else ",".join(cfg.crossval.arms)
             if command in ("crossval", "demo") else cfg.finetune.encoder,
             "mode": ",".join(cfg.crossval.modes or [cfg.finetune.mode]) if command != "pretrain" else None,
             "data": cfg.data.path, "out": None if out is None else str(Path(out).resolve()),
             "primary_metric": primary_metric, "metrics": metrics,
             "wall_seconds": round(wall_seconds, 1), "peak_memory_mb": round(peak_memory_mb(), 1),
             "seed": cfg.seed, "versions": versions(), **({"error": error} if error else {})}
    path = registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:  # one short line per O_APPEND write: no interleaving
        handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if status == "finished" and out is not None:
        (Path(out) / "run.json").write_text(json.dumps(entry, indent=1))
    return run_id


@contextmanager
def recorded(command: str, cfg):
    """Record the run made inside the block, whether it finishes, fails or is interrupted, from the command
    line and from Python alike (``status``: finished | failed | interrupted). The block fills the yielded
    dict: ``metrics``, ``primary_metric``, ``run_id``; it gets ``id`` back once recorded (finished runs)."""
    from .interrupts import Terminated
    from .train.distributed import is_main
    state: dict = {"metrics": {}, "primary_metric": None, "run_id": None}
    start, status, error = time.time(), "finished", None
    try:
        yield state
    except (KeyboardInterrupt, Terminated):
        status = "interrupted"
        raise
    except BaseException as err:
        status, error = "failed", str(err).splitlines()[0] if str(err) else type(err).__name__
        raise
    finally:
        if is_main():  # under torchrun, rank 0 records
            state["id"] = record_run(command, cfg, cfg.out, state["metrics"], time.time() - start, state["run_id"],
                                     status, error, state["primary_metric"])


def list_runs() -> list[dict]:
    path = registry_path()
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash is skipped, the others stay readable
    return runs


def find_run(run_id: str) -> dict:
    matches = [r for r in list_runs() if r["id"].startswith(run_id)]
    if len(matches) != 1:
        raise InputError(f"{'no' if not matches else len(matches)} runs match '{run_id}'",
                         fix="see `seqssl runs list`")
    return matches[0]
