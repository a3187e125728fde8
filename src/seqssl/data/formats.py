"""The table of input formats: one entry per format, with its suffixes, its default columns, a reader of the
whole file into a :class:`~seqssl.data.table.SequenceTable` and a reader of its rows one by one.

Both readers of a format share its parser, so a file gives the same rows (and the same line numbers) in
memory and streamed:

======== ============================================ ================================================
format   suffixes (``.gz`` allowed but for Parquet)   rows
======== ============================================ ================================================
fasta    .fasta .fa .faa .fas .fna                    one per record: ``id``, ``description``, ``sequence``
text     .txt                                         one document per non-empty line: ``text``
csv      .csv                                         one per non-blank line after the header
tsv      .tsv                                         one per non-blank line after the header
parquet  .parquet .pq                                 one per row (the "line" is the 1-based row number)
======== ============================================ ================================================

Streamed rows are ``(line, tuple of stripped strings)`` of the requested columns, read block by block
(pyarrow for CSV, TSV and Parquet, line by line for FASTA and text), so memory stays bounded.
"""
from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import InputError
from .table import SequenceTable, base_name, check_columns, decode_text, is_gzipped, numbered_lines, text_lines

Rows = Iterator[tuple[int, tuple[str, ...]]]
BLOCK_ROWS = 65_536  # rows per block when streaming Parquet
BLOCK_BYTES = 1 << 20  # bytes per block when streaming CSV/TSV
FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas", ".fna")
FASTA_COLUMNS = ["id", "description", "sequence"]


# FASTA ---------------------------------------------------------------------------------------------------


def is_fasta_header(line: str) -> bool:
    """Whether a line (stripped) starts a FASTA record."""
    return line.startswith(">")


def fasta_records(lines: Iterable[tuple[int, str]], path: Path) -> Iterator[tuple[int, str, str]]:
    """``(header line number, header text, sequence)`` per record of numbered lines: wrapped sequence lines
    are joined, blank lines skipped. Sequence data before the first header, or no record at all, is an error."""
    start: int | None = None
    header = ""
    parts: list[str] = []
    for number, line in lines:
        line = line.strip()
        if not line:
            continue
        if is_fasta_header(line):
            if start is not None:
                yield start, header, "".join(parts)
            start, header, parts = number, line[1:].strip(), []
        elif start is None:
            raise InputError("sequence data before the first '>' header", path=str(path), line=number,
                             fix="start each FASTA record with a '>id' line")
        else:
            parts.append(line)
    if start is None:
        raise InputError("no FASTA records found", path=str(path), fix="check the file is FASTA")
    yield start, header, "".join(parts)


def _fasta_fields(header: str, sequence: str) -> tuple[str, str, str]:
    """The ``id`` (first word of the header), ``description`` (the whole header) and ``sequence``."""
    return (header.split()[0] if header else ""), header, sequence


def read_fasta(path: Path) -> SequenceTable:
    """FASTA to a table with columns ``id``, ``description`` and ``sequence``."""
    records = list(fasta_records(numbered_lines(decode_text(path)), path))
    frame = pd.DataFrame([_fasta_fields(h, s) for _, h, s in records], columns=FASTA_COLUMNS)
    return SequenceTable(frame, str(path), np.asarray([n for n, _, _ in records]))


def fasta_rows(path: Path, columns: list[str]) -> Rows:
    """The requested columns of each FASTA record, at its header line."""
    check_columns(str(path), FASTA_COLUMNS, columns)
    wanted = [FASTA_COLUMNS.index(c) for c in columns]
    for number, header, sequence in fasta_records(text_lines(path), path):
        fields = _fasta_fields(header, sequence)
        yield number, tuple(fields[i] for i in wanted)


# Plain text: one document per non-empty line --------------------------------------------------------------


