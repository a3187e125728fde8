"""Metrics over time for experiment trackers: TensorBoard event files and MLflow (local file store).

The CSV histories are always written by the commands themselves; ``--tracking tensorboard,mlflow`` adds
these. Both are optional dependencies (``pip install seqssl[tracking]``); asking for one that is not
installed is an :class:`InputError` before any work starts.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import InputError

TRACKERS = ("tensorboard", "mlflow")


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flat(value, name + ".")
        else:
            out[name] = value
    return out


class Tracker:
    """Scalars to every requested backend. TensorBoard: ``OUT/tensorboard``; MLflow: a run in the file
    store ``OUT/mlruns`` (``mlflow ui --backend-store-uri OUT/mlruns``), with the config as parameters."""

    def __init__(self, out: Path, kinds: list[str], run_name: str, config: dict):
        unknown = sorted(set(kinds) - set(TRACKERS))
        if unknown:
            raise InputError(f"unknown tracking backend {unknown[0]!r}", fix=f"use {', '.join(TRACKERS)}")
        self.tensorboard = self.mlflow = None
        if "tensorboard" in kinds:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise InputError("--tracking tensorboard needs the tensorboard package",
                                 fix="pip install 'seqssl[tracking]'") from None
            self.tensorboard = SummaryWriter(log_dir=str(out / "tensorboard"))
        if "mlflow" in kinds:
            try:
                import mlflow
            except ImportError:
                raise InputError("--tracking mlflow needs the mlflow package",
                                 fix="pip install 'seqssl[tracking]'") from None
            # the file store needs no database server; MLflow ≥ 3.7 keeps it behind this switch
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            self.mlflow = mlflow.tracking.MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())
            experiment = self.mlflow.get_experiment_by_name("seqssl")
            experiment_id = experiment.experiment_id if experiment else self.mlflow.create_experiment("seqssl")
            self.mlflow_run = self.mlflow.create_run(experiment_id, run_name=run_name).info.run_id
            for key, value in _flat(config).items():
                self.mlflow.log_param(self.mlflow_run, key, str(value)[:500])

    def log(self, record: dict, step: int, prefix: str = "") -> None:
        scalars = {f"{prefix}{k}": float(v) for k, v in record.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"
                   and math.isfinite(float(v))}
        if self.tensorboard is not None:
            for key, value in scalars.items():
                self.tensorboard.add_scalar(key, value, step)
        if self.mlflow is not None:
            for key, value in scalars.items():
                self.mlflow.log_metric(self.mlflow_run, key.replace("@", "_at_"), value, step=step)

    def close(self, final: dict | None = None) -> None:
        if final:
            self.log(final, 0, prefix="final/")
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.mlflow is not None:
            self.mlflow.set_terminated(self.mlflow_run)
