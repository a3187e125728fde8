"""How long a model's inputs may be when no one says: a loaded encoder's own maximum, else the data's longest
input within a floor and a cap (``model.max_length: null``, the default)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .config import ModelConfig

MAX_LENGTH_CAP = 1024  # the longest input (tokens) a model sized from its data gets, as ESM-2's 1,024 residues


def length_limit(model: ModelConfig) -> int:
    """The most tokens an input may have while reading data: ``model.max_length``, or the cap when the
    length is still to be sized from the data."""
    return model.max_length or MAX_LENGTH_CAP


MAX_LENGTH_FLOOR = 64  # ... and at least this many, so an encoder pretrained on CDR3s still reads pairs


def size_to_data(model: ModelConfig, *lengths) -> int:
    """Set ``model.max_length`` (when unset) to the longest of the given token lengths, within
    [``MAX_LENGTH_FLOOR``, ``MAX_LENGTH_CAP``]; return it."""
    if model.max_length is None:
        longest = max((int(np.max(x)) for x in lengths if len(x)), default=MAX_LENGTH_FLOOR)
        model.max_length = max(MAX_LENGTH_FLOOR, min(longest, MAX_LENGTH_CAP))
    return model.max_length
