"""Two towers on one encoder, for two-modality contrast (CLIP, Radford et al. 2021) between a receptor and a peptide.

seqssl's towers share one encoder and are told apart by the segment (token type) embedding: a pair row
``[CLS] a [SEP] b [SEP]`` (segments 0 and 1; with more columns, ``[CLS] a [SEP] b [SEP] p [SEP]``) is cut into
the *first tower's* input — every column but the last, with its own segments: ``[CLS] a [SEP]`` — and the
*second tower's* — the last column alone, ``[CLS] p [SEP]``, all of it in the last column's segment. Each tower's
embedding is the encoder's pooled output, with no projection head, so the saved encoder alone scores a pair
(the cosine of its two towers) and any tool that reads the checkpoint can reproduce the score. Sharing one
encoder keeps one checkpoint that also fine-tunes like any other; the segment embedding lets the two sides
differ. The last column is the second tower: the peptide in seqssl's TCR tables (receptor columns first).
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.tokenizers.vocab import CLS_ID, PAD_ID
from ..errors import InputError


def tower_batches(batch: dict) -> tuple[dict, dict]:
    """A padded batch of pair rows cut into the two towers' padded batches (see the module docstring).
    Rows with fewer segments than the batch's widest give an empty second tower (``[CLS]`` alone)."""
    ids, types, mask = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"].bool()
    last = int(types.masked_fill(~mask, 0).max()) if ids.numel() else 0
    if last == 0:
        raise InputError("two towers need pairs: every row holds one sequence",
                         fix="pretrain clip on two or more columns (--columns cdr3_b_aa,peptide)")
    first_part = mask & (types < last)
    first_len = first_part.sum(1)
    second_len = (mask & (types == last)).sum(1)
    width_a = int(first_len.max())
    first = {"input_ids": ids[:, :width_a].masked_fill(~first_part[:, :width_a], PAD_ID),
             "token_type_ids": types[:, :width_a].masked_fill(~first_part[:, :width_a], 0),
             "attention_mask": first_part[:, :width_a].long()}
    width_b = int(second_len.max()) + 1  # [CLS] + the last column and its [SEP]
    offsets = torch.arange(width_b, device=ids.device) - 1  # position 0 is the new [CLS]
    source = (first_len.unsqueeze(1) + offsets).clamp(0, ids.shape[1] - 1)
    filled = offsets.unsqueeze(0) < second_len.unsqueeze(1)  # real tokens of the last column (and [CLS])
    second_ids = ids.gather(1, source).masked_fill(~filled, PAD_ID)
    second_ids[:, 0] = CLS_ID
    second_mask = filled.clone()
    second_mask[:, 0] = True
    second = {"input_ids": second_ids, "token_type_ids": torch.full_like(second_ids, last).masked_fill(~second_mask, 0),
              "attention_mask": second_mask.long()}
    return first, second


def same_rows(input_ids: torch.Tensor) -> torch.Tensor:
    """``[i, j]`` True when rows i and j hold the same tokens (padding included, so the same sequence)."""
    return (input_ids.unsqueeze(1) == input_ids.unsqueeze(0)).all(-1)


def tower_embeddings(encoder, data, device, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Pooled embeddings of both towers for every pair of ``data`` (an
    :class:`~seqssl.data.dataset.EncodedDataset` of pair rows), in its order: ``(first, second)``; the encoder is
    left in the train or eval mode it was in."""
    was_training = encoder.training
    encoder.eval()
    firsts: list[torch.Tensor] = []
    seconds: list[torch.Tensor] = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = data.padded(range(start, min(start + batch_size, len(data))))
            for part, out in zip(tower_batches(batch), (firsts, seconds)):
                part = {k: v.to(device) for k, v in part.items()}
                out.append(encoder(part["input_ids"], part["attention_mask"], part["token_type_ids"]).float().cpu())
    encoder.train(was_training)
    return torch.cat(firsts).numpy(), torch.cat(seconds).numpy()


def pair_cosine(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise cosine of the two towers' embeddings: the zero-shot score of each pair."""
    a = first / np.maximum(np.linalg.norm(first, axis=1, keepdims=True), 1e-12)
    b = second / np.maximum(np.linalg.norm(second, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(1)
