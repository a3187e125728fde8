"""Length-bucketed batching (dynamic padding: :func:`~seqssl.data.padding.pad_batch`, re-exported here)."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .dataset import IGNORE_INDEX, EncodedDataset
from .padding import pad_batch  # noqa: F401  re-exported: the padding of one batch lives in seqssl.data.padding


def epoch_order(n: int, rng: np.random.Generator | None) -> np.ndarray:
    """The rows of an epoch in order (``rng=None``) or shuffled: int32 when they fit, so that an epoch over millions
    of streamed rows holds half the memory (``Generator.permutation`` draws the same order for either type)."""
    rows = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    return rows if rng is None else rng.permutation(rows)


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                     bucket_batches: int = 50, drop_last: bool = False) -> list[np.ndarray]:
    """Index batches of similar length: shuffle, sort within windows of ``bucket_batches`` batches,
    cut into batches and shuffle the batches (``rng=None``: keep order, for inference)."""
    if batch_size < 1:
        raise InputError(f"batch size {batch_size}: it must be at least 1", fix="pass --batch-size 1 or more")
    n = len(lengths)
    order = epoch_order(n, rng)
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


def token_batches(lengths: np.ndarray, max_tokens: int, max_rows: int, rng: np.random.Generator | None,
                  bucket_batches: int = 50, drop_last: bool = False, row_multiple: int = 1) -> list[np.ndarray]:
    """Index batches of similar length bounded by tokens: each holds at most ``max_tokens`` padded tokens
    (rows × its longest row) and at most ``max_rows`` rows, so a batch of long proteins has few rows and a
    batch of short ones many.

    Shuffle, sort within windows of about ``bucket_batches`` batches (rows per batch estimated from the mean
    length), cut each window greedily into the largest batches within the bounds, and shuffle the batches:
    a pure function of ``lengths`` and the state of ``rng`` (``None``: keep order), so a resumed epoch replays
    the same batches. Every example is in exactly one batch, except: with ``drop_last``, the batches that end
    a window short (ones that could still have taken the window's next row, had there been one) are dropped,
    so that contrastive objectives see full batches only; with ``row_multiple`` > 1 (processes under
    ``torchrun``), a batch's rows are a multiple of it and the last rows of a window that make no full
    multiple (fewer than ``row_multiple``) are left out of the epoch."""
    if max_rows < 1:
        raise InputError(f"batch size {max_rows}: it must be at least 1", fix="pass --batch-size 1 or more")
    n = len(lengths)
    if n == 0:
        return []
    longest = int(lengths.max())
    if row_multiple * longest > max_tokens:
        need = f"{row_multiple} rows of" if row_multiple > 1 else "one row of"
        raise InputError(f"pretrain.max_tokens {max_tokens} is below {need} the longest input ({longest} tokens)",
                         fix=f"raise --max-tokens to at least {row_multiple * longest}")
    per_batch = max(1, min(max_rows, int(max_tokens // max(float(lengths.mean()), 1.0))))
    window = per_batch * bucket_batches
    order = epoch_order(n, rng)
    batches = []
    for start in range(0, n, window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        widths = lengths[chunk]
        i = 0
        while i < len(chunk):
            span = min(max_rows, len(chunk) - i)
            # rows 1..span, each padded to the longest so far (the window is sorted: the last row)
            fits = np.arange(1, span + 1) * widths[i:i + span] <= max_tokens
            rows = int(np.argmin(fits)) if not fits.all() else span
            full = rows == max_rows or i + rows < len(chunk)  # stopped by a bound, not by the window's end
            rows -= rows % row_multiple
            if rows == 0:  # fewer than row_multiple rows left in the window
                break
            if full or not drop_last:
                batches.append(chunk[i:i + rows])
            i += rows
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def iterate_batches(data: EncodedDataset, batch_size: int, rng: np.random.Generator | None = None,
                    drop_last: bool = False, max_tokens: int | None = None, row_multiple: int = 1,
                    extras: dict[str, np.ndarray] | None = None):
    """Yield ``(positions, batch dict)``; labels (``token_labels``, padded with ``IGNORE_INDEX``)
    included when the dataset has them, and each of ``extras`` (one value per example) at its key. With
    ``max_tokens``, batches are bounded by padded tokens and ``batch_size`` caps their rows (:func:`token_batches`)."""
    if max_tokens:
        cut = token_batches(data.lengths(), max_tokens, batch_size, rng, drop_last=drop_last, row_multiple=row_multiple)
    else:
        cut = bucketed_batches(data.lengths(), batch_size, rng, drop_last=drop_last)
    for positions in cut:
        batch = data.padded(positions)
        labels = data.labels_at(positions)
        if labels is not None:
            batch["labels"] = torch.from_numpy(labels)
        if data.token_labels is not None:
            batch["token_labels"] = pad_token_labels([data.token_labels[i] for i in positions],
                                                     batch["input_ids"].shape[1])
        for key, values in (extras or {}).items():
            batch[key] = torch.from_numpy(values[positions])
        yield positions, batch


def pad_token_labels(labels: list[np.ndarray], width: int) -> torch.Tensor:
    out = np.full((len(labels), width), IGNORE_INDEX, dtype=np.int64)
    for row, x in enumerate(labels):
        out[row, : len(x)] = x
    return torch.from_numpy(out)