def documents(lines: Iterable[tuple[int, str]], path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, stripped line)`` of every non-empty line; a file without any is an error."""
    found = False
    for number, line in lines:
        line = line.strip()
        if line:
            found = True
            yield number, line
    if not found:
        raise InputError("file is empty", path=str(path), fix="add one document per line")


def read_documents(path: Path) -> SequenceTable:
    """Plain text to a table with one column, ``text``."""
    pairs = list(documents(numbered_lines(decode_text(path)), path))
    return SequenceTable(pd.DataFrame({"text": [t for _, t in pairs]}), str(path), np.array([n for n, _ in pairs]))


def document_rows(path: Path, columns: list[str]) -> Rows:
    """``(line, (document,))`` per non-empty line."""
    check_columns(str(path), ["text"], columns)
    for number, line in documents(text_lines(path), path):
        yield number, (line,)


# CSV and TSV ---------------------------------------------------------------------------------------------


def _kind(delimiter: str) -> str:
    return "TSV" if delimiter == "\t" else "CSV"


def _parse_error(path: Path, delimiter: str, err: Exception) -> InputError:
    return InputError(f"cannot parse as {_kind(delimiter)} ({err})".splitlines()[0], path=str(path),
                      fix="check the delimiter and quoting")


def read_delimited(path: Path, delimiter: str) -> SequenceTable:
    """CSV or TSV to a table of strings; the header is line 1 and blank lines are dropped."""
    text = decode_text(path)
    if not text.strip():
        raise InputError("file is empty", path=str(path), fix="add a header line and rows")
    _header(path, delimiter)  # the header's checks (a name given twice), as the streaming reader makes them
    try:
        with warnings.catch_warnings():
            # A first data row longer than the header: without index_col=False pandas makes its first field the
            # row index and shifts every column; with it, pandas warns and drops the extra fields. Refuse it, as
            # pandas refuses a later long row and the streaming reader any.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, index_col=False,
                                skip_blank_lines=False,
                                quoting=csv.QUOTE_MINIMAL if quoted(delimiter) else csv.QUOTE_NONE)
    except pd.errors.ParserWarning:
        raise InputError(f"a data row has more fields than the header ({_kind(delimiter)})", path=str(path),
                         fix="check the delimiter and quoting; remove trailing delimiters") from None
    except pd.errors.ParserError as err:
        raise _parse_error(path, delimiter, err) from None
    except pd.errors.EmptyDataError:  # nothing pandas reads as a column, e.g. byte-order marks alone
        raise InputError("file has no header line", path=str(path), fix="add a header line and rows") from None
    # a name of spaces is no name (pandas calls an empty one "Unnamed: i"), so stripping repeats none
    frame.columns = _unique_names([str(c).strip() or f"Unnamed: {i}" for i, c in enumerate(frame.columns)], path)
    # Header is line 1; data row i is line i + 2 (no multi-line quoted fields in sequence files).
    lines = np.arange(len(frame)) + 2
    if len(frame):  # blank lines (every field empty) are dropped; column-wise, not row by row (100k rows: 3 s)
        keep = ~np.logical_and.reduce([frame[c].astype(str).str.strip().eq("").to_numpy() for c in frame.columns])
        frame, lines = frame[keep].reset_index(drop=True), lines[keep]
    if len(frame) == 0:
        raise InputError("no data rows after the header", path=str(path), fix="add rows")
    return SequenceTable(frame, str(path), lines)


def _header(path: Path, delimiter: str) -> list[str]:
    """The column names on line 1 (stripped), read without reading the rest of the file."""
    lines = text_lines(path)
    try:
        first = next(lines, (1, ""))[1]
    finally:
        lines.close()
    if not first.strip():
        raise InputError("file is empty", path=str(path), fix="add a header line and rows")
    rows = csv.reader([first], delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoted(delimiter) else csv.QUOTE_NONE)
    names = [name.strip() for name in next(rows)]
    _unique_names([name for name in names if name], path)
    return names


def _unique_names(names: list[str], path: Path) -> list[str]:
    """``names``, after checking none is given twice (once stripped): a column must have one meaning."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"column name '{name}' appears twice in the header", path=str(path), line=1,
                             fix="rename or drop one of the two columns")
        seen.add(name)
    return names


def quoted(delimiter: str) -> bool:
    """CSV fields may be quoted; TSV fields are not (IANA text/tab-separated-values, and GLUE's files, whose
    sentences hold unbalanced quote characters), so a quote in a TSV field is just a character."""
    return delimiter != "\t"


def _csv_blocks(path: Path, names: list[str], delimiter: str) -> Iterator[pa.RecordBatch]:
    """The rows after the header as string record batches; one row per line, blank lines included (as
    empty fields) so that row ``i`` is line ``i + 2``."""
    try:
        yield from pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                             quote_char='"' if quoted(delimiter) else False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as err:
        if "invalid UTF8" in str(err):
            raise InputError("not UTF-8 text", path=str(path), fix="save the file as UTF-8") from None
        raise _parse_error(path, delimiter, err) from None


