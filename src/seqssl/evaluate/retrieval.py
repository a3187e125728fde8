"""Retrieval top-k (seed 002): embed N query–key pairs, rank all N keys by cosine similarity for each
query, and report the fraction of queries whose own key is in the top k (random baseline: k/N). An encoder
pretrained with ``clip`` embeds the query and the key through its two towers (:mod:`seqssl.models.towers`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.dataset import encode_table
from ..data.formats.readers import read_table, require_columns
from ..models.encoder import SEQSSL_META, embed_dataset, load_encoder
from ..models.towers import tower_embeddings
from ..objectives import is_objective, objective_class
from ..runtime import resolve_device


def top_k_accuracy(queries: np.ndarray, keys: np.ndarray, ks: list[int], key_ids=None) -> dict:
    """``{"top_k": fraction}`` where key i is the match of query i; ties count against the query. Two chance
    levels come with it: ``random_top_k`` (k/N, a ranking drawn at random) and ``frequency_top_k``, the best
    ranking that ignores the query (the k keys matched most often first): with a few keys of unequal
    frequency (four peptides), a constant ranking already beats k/N, and so does a random encoder.

    ``key_ids``: identical keys (e.g. the same peptide for many TCRs) are ranked once, as one candidate.
    """
    if key_ids is not None:
        unique, first, match = np.unique(np.asarray(key_ids), return_index=True, return_inverse=True)
        keys = keys[first]
    else:
        match = np.arange(len(keys))
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    k = keys / np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    sims = q @ k.T
    own = sims[np.arange(len(q)), match]
    rank = (sims >= own[:, None]).sum(1) - 1  # candidates scoring at least as high, excluding its own
    n = len(k)
    most_matched = np.sort(np.bincount(match, minlength=n))[::-1].cumsum() / max(len(q), 1)
    return {"n_queries": int(len(q)), "n_candidates": int(n), **{f"top_{x}": float(np.mean(rank < x)) for x in ks},
            **{f"random_top_{x}": min(1.0, x / n) for x in ks},
            **{f"frequency_top_{x}": float(most_matched[min(x, n) - 1]) for x in ks}}


def saved_with_towers(directory) -> bool:
    """Whether a saved encoder's ``seqssl.json`` names an objective that trains two towers (``clip``, alone or in a
    sum), so that its pairs are compared tower to tower."""
    path = Path(directory) / SEQSSL_META
    objective = str(json.loads(path.read_text()).get("objective") or "") if path.exists() else ""
    return bool(objective) and is_objective(objective) and objective_class(objective).two_towers


def evaluate_retrieval(encoder_dir: str, data: str, query_column: str, key_column: str, ks: list[int],
                       device: str = "auto") -> dict:
    encoder, tokenizer = load_encoder(encoder_dir)
    dev = resolve_device(device)
    table = read_table(data)
    require_columns(table, [query_column, key_column])
    max_len = encoder.backbone.config.max_position_embeddings - 2
    if saved_with_towers(encoder_dir):  # clip: each side through its own tower, as it was trained
        queries, keys = tower_embeddings(encoder, encode_table(table, [query_column, key_column], tokenizer, max_len),
                                         dev)
    else:
        queries = embed_dataset(encoder, encode_table(table, [query_column], tokenizer, max_len), dev)
        keys = embed_dataset(encoder, encode_table(table, [key_column], tokenizer, max_len), dev)
    return top_k_accuracy(queries, keys, ks, key_ids=table.frame[key_column].astype(str).str.upper().to_numpy())


def pair_retrieval(encoder, rows: list[tuple], positives: np.ndarray, tokenizer, max_length: int | None,
                   device) -> dict:
    """Top-k retrieval of each test positive's second sequence from its first, by the encoder
    before fine-tuning (pretrained or random); identical keys are one candidate."""
    from ..data.dataset import EncodedDataset

    def encode(column: int) -> EncodedDataset:
        encs = [tokenizer.encode(rows[i][column]) for i in positives]
        return EncodedDataset([e.input_ids[:max_length] for e in encs], [e.token_type_ids[:max_length] for e in encs])
    queries, keys = embed_dataset(encoder, encode(0), device), embed_dataset(encoder, encode(1), device)
    encoder.train()
    return top_k_accuracy(queries, keys, [1, 5, 100], key_ids=[rows[i][1].upper() for i in positives])
