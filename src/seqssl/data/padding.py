"""Dynamic padding of a batch of token-id rows (imported by the dataset and the collation modules alike)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .vocab import PAD_ID


def pad_batch(ids: list[np.ndarray], types: list[np.ndarray]) -> dict[str, Any]:
    """Pad to the longest sequence in the batch (not to a global maximum). The values are tensors; callers
    may add nested batches (the positives' ``pair``)."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), PAD_ID, dtype=np.int64)
    token_type_ids = np.zeros((len(ids), width), dtype=np.int64)
    for row, (x, t) in enumerate(zip(ids, types)):
        input_ids[row, : len(x)] = x
        token_type_ids[row, : len(t)] = t
    ids_tensor = torch.from_numpy(input_ids)
    return {"input_ids": ids_tensor, "token_type_ids": torch.from_numpy(token_type_ids),
            "attention_mask": (ids_tensor != PAD_ID).long()}
