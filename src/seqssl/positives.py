"""Where contrastive positives come from, as batches: augmentations of one sequence, sequences that
share a label (P×K batches), neighbouring chunks of one long sequence (seed 002), or two randomised
SMILES of one molecule."""
from __future__ import annotations

import numpy as np
import torch

from .config import CHOICES
from .data.collate import iterate_batches
from .data.dataset import EncodedDataset
from .data.padding import pad_batch
from .data.tokenizers.vocab import CLS_ID, SEP_ID, UNK_ID
from .errors import InputError

POSITIVES = CHOICES["pretrain.positives"]  # the list lives in seqssl.config.CHOICES


def label_batches(groups: np.ndarray, per_label: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """P×K batches: P = ``batch_size // per_label`` labels (every label, when there are fewer), K = ``per_label``
    members of each. Unlabelled entries (-1) and labels with one member are never drawn.

    An epoch covers every other entry. Each label's members are shuffled and cut into chunks of K, drawn
    without replacement until the label is exhausted; a label's last, short chunk is topped up to K with other
    members of the label drawn at random (so those few entries appear twice in the epoch, never twice in a
    batch), and a label with fewer than K members is one chunk of all of them. Each batch takes a chunk from
    each of the P labels with the most chunks left (ties at random); once fewer than P labels have chunks left,
    the batch is completed with K members drawn at random from as many other labels. So every batch holds P
    distinct labels, K members each (all of a label's members when it has fewer), and an epoch has
    ``max(most chunks of one label, ⌈all chunks / P⌉)`` batches: a number set by the label sizes, not by ``rng``."""
    members = {g: rng.permutation(np.flatnonzero(groups == g)) for g in np.unique(groups[groups >= 0])}
    members = {g: m for g, m in members.items() if len(m) >= 2}
    n_labels = batch_size // per_label
    if len(members) < 2 or n_labels < 2:
        raise InputError(f"label positives need at least 2 labels with 2+ members and batch_size ≥ 2×{per_label}",
                         fix="pass a labelled corpus (--pretrain-label-column) or raise --batch-size")
    labels = list(members)
    chunks: list[list[np.ndarray]] = []
    for g in labels:
        m = members[g]
        own = [m[i:i + per_label] for i in range(0, len(m), per_label)]
        short = per_label - len(own[-1])
        if short and len(m) > per_label:  # top the last chunk up with other members of the label
            others = np.setdiff1d(m, own[-1])
            own[-1] = np.concatenate([own[-1], rng.choice(others, short, replace=False)])
        chunks.append(own[::-1])  # popped from the end: the shuffled order
    p = min(n_labels, len(labels))
    left = np.array([len(c) for c in chunks])
    batches = []
    while left.any():
        key = left + rng.random(len(labels))  # most chunks left first (counts are whole), ties at random
        batch = []
        for j in np.argpartition(-key, p - 1)[:p]:
            if left[j]:
                batch.append(chunks[j].pop())
                left[j] -= 1
            else:  # this label is exhausted: a fresh draw of its members completes the batch
                batch.append(rng.choice(members[labels[j]], min(per_label, len(members[labels[j]])), replace=False))
        batches.append(np.concatenate(batch))
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


SENTENCE_ENDS = (".", "!", "?")


def sentence_end_table(tokenizer) -> np.ndarray:
    """Per token id: whether the token ends a sentence (its text ends in ``.``, ``!`` or ``?``). Sentences are a
    text notion: only a text (BPE) tokenizer has them."""
    from .data.tokenizers.bpe import BPETokenizer
    if not isinstance(tokenizer, BPETokenizer):
        raise InputError("pretrain.chunk_unit sentences needs text (--alphabet text)",
                         fix="use --chunk-unit tokens for sequences")
    return np.array([tokenizer.decode([i]).rstrip().endswith(SENTENCE_ENDS) for i in range(tokenizer.vocab_size)],
                    dtype=bool)  # (special tokens decode to "")


def sentence_chunks(ids: np.ndarray, ends: np.ndarray, sentences: int, min_sep: int, max_sep: int,
                    rng: np.random.Generator, max_tokens: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Two passages of ``sentences`` whole sentences each whose first sentences are ``min_sep``..``max_sep``
    sentences apart (:func:`neighbour_chunks` on the sentence index), cut to ``max_tokens`` tokens."""
    cuts = np.flatnonzero(ends[ids]) + 1
    bounds = np.unique(np.concatenate([[0], cuts, [len(ids)]]))
    first, second = neighbour_chunks(np.arange(len(bounds) - 1), sentences, min_sep, max_sep, rng)

    def passage(which: np.ndarray) -> np.ndarray:
        return ids[bounds[which[0]]:bounds[which[-1] + 1]][:max_tokens]
    return passage(first), passage(second)


def row_ids(data, positions: np.ndarray) -> list[np.ndarray]:
    """The token ids (specials included) of the rows at ``positions``, from memory or from a streamed corpus."""
    if hasattr(data, "input_ids"):
        return [data.input_ids[i] for i in positions]
    padded = data.padded(positions)["input_ids"].numpy()
    return [row[:n] for row, n in zip(padded, data.lengths()[positions])]


def neighbour_batches(data, cfg, rng: np.random.Generator, drop_last: bool, tokenizer=None,
                      max_length: int | None = None):
    """Seed 002's positives: two neighbouring passages of one document, in ``cfg.chunk_unit`` (``tokens``:
    ``chunk_length`` tokens; ``sentences``: ``chunk_length`` whole sentences, cut to ``max_length``). Reads rows
    in memory or from a streamed corpus (``--stream``), a batch at a time."""
    sentences = getattr(cfg, "chunk_unit", "tokens") == "sentences"
    ends = sentence_end_table(tokenizer) if sentences else None
    cap = None if max_length is None else max_length - 2
    low, high = chunk_separations(cfg)
    order = rng.permutation(len(data))
    stop = len(order) - (len(order) % cfg.batch_size if drop_last else 0)
    for start in range(0, stop, cfg.batch_size):
        firsts, seconds = [], []
        for ids in row_ids(data, order[start:start + cfg.batch_size]):
            residues = ids[1:-1]
            a, b = (sentence_chunks(residues, ends, cfg.chunk_length, low, high, rng, cap) if ends is not None else
                    neighbour_chunks(residues, cfg.chunk_length, low, high, rng))
            firsts.append(_wrap(a))
            seconds.append(_wrap(b))
        batch = pad_batch([x for x, _ in firsts], [t for _, t in firsts])
        batch["pair"] = pad_batch([x for x, _ in seconds], [t for _, t in seconds])
        yield batch


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
    from .augment import randomized_smiles
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
    from .data.tokenizers.smiles import SmilesTokenizer
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


def with_negatives(batch: dict, negatives: EncodedDataset | None, positions) -> dict:
    """``batch`` with ``batch["negative"]``: the explicit negative of each of its rows, padded (when there are)."""
    if negatives is not None:
        batch["negative"] = negatives.padded(positions)
    return batch


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
    negatives = getattr(data, "negatives", None)  # explicit negatives (--negative-column), in memory only
    if negatives is not None and mode not in ("augment", "label"):
        raise InputError(f"explicit negatives (--negative-column) go with positives augment or label, not {mode}",
                         fix="drop --negative-column, or use --positives augment")
    if mode == "augment":
        for positions, batch in iterate_batches(data, cfg.batch_size, rng, drop_last=drop_last, max_tokens=max_tokens,
                                                row_multiple=row_multiple):
            yield with_negatives(batch, negatives, positions)
    elif mode == "label":
        if groups is None:
            raise InputError("pretrain.positives=label needs a labelled corpus", fix="set --pretrain-label-column")
        for positions in label_batches(groups, cfg.per_label, cfg.batch_size, rng):
            batch = _pad(data, positions)
            batch["group"] = torch.from_numpy(groups[positions])
            batch["pair"] = _pad(data, positions[partner_within_label(groups[positions])])
            yield with_negatives(batch, negatives, positions)
    elif mode == "neighbours":
        yield from neighbour_batches(data, cfg, rng, drop_last, tokenizer, max_length)
    elif mode == "smiles":
        yield from smiles_batches(data, cfg, rng, tokenizer, max_length, drop_last)
    else:
        raise InputError(f"unknown positives '{mode}'", fix=f"use one of {', '.join(POSITIVES)}")
