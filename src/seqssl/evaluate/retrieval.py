"""Retrieval top-k (seed 002): embed N query–key pairs, rank all N keys by cosine similarity for each
query, and report the fraction of queries whose own key is in the top k (random baseline: k/N)."""
from __future__ import annotations

import numpy as np

from ..data.dataset import encode_table
from ..data.readers import read_table, require_columns
from ..models.encoder import embed_dataset, load_encoder
from ..runtime import resolve_device


def top_k_accuracy(queries: np.ndarray, keys: np.ndarray, ks: list[int], key_ids=None) -> dict:
    """``{"top_k": fraction}`` where key i is the match of query i; ties count against the query.

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
    return {"n_queries": int(len(q)), "n_candidates": int(n), **{f"top_{x}": float(np.mean(rank < x)) for x in ks},
            **{f"random_top_{x}": min(1.0, x / n) for x in ks}}


def evaluate_retrieval(encoder_dir: str, data: str, query_column: str, key_column: str, ks: list[int],
                       device: str = "auto") -> dict:
    encoder, tokenizer = load_encoder(encoder_dir)
    dev = resolve_device(device)
    table = read_table(data)
    require_columns(table, [query_column, key_column])
    max_len = encoder.backbone.config.max_position_embeddings - 2
    queries = embed_dataset(encoder, encode_table(table, [query_column], tokenizer, max_len), dev)
    keys = embed_dataset(encoder, encode_table(table, [key_column], tokenizer, max_len), dev)
    return top_k_accuracy(queries, keys, ks, key_ids=table.frame[key_column].astype(str).str.upper().to_numpy())


def pair_retrieval(encoder, rows: list[tuple], positives: np.ndarray, tokenizer, max_length: int, device) -> dict:
    """Top-k retrieval of each test positive's second sequence from its first, by the encoder
    before fine-tuning (pretrained or random); identical keys are one candidate."""
    from ..data.dataset import EncodedDataset

    def encode(column: int) -> EncodedDataset:
        encs = [tokenizer.encode(rows[i][column]) for i in positives]
        return EncodedDataset([e.input_ids[:max_length] for e in encs], [e.token_type_ids[:max_length] for e in encs])
    queries, keys = embed_dataset(encoder, encode(0), device), embed_dataset(encoder, encode(1), device)
    encoder.train()
    return top_k_accuracy(queries, keys, [1, 5, 100], key_ids=[rows[i][1].upper() for i in positives])
