"""IMGT V gene names (``TRBV5-1*01``, or ``TRBV5-1`` without the allele) to their CDR1 and CDR2 sequences.

The reference is the vendored table ``builtin/imgt_tr_v_cdr1_cdr2.tsv`` (human and mouse TRA, TRB, TRG and TRD
V alleles from tcrdist3 0.3's IMGT table, MIT; provenance in ``builtin/DATA.md``, rebuilt by
``scripts/make_v_gene_table.py``). Alleles whose CDR1 or CDR2 is partial or holds a stop codon are not in it.

Names are matched after removing surrounding whitespace, upper-casing and dropping ``/`` (so 10x Genomics'
``TRAV14DV4`` finds IMGT's ``TRAV14/DV4``). A name without an allele means allele ``*01`` when the table has
it, else the lowest-numbered allele it has. Alleles of one gene can differ in CDR1/CDR2 (human TRBV19: ``*01``
CDR2 ``SQIVND``, ``*02`` ``SHIVND``): the allele-less name then gives ``*01``'s CDRs, so pass the allele when
it is known.

:func:`cdr1_cdr2` looks up one name; :func:`add_cdr_columns` adds ``<col>_cdr1`` and ``<col>_cdr2`` to a table
for each V gene column, with ``--unknown-v-genes error|skip`` for names the table lacks (and missing values).
"""
from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import CHOICES
from ..errors import InputError
from .builtin import builtin_path
from .formats.table import SequenceTable, require_columns, table_from_frame

ORGANISMS = CHOICES["data.organism"]  # the lists live in seqssl.config.CHOICES
UNKNOWN_POLICIES = CHOICES["data.unknown_v_genes"]
SKIP_HINT = "or drop such rows with --unknown-v-genes skip"
SUFFIXES = ("_cdr1", "_cdr2")


@dataclass(frozen=True)
class VGeneTable:
    """One organism's V genes: ``alleles`` by allele key (``TRBV5-1*01``), ``genes`` by gene key (``TRBV5-1``,
    the allele the allele-less name means), ``names`` the IMGT gene names (for suggestions), all keys as
    :func:`name_key` writes them."""

    alleles: dict[str, tuple[str, str]]
    genes: dict[str, tuple[str, str]]
    names: dict[str, str]  # gene key -> IMGT gene name
    allele_numbers: dict[str, list[str]]  # gene key -> its alleles in the table ("01", "02", ...)


def name_key(name: str) -> str:
    """How names are compared: stripped, upper-case, without ``/``."""
    return name.strip().upper().replace("/", "")


@functools.lru_cache(maxsize=1)
def reference_rows() -> tuple[tuple[str, str, str, str, str], ...]:
    """The vendored table's rows ``(gene, organism, chain, cdr1, cdr2)``, read once."""
    text = builtin_path("imgt_v_genes").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].split("\t") == ["gene", "organism", "chain", "cdr1", "cdr2"], lines[0]
    return tuple(tuple(line.split("\t")) for line in lines[1:] if line)  # type: ignore[misc]


def check_organism(organism: str) -> None:
    """Refuse an organism the table does not cover."""
    if organism not in ORGANISMS:
        raise InputError(f"unknown organism '{organism}' for V genes", fix=f"use one of {', '.join(ORGANISMS)}")


@functools.cache
def v_gene_table(organism: str = "human") -> VGeneTable:
    """The V genes of ``organism`` (cached)."""
    check_organism(organism)
    table = VGeneTable({}, {}, {}, {})
    for gene, species, _chain, cdr1, cdr2 in reference_rows():
        if species != organism:
            continue
        name, _, allele = gene.partition("*")
        key = name_key(name)
        table.alleles[name_key(gene)] = (cdr1, cdr2)
        table.names.setdefault(key, name)
        table.allele_numbers.setdefault(key, []).append(allele)
        if key not in table.genes or allele == "01":  # *01, else the first allele (rows are in allele order)
            table.genes[key] = (cdr1, cdr2)
    return table


def find_cdrs(gene: str, organism: str = "human") -> tuple[str, str] | None:
    """``(CDR1, CDR2)`` of ``gene`` (with or without allele), or None when the table lacks it."""
    table = v_gene_table(organism)
    key = name_key(gene)
    return table.alleles.get(key) if "*" in key else table.genes.get(key)


def cdr1_cdr2(gene: str, organism: str = "human") -> tuple[str, str]:
    """``(CDR1, CDR2)`` amino acids of an IMGT V gene name, e.g. ``cdr1_cdr2("TRBV5-1*01") == ("SGHRS",
    "YFSETQ")``. Without an allele: ``*01`` if the table has it, else its first allele. Unknown names raise
    :class:`InputError` with the closest names."""
    found = find_cdrs(gene, organism)
    if found is None:
        problem, fix = explain_unknown(gene, organism)
        raise InputError(problem, fix=fix)
    return found


