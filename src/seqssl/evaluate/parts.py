"""Finished (fold, arm) results of a cross-validation, kept on disk as they complete.

A killed ``seqssl crossval`` loses at most the arm it was running: ``--resume`` reloads every finished
part (metrics + run details as JSON, predictions as Parquet, each written atomically) and continues a
pretraining that was cut off from its last checkpoint. Resuming under a different configuration is
refused, except for the arm list (adding an arm to a finished run computes only the new arm) and the device
(a GPU run may be finished on a CPU; such parts then differ from an uninterrupted run's by device arithmetic).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..errors import InputError
from ..io import atomic_write_text

# how, not what
IGNORED_ON_RESUME = {("crossval", "arms"), ("crossval", "modes"), ("out",), ("quiet",), ("threads",), ("device",),
                     ("crossval", "jobs"), ("overwrite",)}


def _builtin(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _flatten(d: dict, prefix=()) -> dict:
    out: dict = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out |= _flatten(value, prefix + (key,))
        else:
            out[prefix + (key,)] = value
    return out


class PartStore:
    """``DIR/parts/fold_K/ARM.json`` + ``ARM.parquet`` per finished (fold, arm)."""

    def __init__(self, out: Path, config: dict, resume: bool):
        self.root = out / "parts"
        saved = out / "config.yaml"
        if resume:
            if not saved.exists():
                raise InputError("--resume: no earlier run here (config.yaml missing)", path=str(out),
                                 fix="run without --resume to start from scratch")
            self._check_same(yaml.safe_load(saved.read_text()) or {}, config, saved)
        elif self.root.exists():
            shutil.rmtree(self.root)  # a fresh run never mixes in parts of an earlier one

    @staticmethod
    def _check_same(before: dict, now: dict, path: Path) -> None:
        from ..config import Config
        old, new, defaults = _flatten(before), _flatten(now), _flatten(Config().to_dict())
        for key in sorted(set(old) | set(new)):
            if key in IGNORED_ON_RESUME or old.get(key) == new.get(key):
                continue
            if key not in old and new.get(key) == defaults.get(key):
                continue  # a setting added to seqssl after the run started, left at its default
            raise InputError(f"--resume: {'.'.join(key)} was {old.get(key)!r}, this run has {new.get(key)!r}",
                             path=str(path), fix="resume with the original settings (only --arms may change)")

    def _paths(self, fold: int, arm: str) -> tuple[Path, Path]:
        folder = self.root / f"fold_{fold}"
        return folder / f"{arm}.json", folder / f"{arm}.parquet"

    def load(self, fold: int, arm: str):
        """``(metrics, info, predictions)`` of a finished part, or ``None``."""
        meta_path, pred_path = self._paths(fold, arm)
        if not (meta_path.exists() and pred_path.exists()):
            return None
        meta = json.loads(meta_path.read_text())
        return meta["metrics"], meta["info"], pd.read_parquet(pred_path)

    def save(self, fold: int, arm: str, metrics: dict, info: dict, predictions: pd.DataFrame) -> None:
        meta_path, pred_path = self._paths(fold, arm)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = pred_path.with_name(pred_path.name + ".tmp")
        predictions.to_parquet(tmp, index=False)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, pred_path)
        # the JSON is written last: a part counts as finished only once it exists
        atomic_write_text(meta_path, json.dumps({"metrics": metrics, "info": info}, default=_builtin))