def delimited_rows(path: Path, columns: list[str], delimiter: str) -> Rows:
    """The requested columns of each non-blank row of a CSV or TSV file, read block by block (lines assume
    no line breaks inside quoted fields)."""
    names = _header(path, delimiter)
    check_columns(str(path), names, columns)
    wanted = [names.index(c) for c in columns]
    line, found = 2, False
    for batch in _csv_blocks(path, names, delimiter):
        for offset, row in enumerate(zip(*(batch.column(i).to_pylist() for i in range(len(names))))):
            values = [v.strip() for v in row]
            if any(values):  # a blank line (every field empty) is no row, as in memory
                found = True
                yield line + offset, tuple(values[i] for i in wanted)
        line += batch.num_rows
    if not found:
        raise InputError("no data rows after the header", path=str(path), fix="add rows")


# Parquet -------------------------------------------------------------------------------------------------


def _parquet_error(path: Path, err: Exception) -> InputError:
    return InputError(f"cannot read Parquet ({type(err).__name__}: {err})".splitlines()[0], path=str(path))


def read_parquet(path: Path) -> SequenceTable:
    """Parquet to a table; the "line" of a row is its 1-based row number."""
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types
        raise _parquet_error(path, err) from None
    return SequenceTable(frame.reset_index(drop=True), str(path), np.arange(len(frame)) + 1)


def parquet_rows(path: Path, columns: list[str]) -> Rows:
    """The requested columns of each row (as stripped strings, missing values empty), row group by row group."""
    try:
        handle = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types
        raise _parquet_error(path, err) from None
    check_columns(str(path), handle.schema_arrow.names, columns)
    line = 1
    batches = handle.iter_batches(columns=columns, batch_size=BLOCK_ROWS)
    while True:
        try:  # a damaged row group fails only when read
            batch = next(batches, None)
        except Exception as err:  # pyarrow raises several types
            raise _parquet_error(path, err) from None
        if batch is None:
            break
        values = [batch.column(c).to_pylist() for c in columns]
        for offset, row in enumerate(zip(*values)):
            yield line + offset, tuple("" if v is None else str(v).strip() for v in row)
        line += batch.num_rows


# The table -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """One input format: the file suffixes that select it, the columns used when none are given, the reader
    of the whole file (``read(path)``) and the reader of its rows (``rows(path, columns)``)."""

    name: str
    suffixes: tuple[str, ...]
    default_columns: tuple[str, ...]
    read: Callable[[Path], SequenceTable]
    rows: Callable[[Path, list[str]], Rows]
    gzip: bool = True  # may be read gzip-compressed (``name.csv.gz``)


FASTA = Format("fasta", FASTA_SUFFIXES, ("sequence",), read_fasta, fasta_rows)
FORMATS = (
    FASTA,
    Format("text", (".txt",), ("text",), read_documents, document_rows),
    Format("csv", (".csv",), (), partial(read_delimited, delimiter=","), partial(delimited_rows, delimiter=",")),
    Format("tsv", (".tsv",), (), partial(read_delimited, delimiter="\t"), partial(delimited_rows, delimiter="\t")),
    Format("parquet", (".parquet", ".pq"), (), read_parquet, parquet_rows, gzip=False),
)


def supported_suffixes() -> tuple[str, ...]:
    """Every suffix of the table (without ``.gz``)."""
    return tuple(s for f in FORMATS for s in f.suffixes)


def find_format(path: str | Path) -> Format | None:
    """The format of ``path`` by its suffix (``.gz`` ignored), or ``None``."""
    name = base_name(path)
    return next((f for f in FORMATS if name.endswith(f.suffixes)), None)


def format_of(path: str | Path) -> Format:
    """The format of ``path`` by its suffix; an unknown suffix, or ``.gz`` on Parquet, is an error."""
    found = find_format(path)
    if found is None:
        suffix = Path(base_name(path)).suffix or "none"
        raise InputError(f"unsupported file suffix ({suffix})", path=str(path),
                         fix=f"use one of {' '.join(supported_suffixes())} (text formats may end in .gz)")
    if is_gzipped(path) and not found.gzip:
        raise InputError(f"{found.name} files cannot be read gzip-compressed", path=str(path),
                         fix="decompress it")
    return found


def default_columns(path: str | Path, columns: list[str]) -> list[str]:
    """``columns`` if given, else the default of the file's format (``sequence`` for FASTA, ``text`` for
    plain text); other formats need the columns named."""
    if columns:
        return columns
    found = find_format(path)
    if found is None or not found.default_columns:
        raise InputError("no sequence column given", path=str(path), fix="pass --columns COL[,COL]")
    return list(found.default_columns)
