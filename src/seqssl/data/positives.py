"""Where contrastive positives come from, as batches: augmentations of one sequence, sequences that
share a label (P×K batches), neighbouring chunks of one long sequence (seed 002), or two randomised
SMILES of one molecule."""
from __future__ import annotations

import numpy as np
import torch

from ..config import CHOICES
from ..errors import InputError
from .collate import iterate_batches
from .dataset import EncodedDataset
from .padding import pad_batch
from .vocab import CLS_ID, SEP_ID, UNK_ID

POSITIVES = CHOICES["pretrain.positives"]  # the list lives in seqssl.config.CHOICES


def label_batches(groups: np.ndarray, per_label: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """P×K batches: ``batch_size // per_label`` labels, ``per_label`` members each, drawn without
    replacement within an epoch; unlabelled entries (-1) and labels with one member are skipped."""
    members = {g: rng.permutation(np.flatnonzero(groups == g)) for g in np.unique(groups[groups >= 0])}
    members = {g: m for g, m in members.items() if len(m) >= 2}
    n_labels = batch_size // per_label
    if len(members) < 2 or n_labels < 2:
        raise InputError(f"label positives need at least 2 labels with 2+ members and batch_size ≥ 2×{per_label}",
                         fix="pass a labelled corpus (--pretrain-label-column) or raise --batch-size")
    chunks = [(g, m[i:i + per_label]) for g, m in members.items() for i in range(0, len(m) - 1, per_label)]
    chunks = [(g, c) for g, c in chunks if len(c) >= 2]
    order = rng.permutation(len(chunks))
    batches, current, used = [], [], set()
    for j in order:
        g, c = chunks[j]
        if g in used:
            continue
        current.append(c)
        used.add(g)
        if len(current) == min(n_labels, len(members)):
            batches.append(np.concatenate(current))
            current, used = [], set()
    return batches


def _pad(data: EncodedDataset, positions) -> dict:
    return pad_batch([data.input_ids[i] for i in positions], [data.token_type_ids[i] for i in positions])


def partner_within_label(groups: np.ndarray) -> np.ndarray:
    """For each position, another position with the same label (the next one, cyclically)."""
    partner = np.arange(len(groups))
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        partner[idx] = np.roll(idx, -1)
    return partner


def neighbour_chunks(sequence: np.ndarray, length: int, min_sep: int, max_sep: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two chunks of ``length`` tokens whose starts are ``min_sep``..``max_sep`` apart, in random order
    (as near as the sequence allows: a short one gives two halves). With ``min_sep >= length`` the two
    chunks never overlap, so a positive pair is two different passages, not one passage twice."""
    n = len(sequence)
    length = min(length, max(1, n // 2))
    span = n - length  # the largest start
    seps = [s for s in range(min_sep, max_sep + 1) if s <= span] or [min(max(min_sep, length), span)]
    sep = int(rng.choice(seps))
    start = int(rng.integers(0, span - sep + 1))
    first, second = (start, start + sep) if rng.random() < 0.5 else (start + sep, start)
    return sequence[first:first + length], sequence[second:second + length]


def chunk_separations(cfg) -> tuple[int, int]:
    """``(min, max)`` distance between the starts of two neighbouring chunks: by default at least one chunk
    apart (disjoint) and at most two."""
    low = cfg.chunk_length if cfg.min_separation is None else cfg.min_separation
    high = 2 * cfg.chunk_length if cfg.max_separation is None else cfg.max_separation
    return low, max(low, high)


def _wrap(residues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.concatenate([[CLS_ID], residues, [SEP_ID]]).astype(np.int64)
    return ids, np.zeros_like(ids)


def smiles_view(ids: np.ndarray, tokenizer, rng: np.random.Generator, max_length: int | None) -> np.ndarray:
    """``[CLS] s' [SEP]``: ``s'`` a randomised SMILES of the first segment of ``ids`` (decoded with
    ``tokenizer``). The original ids come back when they hold ``[UNK]``, or when the new SMILES does not
    fit in ``max_length`` tokens or holds a token the tokenizer refuses."""
    from ..augment import randomized_smiles
    end = int(np.flatnonzero(ids == SEP_ID)[0]) if (ids == SEP_ID).any() else len(ids)
    first = ids[1:end]
    if (first == UNK_ID).any():
        return _wrap(first)[0]
    try:
        view = tokenizer.encode(randomized_smiles(tokenizer.decode(first), rng)).input_ids
    except InputError:
        return _wrap(first)[0]
    return view if max_length is None or len(view) <= max_length else _wrap(first)[0]


def smiles_batches(data: EncodedDataset, cfg, rng: np.random.Generator, tokenizer, max_length: int | None,
                   drop_last: bool):
    """Batches of randomised SMILES whose ``pair`` holds another randomisation of each molecule."""
    from .smiles import SmilesTokenizer
    if not isinstance(tokenizer, SmilesTokenizer):
        raise InputError("pretrain.positives=smiles needs SMILES input", fix="pass --alphabet smiles")
    order = rng.permutation(len(data))
    stop = len(order) - (len(order) % cfg.batch_size if drop_last else 0)
    for start in range(0, stop, cfg.batch_size):
        firsts, seconds = [], []
        for i in order[start:start + cfg.batch_size]:
            firsts.append(smiles_view(data.input_ids[i], tokenizer, rng, max_length))
            seconds.append(smiles_view(data.input_ids[i], tokenizer, rng, max_length))
        batch = pad_batch(firsts, [np.zeros_like(x) for x in firsts])
        batch["pair"] = pad_batch(seconds, [np.zeros_like(x) for x in seconds])
        yield batch


def pretraining_batches(data: EncodedDataset, cfg, rng: np.random.Generator, groups: np.ndarray | None = None,
                        drop_last: bool = False, tokenizer=None, max_length: int | None = None,
                        row_multiple: int = 1):
    """Yield batch dicts for one epoch, with ``group`` and ``pair`` when the positives need them
    (``tokenizer`` and ``max_length``, tokens with specials: for ``smiles`` positives). ``pretrain.max_tokens``
    bounds batches by padded tokens (augment positives; ``row_multiple``: rows a multiple of the processes)."""
    mode = getattr(cfg, "positives", "augment")
    max_tokens = getattr(cfg, "max_tokens", None)
    if max_tokens and mode != "augment":
        raise InputError(f"pretrain.max_tokens bounds batches of single sequences; positives={mode} builds its "
                         "batches its own way", fix="drop --max-tokens, or use positives=augment")
    if mode == "augment":
        for _, batch in iterate_batches(data, cfg.batch_size, rng, drop_last=drop_last, max_tokens=max_tokens,
                                        row_multiple=row_multiple):
            yield batch
    elif mode == "label":
        if groups is None:
            raise InputError("pretrain.positives=label needs a labelled corpus", fix="set --pretrain-label-column")
        for positions in label_batches(groups, cfg.per_label, cfg.batch_size, rng):
            batch = _pad(data, positions)
            batch["group"] = torch.from_numpy(groups[positions])
            batch["pair"] = _pad(data, positions[partner_within_label(groups[positions])])
            yield batch
    elif mode == "neighbours":
        order = rng.permutation(len(data))
        stop = len(order) - (len(order) % cfg.batch_size if drop_last else 0)
        for start in range(0, stop, cfg.batch_size):
            firsts, seconds = [], []
            low, high = chunk_separations(cfg)
            for i in order[start:start + cfg.batch_size]:
                a, b = neighbour_chunks(data.input_ids[i][1:-1], cfg.chunk_length, low, high, rng)
                firsts.append(_wrap(a))
                seconds.append(_wrap(b))
            batch = pad_batch([x for x, _ in firsts], [t for _, t in firsts])
            batch["pair"] = pad_batch([x for x, _ in seconds], [t for _, t in seconds])
            yield batch
    elif mode == "smiles":
        yield from smiles_batches(data, cfg, rng, tokenizer, max_length, drop_last)
    else:
        raise InputError(f"unknown positives '{mode}'", fix=f"use one of {', '.join(POSITIVES)}")
