"""What a cross-validation row is: an arm (:mod:`seqssl.evaluate.arms`) in a transfer mode and at a share
of the training labels, named ``simclr[probe]@0.1``; which baseline row it is compared with; and which
training rows a label fraction keeps."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def arm_label(arm: str, fraction: float, fractions: list[float], mode: str | None = None,
              modes: Sequence[str | None] = ()) -> str:
    """``simclr``; ``simclr[probe]`` when several transfer modes are compared; ``simclr@0.1`` (or
    ``simclr[probe]@0.1``) when several label fractions are."""
    name = f"{arm}[{mode}]" if mode is not None and len(modes) > 1 else arm
    return name if fractions == [1.0] else f"{name}@{fraction:g}"


def split_label(name: str) -> tuple[str, str | None, str]:
    """``simclr[probe]@0.1`` → (``simclr``, ``probe``, ``0.1``); missing parts are None / ``""``."""
    body, _, fraction = name.partition("@")
    arm, _, mode = body.partition("[")
    return arm, mode.rstrip("]") or None, fraction


def baseline_labels(name: str, base: str, present) -> list[str]:
    """The runs of arm ``base`` that ``name`` is compared with: same label fraction, and the same transfer
    mode when both have modes (``simclr[probe]@0.1`` vs ``none[probe]@0.1``, ``kmer@0.1`` and
    ``kmer[per-value]@0.1``; ``kmer`` vs ``none[probe]`` and ``none[full]``)."""
    _, mode, fraction = split_label(name)
    suffix = f"@{fraction}" if fraction else ""
    moded = [p for p in present if split_label(p)[0] == base and split_label(p)[2] == fraction]
    if f"{base}{suffix}" in present:  # a baseline without transfer modes: its row and its variants (kmer[per-value])
        return moded
    same = [p for p in moded if split_label(p)[1] == mode]
    return same if mode and same else moded  # kmer[per-value]: no baseline row of its mode, so every mode


def label_subset(fit_idx: np.ndarray, labels, fraction: float, seed: int, stratify: bool) -> np.ndarray:
    """A seeded ``fraction`` of the training rows (per class when stratified, at least 2 per class);
    the validation and test rows never change, so every fraction is scored on the same test fold."""
    if fraction >= 1.0:
        return fit_idx
    rng = np.random.default_rng(seed)
    if not stratify:
        take = max(2, int(round(fraction * len(fit_idx))))
        return np.sort(rng.choice(fit_idx, size=min(take, len(fit_idx)), replace=False))
    chosen = []
    for value in np.unique(labels[fit_idx]):
        members = fit_idx[labels[fit_idx] == value]
        take = min(len(members), max(2, int(round(fraction * len(members)))))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))
