"""Dynamic padding of a batch of token-id rows (imported by the dataset and the collation modules alike)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .tokenizers.vocab import PAD_ID


def pad_batch(ids: list[np.ndarray], types: list[np.ndarray]) -> dict[str, Any]:
    """Pad to the longest sequence in the batch (not to a global maximum). The values are tensors; callers
    may add nested batches (the positives' ``pair``)."""
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max())
    input_ids = np.full((len(ids), width), PAD_ID, dtype=np.int64)
    token_type_ids = np.zeros((len(ids), width), dtype=np.int64)
    filled = np.arange(width) < lengths[:, None]  # one scatter per array, not a Python step per row
    input_ids[filled] = np.concatenate(ids)
    type_lengths = np.fromiter(map(len, types), dtype=np.int64, count=len(types))
    if np.array_equal(type_lengths, lengths):
        token_type_ids[filled] = np.concatenate(types)
    else:  # token types shorter than their ids (padded with segment 0)
        for row, t in enumerate(types):
            token_type_ids[row, : len(t)] = t
    ids_tensor = torch.from_numpy(input_ids)
    return {"input_ids": ids_tensor, "token_type_ids": torch.from_numpy(token_type_ids),
            "attention_mask": (ids_tensor != PAD_ID).long()}
