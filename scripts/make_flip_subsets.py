"""Rebuild the bundled FLIP files in ``src/seqssl/data/builtin/`` from the FLIP splits.

Usage: ``python scripts/make_flip_subsets.py [FLIP_DIR] [OUT_DIR]`` with ``FLIP_DIR`` holding
``flip_gb1/{three_vs_rest,low_vs_high}.csv.gz`` and ``flip_conservation/{sequences,sampled}.fasta.gz``
(unzipped from FLIP's ``splits.zip``; default ``/work/shared/data/protein``).

* GB1: copied byte for byte after checking that every sequence has one length and only the four
  mutated sites (39, 40, 41, 54; 1-based) vary.
* Conservation (``sampled`` split): of the labelled proteins of length <= 250, 1,500 are drawn
  without replacement with ``numpy.random.default_rng(0)``, proportionally within each
  ``(SET, VALIDATION)`` stratum (largest-remainder rounding), and written in the source order.
  Labels keep their FLIP headers (``>ID SET=train VALIDATION=False``); sequences get ``>ID`` headers.
Deterministic: gzip is written with ``mtime=0``, so the same inputs give the same bytes.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np

GB1_SPLITS = ("three_vs_rest", "low_vs_high")
GB1_SITES = [39, 40, 41, 54]
N_PROTEINS, MAX_LENGTH, SEED = 1500, 250, 0


def read_fasta(path: Path) -> dict[str, tuple[str, str]]:
    """``{id: (header, sequence)}`` in file order."""
    records: dict[str, tuple[str, list[str]]] = {}
    current = None
    with gzip.open(path, "rt") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                current = line[1:].split()[0]
                assert current not in records, f"duplicate id {current} in {path}"
                records[current] = (line[1:], [])
            elif line:
                records[current][1].append(line)
    return {k: (h, "".join(parts)) for k, (h, parts) in records.items()}


def check_gb1(path: Path) -> None:
    import pandas as pd
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["sequence", "target", "set", "validation"], frame.columns
    lengths = frame["sequence"].str.len().unique()
    assert len(lengths) == 1, f"{path}: lengths {lengths}"
    grid = np.array([list(s) for s in frame["sequence"]])
    varying = [i + 1 for i in range(grid.shape[1]) if len(set(grid[:, i])) > 1]
    assert varying == GB1_SITES, f"{path}: varying sites {varying}"
    print(f"{path.name}: {len(frame)} rows, length {lengths[0]}, varying sites {varying}, "
          f"sets {dict(Counter(frame['set'] + '/' + frame['validation']))}")


def proportional_counts(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder apportionment of ``total`` over strata of the given sizes."""
    n = sum(sizes.values())
    exact = {k: total * v / n for k, v in sizes.items()}
    counts = {k: int(np.floor(x)) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def write_fasta(path: Path, records: list[tuple[str, str]]) -> None:
    text = "".join(f">{header}\n{body}\n" for header, body in records).encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        handle.write(text)


def conservation_subset(source: Path, out: Path) -> None:
    sequences = read_fasta(source / "sequences.fasta.gz")
    labels = read_fasta(source / "sampled.fasta.gz")
    eligible = [k for k in labels if k in sequences and len(sequences[k][1]) <= MAX_LENGTH]
    for k in eligible:
        assert len(sequences[k][1]) == len(labels[k][1]), k
    stratum = {k: " ".join(labels[k][0].split()[1:]) for k in eligible}
    sizes = Counter(stratum.values())
    counts = proportional_counts(dict(sizes), N_PROTEINS)
    rng = np.random.default_rng(SEED)
    chosen = set()
    for name in sorted(counts):
        members = [k for k in eligible if stratum[k] == name]
        chosen.update(members[i] for i in rng.choice(len(members), counts[name], replace=False))
    order = [k for k in eligible if k in chosen]
    write_fasta(out / "flip_conservation_sequences.fasta.gz", [(k, sequences[k][1]) for k in order])
    write_fasta(out / "flip_conservation_labels.fasta.gz", [labels[k] for k in order])
    residues = sum(len(sequences[k][1]) for k in order)
    print(f"conservation: {len(eligible)} eligible of {len(labels)} labelled; chose {len(order)} "
          f"({residues} residues), strata {dict(Counter(stratum[k] for k in order))}")


def main(source: str = "/work/shared/data/protein", out: str = "src/seqssl/data/builtin") -> None:
    source_dir, out_dir = Path(source), Path(out)
    for split in GB1_SPLITS:
        path = source_dir / "flip_gb1" / f"{split}.csv.gz"
        check_gb1(path)
        shutil.copyfile(path, out_dir / f"flip_gb1_{split}.csv.gz")
    conservation_subset(source_dir / "flip_conservation", out_dir)
    for path in sorted(out_dir.glob("flip_*")):
        print(f"{path.name}  {path.stat().st_size} bytes  sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(*sys.argv[1:])
