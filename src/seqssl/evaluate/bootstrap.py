"""The paired bootstrap of a single fixed train/test split (``--split column``): with one "fold" there is no
spread over folds, so each row's test metrics are recomputed on B resamples of the test examples, the same
resamples for every row (:func:`seqssl.evaluate.stats.bootstrap_replicates`), and the differences are judged
by :func:`seqssl.evaluate.stats.bootstrap_difference`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import N_BOOT, bootstrap_replicates


def example_frames(predictions) -> dict[str, pd.DataFrame] | None:
    """Per row of the table, its prediction rows indexed by data row, on the test rows every arm predicted
    (in the same order). ``None`` when the task writes several prediction rows per example (per residue,
    per target): its metrics cannot be recomputed from one score per example."""
    frame = pd.concat(predictions) if isinstance(predictions, list) else predictions
    if frame is None or not len(frame) or frame.duplicated(["arm", "row"]).any():
        return None
    per_arm = {arm: sub.set_index("row") for arm, sub in frame.groupby("arm", sort=False)}
    rows = sorted(set.intersection(*(set(sub.index) for sub in per_arm.values())))
    return {arm: sub.loc[rows] for arm, sub in per_arm.items()}


def arm_replicates(frames: dict[str, pd.DataFrame], metrics_of, negative_types=None, n_boot: int = N_BOOT,
                   seed: int = 0) -> dict[str, list[dict]]:
    """Per row, ``metrics_of(y_true, y_score, types)`` (a dict of metrics, as in each fold's record) on each
    of ``n_boot`` resamples of the test examples; ``types``: the negative type of each example, or None."""
    return {arm: _replicates(sub, metrics_of, negative_types, n_boot, seed) for arm, sub in frames.items()}


def _replicates(sub: pd.DataFrame, metrics_of, negative_types, n_boot: int, seed: int) -> list[dict]:
    y, s = sub["y_true"].to_numpy(), sub["y_score"].to_numpy()
    types = None if negative_types is None else np.asarray(negative_types)[sub.index.to_numpy()]
    return bootstrap_replicates(lambda i: metrics_of(y[i], s[i], None if types is None else types[i]),
                                len(y), n_boot, seed)
