"""TCRdist between receptors (Dash et al. 2017, "Quantifiable predictive features define epitope-specific T
cell receptor repertoires", Nature 547:89–93), as tcrdist3 0.3 computes it with its defaults, for every pair of
two sets of receptors at once.

Per chain present (α, β, ...), the distance sums:

- CDR1, CDR2 and CDR2.5 (the pMHC-facing loop), IMGT-gapped, taken from the V gene (the vendored table
  ``imgt_tr_v_tcrdist.tsv``, built from tcrdist3's database by ``scripts/make_v_gene_table.py``): the
  mismatch distance position by position, weight 1;
- the CDR3, 3 residues trimmed at its N-terminal end and 2 at its C-terminal end: when the two lengths differ,
  the shorter is opened by one gap of the length difference at the position (between residues 5 and
  L − 5 of the shorter one, narrowed symmetrically for short loops) that gives the smallest mismatch distance,
  and each gap position costs 4 (the published gap rule); the CDR3 total is weighted 3.

The mismatch distance of two residues is 0 when they are the same, else min(4, 4 − BLOSUM62(a, b)); a symbol
outside the 20 amino acids (``X``, the IMGT gap ``.``) is 0 against anything, as in tcrdist3. Written here
rather than calling tcrdist3 or pwseqdist: those compare one pair at a time in numba loops and pin old pandas
and NumPy releases; this computes a whole (queries × references) block with NumPy, one block per pair of
lengths. ``tests/test_tcrdist.py`` holds it equal to tcrdist3's own distances on a sample of receptors.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..augment import BLOSUM62, BLOSUM_ORDER

CDR3_WEIGHT, GAP_PENALTY, N_TRIM, C_TRIM = 3, 4, 3, 2
UNKNOWN = len(BLOSUM_ORDER)  # the code of any other symbol: distance 0 to everything


@functools.cache
def mismatch_distances() -> np.ndarray:
    """``(21, 21)`` residue distances: min(4, 4 − BLOSUM62) between different amino acids, 0 on the diagonal and
    for the unknown symbol."""
    blosum = np.array(BLOSUM62, dtype=np.int64)
    out = np.minimum(4, 4 - blosum)
    np.fill_diagonal(out, 0)
    table = np.zeros((UNKNOWN + 1, UNKNOWN + 1), dtype=np.int64)
    table[:UNKNOWN, :UNKNOWN] = out
    return table


_CODES = np.full(256, UNKNOWN, dtype=np.int64)
for _i, _residue in enumerate(BLOSUM_ORDER):
    _CODES[ord(_residue)] = _i


def encode(sequences: list[str]) -> list[np.ndarray]:
    """Each sequence as residue codes (upper-cased; other symbols :data:`UNKNOWN`)."""
    return [_CODES[np.frombuffer(s.upper().encode("latin-1", "replace"), dtype=np.uint8)] for s in sequences]


def _by_length(codes: list[np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Positions grouped by length: ``{length: (positions, (n, length) codes)}``."""
    lengths = np.array([len(c) for c in codes])
    return {int(n): (np.flatnonzero(lengths == n), np.stack([codes[i] for i in np.flatnonzero(lengths == n)])
                     if n else np.zeros((int((lengths == n).sum()), 0), dtype=np.int64))
            for n in np.unique(lengths)}


def gap_positions(short: int) -> range:
    """Where the gap may open in the shorter CDR3 (tcrdist3's ``fixed_gappos=False`` search): after residue 5
    up to 5 before its end, widened one step at a time on both sides while that range is empty."""
    low, high = 5, short - 1 - 4
    while low > high:
        low, high = low - 1, high + 1
    return range(low, high + 1)


def loop_distances(queries: list[str], references: list[str], *, ntrim: int = 0, ctrim: int = 0,
                   gap_search: bool = False) -> np.ndarray:
    """``(queries, references)`` mismatch distance of one loop plus :data:`GAP_PENALTY` per length difference
    (unweighted). ``gap_search``: the CDR3 rule (the gap where it costs least); otherwise one fixed gap
    position, as tcrdist3 compares CDR1, CDR2 and CDR2.5 (whose IMGT-gapped strings have one length per
    organism and chain, so the gap rarely applies)."""
    table = mismatch_distances()
    out = np.zeros((len(queries), len(references)), dtype=np.int64)
    for lq, (rows, q) in _by_length(encode(queries)).items():
        for lr, (cols, r) in _by_length(encode(references)).items():
            block = _block(table, q, r, lq, lr, ntrim, ctrim, gap_search)
            out[np.ix_(rows, cols)] = block
    return out


