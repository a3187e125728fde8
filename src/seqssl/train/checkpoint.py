"""Atomic training checkpoints: safetensors for every tensor, JSON for the rest; nothing is unpickled.

A checkpoint is a directory ``step-NNNNNNNN`` written under a temporary name, each file fsynced, then
renamed into place; ``LATEST`` (itself replaced atomically) names the newest complete one. A writer
killed at any point leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from ..errors import InputError
from ..io import atomic_write_text, current_umask, make_readable

_DEFAULT_MODE_MASK = current_umask()

KEEP = 2


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _optimizer_tensors(optimizer) -> tuple[dict, dict]:
    state = optimizer.state_dict()
    tensors, meta = {}, {"param_groups": state["param_groups"], "state": {}}
    for pid, entry in state["state"].items():
        meta["state"][str(pid)] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
                meta["state"][str(pid)][key] = "tensor"
            else:
                meta["state"][str(pid)][key] = value
    return tensors, meta


def _optimizer_from(tensors: dict, meta: dict) -> dict:
    state = {}
    for pid, entry in meta["state"].items():
        state[int(pid)] = {k: tensors[f"{pid}.{k}"] if v == "tensor" else v for k, v in entry.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(root: Path, step: int, model, players: dict, rng_state: dict, extra: dict) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and prune all but the newest ``KEEP``.

    ``players``: name → :class:`~seqssl.train.optim.Player` (one optimiser and schedule each)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    os.chmod(tmp, 0o777 & ~_DEFAULT_MODE_MASK)  # mkdtemp makes 0700 directories
    try:
        save_model(model, str(tmp / "model.safetensors"))  # handles tied weights (MLM decoder, ELECTRA)
        optimizers, schedulers = {}, {}
        for name, player in players.items():
            opt_tensors, optimizers[name] = _optimizer_tensors(player.optimizer)
            save_file(opt_tensors or {"_empty": torch.zeros(0)}, str(tmp / f"optimizer-{name}.safetensors"))
            schedulers[name] = player.scheduler.state_dict()
        save_file(_rng_tensors(rng_state["generator"]), str(tmp / "rng.safetensors"))
        meta = {"step": step, "optimizers": optimizers, "schedulers": schedulers,
                "numpy_epoch_start": rng_state["numpy_epoch_start"], **extra}
        (tmp / "state.json").write_text(json.dumps(meta, default=_jsonable))
        make_readable(tmp)  # safetensors writes 0600 files; checkpoints read like any other file
        for f in tmp.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        final = root / f"step-{step:08d}"
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
        atomic_write_text(root / "LATEST", final.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    older = [p for p in sorted(root.glob("step-*")) if p.name < final.name]
    for old in older[:-(KEEP - 1)] if KEEP > 1 else older:
        shutil.rmtree(old, ignore_errors=True)
    return final


def clear_checkpoints(root: Path) -> None:
    """A fresh (not resumed) run starts with no checkpoints from an earlier run in the same place."""
    if root.exists():
        shutil.rmtree(root)


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


def latest_checkpoint(root: Path) -> Path | None:
    pointer = root / "LATEST"
    if not pointer.exists():
        return None
    path = root / pointer.read_text().strip()
    return path if (path / "state.json").exists() else None


def load_checkpoint(path: Path, model, players: dict, expected: dict | None = None) -> dict:
    """Restore model, optimisers and schedulers in place; return the JSON state (step, RNG, extras).

    ``expected``: settings that must equal the checkpoint's ``settings`` (batch size, objective, ...);
    any mismatch or damage is an :class:`InputError`, never a traceback."""
    try:
        meta = json.loads((path / "state.json").read_text())
        for key, value in (expected or {}).items():
            saved = meta.get("settings", {}).get(key)
            if saved != value:
                raise InputError(f"checkpoint was written with {key}={saved!r}, this run has {value!r}",
                                 path=str(path), fix="resume with the settings the run was started with")
        try:
            load_model(model, str(path / "model.safetensors"))
        except RuntimeError as err:
            raise InputError(f"checkpoint does not fit this model ({str(err).splitlines()[0]})", path=str(path),
                             fix="resume with the model settings the run was started with") from None
        for name, player in players.items():
            tensors = load_file(str(path / f"optimizer-{name}.safetensors"))
            player.optimizer.load_state_dict(_optimizer_from(tensors, meta["optimizers"][name]))
            player.scheduler.load_state_dict(meta["schedulers"][name])
        rng = load_file(str(path / "rng.safetensors"))
    except InputError:
        raise
    except Exception as err:  # damaged or foreign checkpoint files
        first_line = str(err).splitlines()[0] if str(err) else ""
        raise InputError(f"cannot read checkpoint ({type(err).__name__}: {first_line})",
                         path=str(path), fix="delete the checkpoint directory or resume from another") from None
    meta["torch_cpu"], meta["generator"] = rng["torch_cpu"], rng["generator"]
    meta["torch_cuda"] = [rng[k] for k in sorted(rng) if k.startswith("cuda_")]
    return meta


def _rng_tensors(generator: torch.Generator) -> dict:
    """Every random state a step draws from: torch's CPU and CUDA generators and the loop's own."""
    out = {"torch_cpu": torch.get_rng_state(), "generator": generator.get_state().cpu()}
    if torch.cuda.is_available():
        out |= {f"cuda_{i:02d}": state.cpu() for i, state in enumerate(torch.cuda.get_rng_state_all())}
    return out


def restore_rng(meta: dict, generator: torch.Generator) -> None:
    """Restore the random streams of a checkpoint. A checkpoint written on another kind of device (a GPU
    run resumed on a CPU) has a generator state this device cannot take: the run continues with a stream
    seeded from the step, and so no longer matches an uninterrupted run bit for bit."""
    torch.set_rng_state(meta["torch_cpu"])
    try:
        generator.set_state(meta["generator"])
    except RuntimeError:
        import warnings
        warnings.warn("checkpoint from another device type: its random stream is reseeded from the step",
                      stacklevel=2)
        generator.manual_seed(int(meta.get("step", 0)) + 1)
    if meta["torch_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(meta["torch_cuda"])
