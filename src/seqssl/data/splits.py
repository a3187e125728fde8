"""Cross-validation folds and validation splits (random, stratified, grouped), via scikit-learn."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from ..errors import InputError

SPLITS = ("random", "stratified", "grouped")


def default_split(task: str, has_groups: bool) -> str:
    if has_groups:
        return "grouped"
    return "stratified" if task in ("classification", "pair-classification") else "random"


def make_folds(n_folds: int, labels: np.ndarray, groups: np.ndarray | None, split: str, seed: int,
               stratify: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index pairs. ``grouped``: no group on both sides, stratified by label
    when ``stratify`` (``StratifiedGroupKFold``)."""
    if split not in SPLITS:
        raise InputError(f"unknown split '{split}'", fix=f"use one of {', '.join(SPLITS)}")
    if n_folds < 2:
        raise InputError(f"--folds must be at least 2, got {n_folds}")
    index = np.zeros(len(labels))
    if stratify and split in ("grouped", "stratified"):
        values, counts = np.unique(labels, return_counts=True)
        if counts.min() < n_folds:
            raise InputError(f"only {counts.min()} examples of class {values[counts.argmin()]:g} for "
                             f"{n_folds} stratified folds", fix="add data or lower --folds")
    if split == "grouped":
        if groups is None:
            raise InputError("--split grouped needs --group-column")
        if len(np.unique(groups)) < n_folds:
            raise InputError(f"{len(np.unique(groups))} groups is fewer than {n_folds} folds",
                             fix="lower --folds or choose another --group-column")
        splitter = (StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed) if stratify
                    else GroupKFold(n_folds, shuffle=True, random_state=seed))
        return [(tr, te) for tr, te in splitter.split(index, labels if stratify else None, groups)]
    if split == "stratified":
        if not stratify:
            raise InputError("--split stratified needs a classification task", fix="use --split random")
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(index, labels))
    return list(KFold(n_folds, shuffle=True, random_state=seed).split(index))


def carve_validation(train: np.ndarray, labels: np.ndarray, groups: np.ndarray | None, fraction: float,
                     seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices into (fit, validation) the same way the folds were made."""
    if not 0 < fraction < 0.5:
        raise InputError(f"finetune.val_fraction must be in (0, 0.5), got {fraction}")
    n_parts = max(2, int(round(1 / fraction)))
    if stratify:  # small folds: fewer, larger parts so each holds both classes
        n_parts = max(2, min(n_parts, int(np.unique(labels[train], return_counts=True)[1].min())))
    sub_groups = None if groups is None else groups[train]
    folds = make_folds(n_parts, labels[train], sub_groups, "grouped" if groups is not None else
                       ("stratified" if stratify else "random"), seed, stratify)
    fit, val = folds[0]
    return train[fit], train[val]