# alleles scripts/make_v_gene_table.py leaves out: CDR1 or CDR2 partial or with a stop codon (DATA.md)
INCOMPLETE = {"human": {"TRBV12-2*01", "TRBV16*02", "TRBV5-4*04", "TRBV7-9*07"}}


def explain_unknown(gene: str, organism: str) -> tuple[str, str]:
    """``(problem, fix)`` for a name :func:`find_cdrs` does not find: an allele without complete CDRs (a
    pseudogene), a missing allele, another organism's gene, or the closest known names."""
    table = v_gene_table(organism)
    name, _, allele = name_key(gene).partition("*")
    if f"{name}*{allele or '01'}" in INCOMPLETE.get(organism, set()):
        return (f"V gene '{gene.strip()}': its CDR1 or CDR2 in the IMGT table is partial or holds a stop codon "
                f"(a pseudogene or ORF), so it has no CDR1/CDR2 sequences", "drop such rows with "
                "--unknown-v-genes skip")
    if name in table.names:
        known = ", ".join(f"*{a}" for a in table.allele_numbers[name])
        return (f"V gene '{gene.strip()}': {organism} {table.names[name]} has no allele *{allele} with complete "
                f"CDR1 and CDR2 in the IMGT table (it has {known})"), f"use one of those alleles, {SKIP_HINT}"
    others = [o for o in ORGANISMS if o != organism and name in v_gene_table(o).names]
    if others:
        return (f"unknown {organism} V gene '{gene.strip()}' (a {others[0]} gene)",
                f"pass --organism {others[0]}, {SKIP_HINT}")
    close = difflib.get_close_matches(name, list(table.names), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(table.names[c] for c in close)}? " if close else ""
    return (f"unknown {organism} V gene '{gene.strip()}'",
            f"{hint}use an IMGT name such as TRBV5-1*01 or TRBV5-1, {SKIP_HINT}")


