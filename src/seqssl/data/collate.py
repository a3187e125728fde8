"""Length-bucketed batching (dynamic padding: :func:`~seqssl.data.padding.pad_batch`, re-exported here)."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .dataset import IGNORE_INDEX, EncodedDataset
from .padding import pad_batch  # noqa: F401  re-exported: the padding of one batch lives in seqssl.data.padding


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                     bucket_batches: int = 50, drop_last: bool = False) -> list[np.ndarray]:
    """Index batches of similar length: shuffle, sort within windows of ``bucket_batches`` batches,
    cut into batches and shuffle the batches (``rng=None``: keep order, for inference)."""
    if batch_size < 1:
        raise InputError(f"batch size {batch_size}: it must be at least 1", fix="pass --batch-size 1 or more")
    n = len(lengths)
    order = np.arange(n) if rng is None else rng.permutation(n)
    window = batch_size * bucket_batches
    batches = []
    for start in range(0, n, window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    if drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def iterate_batches(data: EncodedDataset, batch_size: int, rng: np.random.Generator | None = None,
                    drop_last: bool = False):
    """Yield ``(positions, batch dict)``; labels (``token_labels``, padded with ``IGNORE_INDEX``)
    included when the dataset has them."""
    for positions in bucketed_batches(data.lengths(), batch_size, rng, drop_last=drop_last):
        batch = data.padded(positions)
        if data.labels is not None:
            batch["labels"] = torch.from_numpy(data.labels[positions])
        if data.token_labels is not None:
            batch["token_labels"] = pad_token_labels([data.token_labels[i] for i in positions],
                                                     batch["input_ids"].shape[1])
        yield positions, batch


def pad_token_labels(labels: list[np.ndarray], width: int) -> torch.Tensor:
    out = np.full((len(labels), width), IGNORE_INDEX, dtype=np.int64)
    for row, x in enumerate(labels):
        out[row, : len(x)] = x
    return torch.from_numpy(out)