def _pair(table: np.ndarray, q: np.ndarray, r: np.ndarray, i: int, j: int) -> np.ndarray:
    """Distances of query position ``i`` against reference position ``j``, all pairs."""
    return table[q[:, i][:, None], r[:, j][None, :]]


def _block(table, q, r, lq: int, lr: int, ntrim: int, ctrim: int, gap_search: bool) -> np.ndarray:
    shape = (q.shape[0], r.shape[0])
    if lq == lr:
        total = np.zeros(shape, dtype=np.int64)
        for i in range(ntrim, lq - ctrim):
            total += _pair(table, q, r, i, i)
        return total
    short = min(lq, lr)
    gaps = gap_positions(short) if gap_search else range(min(6, 3 + (short - 5) // 2),
                                                         min(6, 3 + (short - 5) // 2) + 1)
    # cumulative mismatch sums from the N-terminal end (same index) and the C-terminal end (same distance from
    # each end), so that each gap position costs two lookups
    n_side = np.zeros((max(gaps.stop, ntrim) + 1, *shape), dtype=np.int32)
    for i in range(ntrim, max(gaps.stop, ntrim)):
        n_side[i + 1] = n_side[i] + (_pair(table, q, r, i, i) if i < short else 0)
    c_stop = max(short - gaps.start, ctrim)
    c_side = np.zeros((c_stop + 1, *shape), dtype=np.int32)
    for c in range(ctrim, c_stop):
        c_side[c + 1] = c_side[c] + _pair(table, q, r, lq - 1 - c, lr - 1 - c)
    best = None
    for gap in gaps:
        remainder = short - gap
        cost = (n_side[max(gap, ntrim)] - n_side[ntrim]) + (c_side[max(remainder, ctrim)] - c_side[ctrim])
        best = cost if best is None else np.minimum(best, cost)
    assert best is not None
    return best + GAP_PENALTY * abs(lq - lr)


@dataclass
class Receptor:
    """A set of receptors, chain by chain: each chain's CDR3s and (when its V genes are known) the IMGT-gapped
    CDR1, CDR2 and CDR2.5 of each."""

    cdr3: list[list[str]]  # per chain, per receptor
    germline: list[list[tuple[str, str, str]] | None]  # per chain: per receptor (CDR1, CDR2, CDR2.5), or None

    def subset(self, idx) -> Receptor:
        return Receptor([[c[i] for i in idx] for c in self.cdr3],
                        [None if g is None else [g[i] for i in idx] for g in self.germline])


def tcrdist(queries: Receptor, references: Receptor) -> np.ndarray:
    """``(queries, references)`` TCRdist summed over the chains (see the module docstring)."""
    total = np.zeros((len(queries.cdr3[0]), len(references.cdr3[0])), dtype=np.int64)
    for chain, (q3, r3) in enumerate(zip(queries.cdr3, references.cdr3)):
        total += CDR3_WEIGHT * loop_distances(q3, r3, ntrim=N_TRIM, ctrim=C_TRIM, gap_search=True)
        q_loops, r_loops = queries.germline[chain], references.germline[chain]
        if q_loops is None or r_loops is None:
            continue
        for loop in range(3):
            total += germline_distances([g[loop] for g in q_loops], [g[loop] for g in r_loops])
    return total


def germline_distances(queries: list[str], references: list[str]) -> np.ndarray:
    """A germline loop's distances, computed once per pair of distinct loops (a few hundred V alleles) and
    looked up for every pair of receptors."""
    q_unique, q_index = np.unique(np.array(queries, dtype=object), return_inverse=True)
    r_unique, r_index = np.unique(np.array(references, dtype=object), return_inverse=True)
    small = loop_distances(list(q_unique), list(r_unique))
    return small[q_index[:, None], r_index[None, :]]


@functools.cache
def germline_loops(organism: str) -> dict[str, tuple[str, str, str]]:
    """``{allele: (CDR1, CDR2, CDR2.5)}`` (IMGT-gapped) of ``organism``'s V alleles, keyed as
    :func:`seqssl.data.v_genes.name_key` writes names, plus each gene without allele for its ``*01`` (else first)
    allele."""
    from ..data.builtin import builtin_path
    from ..data.v_genes import name_key
    lines = builtin_path("imgt_tcrdist").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == ["gene", "organism", "chain", "cdr1", "cdr2", "cdr25"], lines[0]
    out: dict[str, tuple[str, str, str]] = {}
    for line in lines[1:]:
        gene, species, _chain, cdr1, cdr2, cdr25 = line.split("\t")
        if species != organism:
            continue
        name, _, allele = gene.partition("*")
        out[name_key(gene)] = (cdr1, cdr2, cdr25)
        if name_key(name) not in out or allele == "01":
            out[name_key(name)] = (cdr1, cdr2, cdr25)
    return out