def gene_text(value) -> str | None:
    """A cell as a gene name: stripped text, or None when missing (NaN, None, empty)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def column_cdrs(values: pd.Series, organism: str) -> list[tuple[str, str] | None]:
    """``(CDR1, CDR2)`` of every cell of one column (None where missing or unknown), each distinct name looked
    up once."""
    memo: dict[str, tuple[str, str] | None] = {}
    found = []
    for value in values.tolist():
        text = gene_text(value)
        if text is not None and text not in memo:
            memo[text] = find_cdrs(text, organism)
        found.append(None if text is None else memo[text])
    return found


def row_error(table: SequenceTable, column: str, position: int, organism: str) -> InputError:
    """The error for the unknown or missing V gene at ``position`` of ``column``: file, line, column, value."""
    text = gene_text(table.frame[column].iloc[position])
    if text is None:
        problem, fix = "missing V gene", f"fill in an IMGT V gene name such as TRBV5-1*01, {SKIP_HINT}"
    else:
        problem, fix = explain_unknown(text, organism)
    return InputError(problem, path=table.path, line=table.line_of(position), column=column, fix=fix)


def check_new_columns(table: SequenceTable, v_columns: Sequence[str]) -> None:
    """Refuse a V gene column named twice, or one whose ``_cdr1`` / ``_cdr2`` column the table already has."""
    if len(set(v_columns)) != len(v_columns):
        raise InputError(f"a V gene column is named twice: {list(v_columns)}", path=table.path,
                         fix="name each column once in --v-gene-columns")
    for column in v_columns:
        for suffix in SUFFIXES:
            if column + suffix in table.frame.columns:
                raise InputError(f"column '{column + suffix}' already exists; V gene column '{column}' would "
                                 "overwrite it", path=table.path, fix=f"rename the column '{column + suffix}'")


def add_cdr_columns(table: SequenceTable | pd.DataFrame, v_columns: Sequence[str], *, organism: str = "human",
                    unknown: str = "error") -> tuple[SequenceTable, np.ndarray, int]:
    """``(table with CDR columns, kept positions, number of rows skipped)``.

    For each V gene column ``col`` (IMGT names, with or without allele) adds ``col_cdr1`` and ``col_cdr2``
    (amino acids, no gaps) after the existing columns. A name the table lacks, or a missing value, is under
    ``unknown="error"`` an :class:`InputError` naming the file, line, column and value (the first such row
    in file order), and under ``"skip"`` drops the row, as ``--invalid-smiles skip`` does: seqssl reads a
    row whole, so a row without its CDRs cannot be kept; the caller subsets its labels with the kept
    positions and reports the count. A DataFrame is read as :func:`~seqssl.data.formats.table.table_from_frame`
    does (errors name its rows from 1)."""
    table = table if isinstance(table, SequenceTable) else table_from_frame(table)
    check_organism(organism)
    if unknown not in UNKNOWN_POLICIES:
        raise InputError(f"unknown --unknown-v-genes '{unknown}'", fix=f"use one of {', '.join(UNKNOWN_POLICIES)}")
    v_columns = list(v_columns)
    require_columns(table, v_columns)
    check_new_columns(table, v_columns)
    found = {c: column_cdrs(table.frame[c], organism) for c in v_columns}
    bad = np.zeros(len(table), dtype=bool)
    for column in v_columns:
        bad |= np.array([f is None for f in found[column]], dtype=bool)
    if unknown == "error" and bad.any():
        position = int(np.argmax(bad))
        column = next(c for c in v_columns if found[c][position] is None)
        raise row_error(table, column, position, organism)
    frame = table.frame.copy()
    for column in v_columns:
        for index, suffix in enumerate(SUFFIXES):
            frame[column + suffix] = [None if f is None else f[index] for f in found[column]]
    kept = np.flatnonzero(~bad).astype(np.int64)
    return SequenceTable(frame, table.path, table.lines).subset(kept), kept, int(bad.sum())


# --- wiring: a run's config (data.v_gene_columns, data.organism, data.unknown_v_genes) ---------------------
def cdr_column_names(v_columns: Sequence[str]) -> list[str]:
    """The columns :func:`add_cdr_columns` adds, in order: ``COL_cdr1, COL_cdr2`` per V gene column."""
    return [column + suffix for column in v_columns for suffix in SUFFIXES]


def ordered_columns(columns: Sequence[str], v_columns: Sequence[str]) -> list[str]:
    """The sequence columns with each V gene's CDR1 and CDR2 placed before its CDR3: the first ``len(v_columns)``
    other columns are the CDR3s of the V gene columns, in the same order (``--columns cdr3_a_aa,cdr3_b_aa,peptide
    --v-gene-columns v_a_gene,v_b_gene`` gives CDR1α, CDR2α, CDR3α, CDR1β, CDR2β, CDR3β, peptide: the segments of
    ``builtin-tcr-ab``). Columns that already name every CDR column stay as given."""
    derived = cdr_column_names(v_columns)
    if all(c in columns for c in derived):
        return list(columns)
    others = [c for c in columns if c not in derived]
    if len(v_columns) > 1 and len(others) < len(v_columns):
        raise InputError(f"{len(v_columns)} V gene columns ({', '.join(v_columns)}) need their CDR3 columns first in "
                         f"--columns, in the same order, and then the rest (the peptide); got {', '.join(columns)}",
                         fix="e.g. --columns cdr3_a_aa,cdr3_b_aa,peptide --v-gene-columns v_a_gene,v_b_gene")
    if len(others) < len(v_columns):
        return derived + others
    for gene, cdr3 in zip(v_columns, others):
        if {chain_hint(gene), chain_hint(cdr3)} == {"a", "b"}:
            raise InputError(f"V gene column {gene} is paired with {cdr3}, whose name says the other chain (each "
                             "V gene column takes the CDR3 column at its position among --columns)",
                             fix="give the CDR3 columns in the order of --v-gene-columns")
    chains = [c for i, gene in enumerate(v_columns) for c in (*cdr_column_names([gene]), others[i])]
    return chains + others[len(v_columns):]


def chain_hint(name: str) -> str | None:
    """``a`` or ``b`` where a column's name says its chain (``v_a_gene``, ``cdr3_b_aa``, ``TRAV``, ``cdr3_alpha``),
    else ``None``: used only to refuse a pairing whose names contradict each other."""
    words = set(name.lower().replace("-", "_").split("_"))
    alpha = bool(words & {"a", "alpha", "tra", "trav"})
    beta = bool(words & {"b", "beta", "trb", "trbv"})
    return "a" if alpha and not beta else "b" if beta and not alpha else None


def expand_columns(data_cfg) -> None:
    """Put the CDR1/CDR2 columns of ``data.v_gene_columns`` before their CDR3 among the sequence columns
    (:func:`ordered_columns`: so CDR1β, CDR2β, CDR3β, peptide, each a segment), unless ``--columns`` already
    places them; with a pretraining corpus and no ``pretrain_columns``, the corpus gives the CDR columns and the
    CDR3 columns. Idempotent (a saved config read again is unchanged)."""
    if not data_cfg.v_gene_columns:
        return
    genes = data_cfg.v_gene_columns
    data_cfg.columns = ordered_columns(data_cfg.columns, genes)
    if data_cfg.pretrain_data and not data_cfg.pretrain_columns:
        cdr3s = [c for c in data_cfg.columns if c not in cdr_column_names(genes)][:len(genes)]
        data_cfg.pretrain_columns = ordered_columns(cdr3s, genes)


def with_cdrs(table: SequenceTable, data_cfg) -> tuple[SequenceTable, np.ndarray | None, int]:
    """``table`` with the CDR columns of ``data.v_gene_columns`` that it can give (its V gene columns), the kept
    positions (``None``: every row) and the rows skipped; unchanged without V gene columns."""
    present = [c for c in getattr(data_cfg, "v_gene_columns", []) if c in table.frame.columns]
    if not present:
        return table, None, 0
    return add_cdr_columns(table, present, organism=data_cfg.organism, unknown=data_cfg.unknown_v_genes)
