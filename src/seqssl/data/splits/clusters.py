"""Single-linkage clusters of similar sequences, for similarity-aware splits (``--split cluster``).

Two sequences are *linked* when they are within the threshold (``--cluster-threshold``):

* ``edit:K`` — Levenshtein distance ≤ K (K an integer ≥ 0).
* ``identity:F`` — identity ≥ F (0 < F ≤ 1). For short sequences (CDR3s, peptides) identity is
  ``1 − Levenshtein(a, b) / max(len a, len b)`` (``rapidfuzz.distance.Levenshtein.normalized_similarity``),
  compared with a tolerance of 1e-9; for proteins it is MMseqs2's (identical residues per aligned column)
  for alignments covering ≥ 80% of both sequences (``-c 0.8 --cov-mode 0``), found by an all-against-all
  ``mmseqs easy-search``.

Clusters are the connected components of the "linked" graph (single linkage), so no two sequences in
different clusters are linked; used as the groups of a grouped k-fold, no train–test pair is within the
threshold. **Which path** (the rule): ``edit:1`` on short sequences (median length ≤ 50) uses a
deletion-neighbourhood index, ``edit:0`` exact identity, every other ``edit:K`` and short ``identity:F``
Levenshtein distances from ``rapidfuzz.process.cdist`` within length windows; ``identity:F`` on longer
sequences (median length > 50) uses MMseqs2 (pairs it does not find are not linked).
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError

SHORT_MEDIAN_LENGTH = 50  # median length up to which sequences count as short (CDR3s, peptides)
MAX_CELLS = 1 << 23  # distances per rapidfuzz.cdist call (at most 32 MiB)
TOLERANCE = 1e-9  # identity comparisons: 1 - 7/10 must count as 0.3
PROGRESS_AT = 20_000  # unique sequences from which clustering says what it is doing
SPEC_FIX = ("use --cluster-threshold edit:K (K an integer >= 0, e.g. edit:1 for CDR3s) or "
            "identity:F (0 < F <= 1, e.g. identity:0.3 for proteins)")
MMSEQS_FIX = "install MMseqs2: apt-get install mmseqs2 (Debian/Ubuntu) or conda install -c bioconda mmseqs2"
MMSEQS_COVERAGE = ["-c", "0.8", "--cov-mode", "0"]


@dataclass(frozen=True)
class Threshold:
    """A parsed ``--cluster-threshold``: ``measure`` is ``edit`` (``value`` = K) or ``identity`` (F)."""

    measure: str
    value: float

    @property
    def k(self) -> int:
        return int(self.value)

    def __str__(self) -> str:
        return f"edit:{self.k}" if self.measure == "edit" else f"identity:{self.value:g}"


def parse_threshold(spec: str | None) -> Threshold:
    """``edit:K`` (integer K ≥ 0) or ``identity:F`` (0 < F ≤ 1, e.g. ``identity:0.3``); else InputError."""
    match = re.fullmatch(r"\s*(edit|identity)\s*:\s*([0-9.eE+-]+)\s*", spec or "")
    if match is None:
        raise InputError(f"cluster threshold '{spec}' is neither edit:K nor identity:F", fix=SPEC_FIX)
    measure, text = match.groups()
    value: float | None
    try:
        value = float(text) if measure == "identity" else float(int(text))
    except ValueError:
        value = None
    if measure == "edit" and (value is None or value < 0):
        raise InputError(f"cluster threshold '{spec}': K must be an integer >= 0", fix=SPEC_FIX)
    if measure == "identity" and (value is None or not 0 < value <= 1):
        raise InputError(f"cluster threshold '{spec}': F must be in (0, 1]", fix=SPEC_FIX)
    assert value is not None
    return Threshold(measure, value)


def is_short(sequences) -> bool:
    """Whether ``sequences`` take the short-sequence path: median length ≤ :data:`SHORT_MEDIAN_LENGTH`."""
    return len(sequences) == 0 or float(np.median([len(s) for s in sequences])) <= SHORT_MEDIAN_LENGTH


def cluster_ids(sequences, threshold: Threshold | str, progress: bool = False) -> np.ndarray:
    """Integer cluster per sequence (0, 1, ...): connected components of the graph linking every pair
    within ``threshold`` (single linkage; see the module docstring for the measures and the paths).
    Identical sequences are one node. ``progress``: report on stderr when there are many sequences."""
    threshold = parse_threshold(threshold) if isinstance(threshold, str) else threshold
    codes, unique = pd.factorize(pd.Series(list(sequences), dtype=object), sort=False)
    unique = [str(s) for s in unique]
    loud = progress and len(unique) >= PROGRESS_AT
    start = time.time()
    if loud:
        print(f"clustering {len(unique)} unique sequences at {threshold} ...", file=sys.stderr, flush=True)
    labels = components(len(unique), *linked_pairs(unique, threshold))
    if loud:
        print(f"{labels.max() + 1 if len(labels) else 0} clusters in {time.time() - start:.1f} s",
              file=sys.stderr, flush=True)
    return labels[codes].astype(np.int64)


def linked_pairs(unique: list[str], threshold: Threshold) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of distinct sequences (``unique``: no repeats) within ``threshold``, by the path the
    module docstring's rule chooses (pairs may repeat or come in both orders)."""
    if threshold.measure == "identity" and not is_short(unique):
        return mmseqs_pairs(unique, threshold.value)
    if threshold.measure == "edit" and threshold.k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)  # identical sequences are already one node
    if threshold.measure == "edit" and threshold.k == 1 and is_short(unique):
        return deletion_pairs(unique)
    return window_pairs(unique, threshold)


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component of each of ``n`` nodes given edges ``a[i]–b[i]`` (scipy's csgraph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    graph = coo_matrix((np.ones(len(a), dtype=np.int32), (np.asarray(a), np.asarray(b))), shape=(n, n))
    return connected_components(graph, directed=False)[1]


# the masked position's character: in no sequence alphabet, and not NUL (pandas 2 hashes object strings as C
# strings, so "AB\0C" and "AB\0D" would be one key and every sequence one cluster)
MASK = "\x01"


def substitution_pairs(unique: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of equal-length sequences one substitution apart, by hand (no library indexes this): two
    sequences differ only at position i exactly when they agree with position i masked, so each masked
    variant is hashed (``pandas.factorize``) and each sequence is linked to the first that shares one (a
    star per variant connects the same components as every pair, in linear time)."""
    owners = np.fromiter((n for n, s in enumerate(unique) for _ in s), np.int64)
    masked = [s[:i] + MASK + s[i + 1:] for s in unique for i in range(len(s))]
    codes = pd.factorize(pd.Series(masked, dtype=object), sort=False)[0]
    del masked
    first = np.full(codes.max() + 1 if len(codes) else 0, -1, np.int64)
    first[codes[::-1]] = owners[::-1]  # the last write per variant is its first owner
    partner = first[codes]
    keep = partner != owners
    return owners[keep], partner[keep]


def indel_pairs(unique: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs one insertion/deletion apart, by hand: a one-residue deletion of the longer sequence is the
    shorter one, so every deletion is looked up in a hash index of the sequences themselves."""
    owners = np.fromiter((n for n, s in enumerate(unique) for _ in s), np.int64)
    deleted = [s[:i] + s[i + 1:] for s in unique for i in range(len(s))]
    found = pd.Index(unique).get_indexer(pd.Index(deleted, dtype=object))
    del deleted
    keep = found >= 0
    return owners[keep], found[keep]


def deletion_pairs(unique: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every pair at Levenshtein distance 1 (``edit:1``) in linear time: substitutions and indels from the
    deletion-neighbourhood keys above. The keys are exact (masked positions are kept), so no candidate
    needs verifying; ``tests/test_clusters.py`` checks the result against brute force."""
    sub_a, sub_b = substitution_pairs(unique)
    del_a, del_b = indel_pairs(unique)
    return np.concatenate([sub_a, del_a]), np.concatenate([sub_b, del_b])


def distance_blocks(rows: list[str], cols: list[str], partner, cutoff):
    """Levenshtein distances of ``rows`` against ``cols`` length by length, for all lengths L of the rows:
    the rows of length L against the cols whose length is in ``partner(L) = (lo, hi)`` (only those can
    be within the threshold), with ``rapidfuzz.process.cdist`` capped at ``cutoff(L)`` (larger distances
    read ``cutoff(L) + 1``; ``None``: exact), in blocks of at most :data:`MAX_CELLS`. Yields
    ``(L, row positions, col positions, distances)``."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein
    row_len = np.fromiter(map(len, rows), np.int64, len(rows))
    col_len = np.fromiter(map(len, cols), np.int64, len(cols))
    order = np.argsort(col_len, kind="stable")
    sorted_len = col_len[order]
    for length in np.unique(row_len):
        lo, hi = partner(int(length))
        c = order[np.searchsorted(sorted_len, lo, "left"):np.searchsorted(sorted_len, hi, "right")]
        if not len(c):
            continue
        targets = [cols[j] for j in c]
        r_all = np.flatnonzero(row_len == length)
        step = max(1, MAX_CELLS // len(c))
        for s in range(0, len(r_all), step):
            r = r_all[s:s + step]
            cap = cutoff(int(length))
            d = process.cdist([rows[i] for i in r], targets, scorer=Levenshtein.distance, score_cutoff=cap,
                              dtype=np.uint8 if cap is not None and cap < 255 else np.int32, workers=-1)
            yield int(length), r, c, d


def max_distance(threshold: Threshold, longer: int) -> int:
    """The largest Levenshtein distance within ``threshold`` for a pair whose longer sequence has length
    ``longer``: K, or ⌊(1 − F)·longer⌋ (identity ≥ F ⇔ distance ≤ (1 − F)·longer)."""
    if threshold.measure == "edit":
        return threshold.k
    return int(math.floor((1 - threshold.value) * longer + TOLERANCE))


def window_pairs(unique: list[str], threshold: Threshold) -> tuple[np.ndarray, np.ndarray]:
    """Pairs within ``threshold`` from rapidfuzz distances within length windows: each sequence of length
    L against those of length ``[L − K, L]`` (edit) or ``[⌈F·L⌉, L]`` (identity: the length ratio bounds
    the identity), so L is the pair's longer length and :func:`max_distance` one number per block."""
    def partner(length):
        if threshold.measure == "edit":
            return length - threshold.k, length
        return math.ceil(threshold.value * length - TOLERANCE), length

    a, b = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    cutoff = lambda length: max_distance(threshold, length)  # noqa: E731
    for length, r, c, d in distance_blocks(unique, unique, partner, cutoff):
        i, j = np.nonzero(d <= cutoff(length))
        a.append(r[i])
        b.append(c[j])
    return np.concatenate(a), np.concatenate(b)


def write_fasta(path: Path, sequences: list[str]) -> None:
    """``>i`` / sequence records, ``i`` the position in ``sequences`` (MMseqs2 reports it back)."""
    path.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(sequences)))


def mmseqs_search(queries: list[str], targets: list[str] | None, options: list[str]) -> pd.DataFrame:
    """``mmseqs easy-search`` of ``queries`` against ``targets`` (``None``: against themselves) in a
    temporary directory: a frame of ``query``, ``target`` (positions) and ``fident`` (identity in [0, 1]).
    InputError naming the fix when ``mmseqs`` is not on PATH or fails."""
    exe = shutil.which("mmseqs")
    if exe is None:
        raise InputError("MMseqs2 ('mmseqs') is not on PATH; identity clusters of proteins need it",
                         fix=MMSEQS_FIX + "; or use --cluster-threshold edit:K")
    with tempfile.TemporaryDirectory(prefix="seqssl-mmseqs-") as name:
        tmp = Path(name)
        write_fasta(tmp / "q.fasta", queries)
        if targets is not None:
            write_fasta(tmp / "t.fasta", targets)
        command = [exe, "easy-search", str(tmp / "q.fasta"), str(tmp / ("q.fasta" if targets is None else "t.fasta")),
                   str(tmp / "hits.tsv"), str(tmp / "work"), "--format-output", "query,target,fident", "-v", "1",
                   *options]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"mmseqs easy-search failed ({last})", fix=MMSEQS_FIX)
        hits = tmp / "hits.tsv"
        if not hits.exists() or hits.stat().st_size == 0:
            return pd.DataFrame({"query": np.zeros(0, np.int64), "target": np.zeros(0, np.int64),
                                 "fident": np.zeros(0)})
        return pd.read_csv(hits, sep="\t", header=None, names=["query", "target", "fident"])


def mmseqs_pairs(unique: list[str], identity: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs at MMseqs2 identity ≥ ``identity`` over ≥ 80% of both lengths, from an all-against-all
    search. Not ``easy-cluster``: its greedy set cover leaves linked pairs in different clusters, while
    the connected components of these hits are single-linkage clusters like the short-sequence paths'."""
    hits = mmseqs_search(unique, None, ["--min-seq-id", f"{identity:g}", *MMSEQS_COVERAGE])
    return hits["query"].to_numpy(np.int64), hits["target"].to_numpy(np.int64)


def nearest_across(train, test, threshold: Threshold | str, short: bool | None = None) -> dict:
    """The most similar train–test pair under the split's measure, for the leakage record: for ``edit:K``
    ``min_train_test_edit_distance`` (the minimum if ≤ K + 2, else the text ``> K+2``; the scan stops at
    a pair at K + 1, the closest a cluster split leaves), for
    ``identity:F`` ``max_train_test_identity`` (short sequences: the maximum if ≥ F − 0.1, else
    ``< F-0.1``; proteins: the highest MMseqs2 identity over ≥ 80% coverage, or ``none found``).
    ``short``: the clustering's path (default: :func:`is_short` of all the sequences)."""
    threshold = parse_threshold(threshold) if isinstance(threshold, str) else threshold
    train, test = list(dict.fromkeys(map(str, train))), list(dict.fromkeys(map(str, test)))
    short = is_short(train + test) if short is None else short
    if threshold.measure == "edit":
        return {"min_train_test_edit_distance": min_edit_distance(train, test, threshold.k + 2, threshold.k + 1)}
    if not short:
        hits = mmseqs_search(test, train, MMSEQS_COVERAGE) if train and test else pd.DataFrame({"fident": []})
        return {"max_train_test_identity": round(float(hits["fident"].max()), 4) if len(hits) else "none found"}
    return {"max_train_test_identity": max_identity(train, test, max(threshold.value - 0.1, 0.0))}


def min_edit_distance(train: list[str], test: list[str], cap: int, enough: int = 0):
    """The smallest Levenshtein distance between a test and a training sequence if it is ≤ ``cap``, else
    ``"> cap"``: only lengths within ``cap`` of each other are compared, with rapidfuzz capped at ``cap``.
    The scan stops at the first pair ≤ ``enough`` (K + 1 for a cluster split at edit:K, the least its
    clusters allow: 100k CDR3β would otherwise take a minute per fold)."""
    best = cap + 1
    for _, _, _, d in distance_blocks(test, train, lambda n: (n - cap, n + cap), lambda n: cap):
        best = min(best, int(d.min()))
        if best <= enough:
            break
    return best if best <= cap else f"> {cap}"


def max_identity(train: list[str], test: list[str], floor: float):
    """The highest identity (1 − distance / longer length) of a test–training pair if it is ≥ ``floor``,
    else ``"< floor"``: lengths whose ratio is below ``floor`` cannot reach it and are not compared."""
    def partner(n):
        return (math.ceil(floor * n - TOLERANCE), math.floor(n / floor + TOLERANCE)) if floor > 0 else (0, 1 << 40)

    best = -1.0
    col_len = np.fromiter(map(len, train), np.int64, len(train))
    for length, _, c, d in distance_blocks(test, train, partner, lambda n: None):
        identity = 1 - d / np.maximum(length, col_len[c])[None, :]
        best = max(best, float(identity.max()))
    return round(best, 4) if best >= floor - TOLERANCE and best >= 0 else f"< {floor:g}"
