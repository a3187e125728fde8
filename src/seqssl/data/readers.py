"""Read CSV/TSV (optionally gzipped), FASTA and Parquet into a validated :class:`SequenceTable`.

Every check raises :class:`~seqssl.errors.InputError` naming the file, the line and the column.
"""
from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas", ".fna")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq") + FASTA_SUFFIXES


@dataclass
class SequenceTable:
    """A table read from one file, with the source line of each row for error messages."""

    frame: pd.DataFrame
    path: str
    lines: np.ndarray  # 1-based line in the source file of each row (record header line for FASTA)

    def __len__(self) -> int:
        return len(self.frame)

    def line_of(self, position: int) -> int:
        return int(self.lines[position])

    def subset(self, positions) -> "SequenceTable":
        positions = np.asarray(positions)
        return SequenceTable(self.frame.iloc[positions].reset_index(drop=True), self.path,
                             self.lines[positions])


def _strip_gz(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def _open_text(path: Path):
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except OSError as err:
            raise InputError(f"not a valid gzip file ({err})", path=str(path),
                             fix="decompress it or remove the .gz suffix") from None
    if b"\x00" in raw[:4096]:
        raise InputError("looks like a binary file, not text", path=str(path),
                         fix="pass a CSV, TSV, FASTA or Parquet file")
    try:
        text = raw.decode("utf-8-sig")  # tolerate a UTF-8 byte-order mark
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", path=str(path),
                         fix="save the file as UTF-8") from None
    return text


def read_fasta(path: Path) -> SequenceTable:
    """FASTA to a table with columns ``id``, ``description`` and ``sequence``."""
    text = _open_text(path)
    ids, descs, seqs, lines = [], [], [], []
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            header = line[1:].strip()
            ids.append(header.split()[0] if header else "")
            descs.append(header)
            lines.append(number)
            current = []
            seqs.append(current)
        elif current is None:
            raise InputError("sequence data before the first '>' header", path=str(path), line=number,
                             fix="start each FASTA record with a '>id' line")
        else:
            current.append(line)
    if not ids:
        raise InputError("no FASTA records found", path=str(path), fix="check the file is FASTA")
    frame = pd.DataFrame({"id": ids, "description": descs, "sequence": ["".join(s) for s in seqs]})
    return SequenceTable(frame, str(path), np.asarray(lines))


def expand_paths(path: str | Path) -> list[str]:
    """A file, or every supported file (``.gz`` too) directly inside a directory of shards, sorted."""
    path = Path(path)
    if path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.is_file() and _strip_gz(p).endswith(TABLE_SUFFIXES))
        if not files:
            raise InputError("directory holds no CSV/TSV/FASTA/Parquet files", path=str(path))
        return files
    return [str(path)]


def read_table(path: str | Path) -> SequenceTable:
    """Read any supported file; the format is chosen by suffix (``.gz`` allowed)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path), fix="check the path")
    if path.is_dir():
        raise InputError("is a directory, expected a file", path=str(path))
    name = _strip_gz(path)
    if name.endswith(FASTA_SUFFIXES):
        return read_fasta(path)
    if name.endswith((".parquet", ".pq")):
        try:
            frame = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types
            raise InputError(f"cannot read Parquet ({type(err).__name__}: {err})".splitlines()[0],
                             path=str(path)) from None
        return SequenceTable(frame.reset_index(drop=True), str(path), np.arange(len(frame)) + 1)
    text = _open_text(path)
    if not text.strip():
        raise InputError("file is empty", path=str(path), fix="add a header line and rows")
    if name.endswith(".txt"):  # plain text: one document per non-empty line, column `text`
        pairs = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        return SequenceTable(pd.DataFrame({"text": [t for _, t in pairs]}), str(path),
                             np.array([n for n, _ in pairs]))
    sep = "\t" if name.endswith(".tsv") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            skip_blank_lines=False)
    except pd.errors.ParserError as err:
        raise InputError(f"cannot parse as {'TSV' if sep == chr(9) else 'CSV'} ({err})".splitlines()[0],
                         path=str(path), fix="check the delimiter and quoting") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    # Header is line 1; data row i is line i + 2 (no multi-line quoted fields in sequence files).
    lines = np.arange(len(frame)) + 2
    if len(frame):  # blank lines (every field empty) are dropped; column-wise, not row by row (100k rows: 3 s)
        keep = ~np.logical_and.reduce([frame[c].astype(str).str.strip().eq("").to_numpy() for c in frame.columns])
        frame, lines = frame[keep].reset_index(drop=True), lines[keep]
    if len(frame) == 0:
        raise InputError("no data rows after the header", path=str(path), fix="add rows")
    return SequenceTable(frame, str(path), lines)


def require_columns(table: SequenceTable, columns: list[str]) -> None:
    """Fail with the list of available columns (and the delimiter hint) if one is missing."""
    for column in columns:
        if column not in table.frame.columns:
            available = ", ".join(map(str, table.frame.columns[:12]))
            fix = f"choose one of: {available}"
            if len(table.frame.columns) == 1 and any(d in str(table.frame.columns[0]) for d in ",;\t"):
                fix = "the header has one column: wrong delimiter? use .csv for commas, .tsv for tabs"
            raise InputError(f"missing column '{column}'", path=table.path, fix=fix)
