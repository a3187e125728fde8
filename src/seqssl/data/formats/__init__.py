"""The table of input formats: one entry per format, with its suffixes, its default columns, a reader of the
whole file into a :class:`~seqssl.data.formats.table.SequenceTable` and a reader of its rows one by one.

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
tape     .json, .lmdb (a directory)                   one per TAPE record, TAPE's fields as columns
======== ============================================ ================================================

Streamed rows are ``(line, tuple of stripped strings)`` of the requested columns, read block by block
(pyarrow for Parquet, line by line for CSV, TSV, FASTA and text), so memory stays bounded.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import InputError
from .table import SequenceTable, base_name, check_columns, decode_text, is_gzipped, numbered_lines, text_lines
from .tape import read_tape_json, read_tape_lmdb, table_rows

Rows = Iterator[tuple[int, tuple[str, ...]]]
BLOCK_ROWS = 65_536  # rows per block when streaming Parquet
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


def delimited_records(lines: Iterable[str], path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(line of its first character, fields)`` per record of CSV/TSV text given line by line (line breaks
    kept), the header first; blank records (every field empty or spaces) skipped. One parser for both readers
    of the format, so that they agree on rows and on line numbers, also after a quoted field that holds line
    breaks (the next record's line counts the lines that field spans). Python's ``csv`` module is the parser:
    pandas' and pyarrow's C parsers report records, not the physical line a record starts on."""
    reader = csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoted(delimiter) else csv.QUOTE_NONE)
    ended = 0  # the physical line the previous record ended on
    try:
        for fields in reader:
            start, ended = ended + 1, reader.line_num
            if any(field.strip() for field in fields):
                yield start, fields
    except csv.Error as err:
        raise InputError(f"cannot parse as {_kind(delimiter)} ({err})".splitlines()[0], path=str(path),
                         line=reader.line_num, fix="check the delimiter and quoting") from None


def _fitted(fields: list[str], width: int, path: Path, line: int, delimiter: str) -> list[str]:
    """A data record's fields, one per header column: a short record is filled with empty fields (as pandas and
    R's ``read.csv`` fill it; a required column left empty is refused where it is read), a long one refused."""
    if len(fields) > width:
        raise InputError(f"a data row has more fields than the header ({len(fields)} against {width}; "
                         f"{_kind(delimiter)})", path=str(path), line=line,
                         fix="check the delimiter and quoting; remove trailing delimiters")
    return fields + [""] * (width - len(fields))


def _header_of(records: Iterator[tuple[int, list[str]]], path: Path) -> list[str]:
    """The stripped column names of the first record; a name of spaces is no name (``Unnamed: i``, as pandas
    calls an empty one), and no name may be given twice."""
    first = next(records, None)
    if first is None:
        raise InputError("file is empty", path=str(path), fix="add a header line and rows")
    return _unique_names([name.strip() or f"Unnamed: {i}" for i, name in enumerate(first[1])], path)


def _csv_field_limit() -> None:
    """Let a field be as long as the file (``csv``'s default limit is 128 KiB; a protein or a document may be
    longer)."""
    limit = 1 << 62
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a C long of 32 bits
            limit >>= 1


def read_delimited(path: Path, delimiter: str) -> SequenceTable:
    """CSV or TSV to a table of strings; the header is the first record and blank records are dropped."""
    text = decode_text(path)
    if not text.strip():
        raise InputError("file is empty", path=str(path), fix="add a header line and rows")
    _csv_field_limit()
    records = delimited_records(io.StringIO(text, newline=None), path, delimiter)  # line ends as streamed
    names = _header_of(records, path)
    lines, rows = [], []
    for line, fields in records:
        lines.append(line)
        rows.append(_fitted(fields, len(names), path, line, delimiter))
    if not rows:
        raise InputError("no data rows after the header", path=str(path), fix="add rows")
    frame = pd.DataFrame(rows, columns=names, dtype=str)
    return SequenceTable(frame, str(path), np.array(lines))


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


def delimited_rows(path: Path, columns: list[str], delimiter: str) -> Rows:
    """The requested columns of each non-blank row of a CSV or TSV file, read line by line (bounded memory)
    with the parser of :func:`read_delimited`."""
    _csv_field_limit()
    records = delimited_records((line for _, line in text_lines(path)), path, delimiter)
    names = _header_of(records, path)
    check_columns(str(path), names, columns)
    wanted = [names.index(c) for c in columns]
    found = False
    for line, fields in records:
        fields = _fitted(fields, len(names), path, line, delimiter)
        found = True
        yield line, tuple(fields[i].strip() for i in wanted)
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
    if len(frame) == 0:
        raise InputError("no rows", path=str(path), fix="add rows")  # as a CSV with a header alone
    return SequenceTable(frame.reset_index(drop=True), str(path), np.arange(len(frame)) + 1)


def parquet_batches(path: Path, columns: list[str],
                    batch_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(line of its first row, record batch of batch_rows rows, the last fewer)``, reading only ``columns``, in
    order. Row group by row group (``read_row_group``), cut and joined into batches here: pyarrow's
    ``iter_batches`` kept memory a batch (reading the 10M-row benchmark file grew the reading process from 155 to
    533 MB over its 153 batches; row group by row group, reading alone, it stays at ~105 MB)."""
    try:
        handle = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types
        raise _parquet_error(path, err) from None
    check_columns(str(path), handle.schema_arrow.names, columns)
    line, carry = 1, None
    for group in range(handle.num_row_groups):
        try:  # a damaged row group fails only when read
            table = handle.read_row_group(group, columns=columns)
        except Exception as err:  # pyarrow raises several types
            raise _parquet_error(path, err) from None
        carry = table if carry is None else pa.concat_tables([carry, table])
        while carry.num_rows >= batch_rows:
            yield line, _one_batch(carry.slice(0, batch_rows))
            line, carry = line + batch_rows, carry.slice(batch_rows)
    if carry is not None and carry.num_rows:
        yield line, _one_batch(carry)
        line += carry.num_rows
    if line == 1:
        raise InputError("no rows", path=str(path), fix="add rows")


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    return table.combine_chunks().to_batches()[0]


def batch_values(batch: pa.RecordBatch, columns: list[str]) -> list[list[str]]:
    """Per column of ``columns``, its values as stripped strings (missing values empty), as every format reads."""
    return [["" if v is None else str(v).strip() for v in batch.column(c).to_pylist()] for c in columns]


def parquet_rows(path: Path, columns: list[str]) -> Rows:
    """The requested columns of each row (as stripped strings, missing values empty), row group by row group."""
    for line, batch in parquet_batches(path, columns):
        for offset, row in enumerate(zip(*batch_values(batch, columns))):
            yield line + offset, row


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
    directory: bool = False  # the "file" may be a directory (an LMDB database)


FASTA = Format("fasta", FASTA_SUFFIXES, ("sequence",), read_fasta, fasta_rows)
FORMATS = (
    FASTA,
    Format("text", (".txt",), ("text",), read_documents, document_rows),
    Format("csv", (".csv",), (), partial(read_delimited, delimiter=","), partial(delimited_rows, delimiter=",")),
    Format("tsv", (".tsv",), (), partial(read_delimited, delimiter="\t"), partial(delimited_rows, delimiter="\t")),
    Format("parquet", (".parquet", ".pq"), (), read_parquet, parquet_rows, gzip=False),
    Format("tape-json", (".json",), ("primary",), read_tape_json, table_rows(read_tape_json), gzip=False),
    Format("tape-lmdb", (".lmdb",), ("primary",), read_tape_lmdb, table_rows(read_tape_lmdb), gzip=False,
           directory=True),
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
