"""Time to cluster the bundled 100k CDR3β at a similarity threshold (``--split cluster``).

Reads ``builtin_path("background_cdr3b")`` (column ``cdr3_b_aa``), clusters it with
:func:`seqssl.data.splits.clusters.cluster_ids` (``edit:1``: the deletion-neighbourhood index) and prints the
time, the number of clusters and the largest cluster (single linkage chains: a few large components are
expected in a repertoire).

    python benchmarks/bench_clusters.py [--threshold edit:1] [--n 100000]

Last line: ``cluster_seconds_100k_edit1: <seconds>`` (target < 60 on 2 cores).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", default="edit:1")
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    from seqssl.data.builtin import builtin_path
    from seqssl.data.splits.clusters import cluster_ids
    column = pd.read_csv(builtin_path("background_cdr3b"), dtype=str)["cdr3_b_aa"].dropna()
    sequences = column.str.strip().str.upper().tolist()[:args.n]
    start = time.perf_counter()
    ids = cluster_ids(sequences, args.threshold)
    seconds = time.perf_counter() - start
    sizes = np.bincount(ids)
    print(f"sequences: {len(sequences)}  unique: {len(set(sequences))}  threshold: {args.threshold}")
    print(f"clusters: {len(sizes)}  largest: {sizes.max()}  singletons: {int((sizes == 1).sum())}")
    print(f"cluster_seconds_100k_edit1: {seconds:.2f}" if args.threshold == "edit:1" and args.n == 100_000
          else f"cluster_seconds: {seconds:.2f}")


if __name__ == "__main__":
    main()
