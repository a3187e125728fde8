"""Finished (fold, arm) results of a cross-validation, kept on disk as they complete.

A killed ``seqssl crossval`` loses at most the arm it was running: ``--resume`` reloads every finished
part (metrics + run details as JSON, predictions as Parquet, each written atomically) and continues a
pretraining that was cut off from its last checkpoint. Resuming under a different configuration is
refused, except for how the run is executed (:data:`seqssl.resume.MAY_CHANGE_ON_RESUME`: adding an arm to a
finished run computes only the new arm; a GPU run may be finished on a CPU, its parts then differing from an
uninterrupted run's by device arithmetic).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write_text
from ..resume import check_resume


def _builtin(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")


class PartStore:
    """``DIR/parts/fold_K/ARM.json`` + ``ARM.parquet`` per finished (fold, arm)."""

    def __init__(self, out: Path, config: dict, resume: bool):
        self.root = out / "parts"
        if resume:
            check_resume(out / "config.yaml", config)
        elif self.root.exists():
            shutil.rmtree(self.root)  # a fresh run never mixes in parts of an earlier one
        # the parts an earlier session finished (their seconds count towards the run's wall time)
        # (rglob: a row of an arm named with a slash, sceptr/b_sceptr, lies one folder deeper)
        self.earlier = ({p.relative_to(self.root) for f in self.root.glob("fold_*") for p in f.rglob("*.json")}
                        if resume else set())

    def from_earlier_session(self, fold: int, arm: str) -> bool:
        return self._paths(fold, arm)[0].relative_to(self.root) in self.earlier

    def _paths(self, fold: int, arm: str) -> tuple[Path, Path]:
        folder = self.root / f"fold_{fold}"
        return folder / f"{arm}.json", folder / f"{arm}.parquet"

    def has(self, fold: int, arm: str) -> bool:
        """Whether the row ``arm`` of ``fold`` is finished (its JSON, written last, exists)."""
        meta_path, pred_path = self._paths(fold, arm)
        return meta_path.exists() and pred_path.exists()

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
