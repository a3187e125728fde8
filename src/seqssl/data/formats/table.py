"""The validated table read from one file (:class:`SequenceTable`), and what every input format shares:
file checks, text decoding (whole file, or line by line with bounded memory; ``.gz`` allowed) and column checks.

Every check raises :class:`~seqssl.errors.InputError` naming the file, the line and the column. The formats
themselves are in :mod:`seqssl.data.formats`.
"""
from __future__ import annotations

import gzip
import io
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError

HEAD_BYTES = 4096  # a NUL byte in the first HEAD_BYTES marks a binary file


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

    def subset(self, positions) -> SequenceTable:
        positions = np.asarray(positions)
        return SequenceTable(self.frame.iloc[positions].reset_index(drop=True), self.path,
                             self.lines[positions])


FRAME_PATH = "<DataFrame>"


def table_from_frame(frame: pd.DataFrame) -> SequenceTable:
    """A pandas DataFrame as a table (the Python API takes one wherever the CLI takes ``--data``); errors name
    its rows from 1, as ``line``."""
    return SequenceTable(frame.reset_index(drop=True), FRAME_PATH, np.arange(1, len(frame) + 1))


def is_gzipped(path: str | Path) -> bool:
    """Whether the file name ends in ``.gz``."""
    return Path(path).name.lower().endswith(".gz")


def base_name(path: str | Path) -> str:
    """The lower-case file name without a ``.gz`` suffix (what the format is chosen by)."""
    name = Path(path).name.lower()
    return name[:-3] if name.endswith(".gz") else name


def check_file(path: str | Path) -> Path:
    """``path`` as a :class:`Path`, after checking it is an existing file."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path), fix="check the path")
    if path.is_dir():
        raise InputError("is a directory, expected a file", path=str(path))
    return path


def _gzip_error(path: Path, err: Exception) -> InputError:
    return InputError(f"not a valid gzip file ({err})", path=str(path), fix="decompress it or remove the .gz suffix")


def _utf8_error(path: Path, where: str) -> InputError:
    return InputError(f"not UTF-8 text ({where})", path=str(path), fix="save the file as UTF-8")


def _check_head(head: bytes, path: Path) -> None:
    """Refuse a binary file by its first bytes."""
    if b"\x00" in head[:HEAD_BYTES]:
        raise InputError("looks like a binary file, not text", path=str(path),
                         fix="pass a CSV, TSV, FASTA or Parquet file")


def decode_text(path: Path) -> str:
    """The whole file as text (``.gz`` decompressed, a UTF-8 byte-order mark tolerated)."""
    raw = path.read_bytes()
    if is_gzipped(path):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise _gzip_error(path, err) from None
    _check_head(raw, path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _utf8_error(path, f"byte {err.start}") from None


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line)`` of text held in memory, split as :func:`text_lines` splits a file."""
    return enumerate(io.StringIO(text, newline=None), start=1)


def _open_lines(path: Path) -> io.TextIOWrapper:
    """The file as a text stream of lines, after the binary check of its first bytes."""
    raw = gzip.open(path, "rb") if is_gzipped(path) else open(path, "rb")
    try:
        _check_head(raw.read(HEAD_BYTES), path)
        raw.seek(0)
    except BaseException:
        raw.close()
        raise
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline=None)


def text_lines(path: Path) -> Generator[tuple[int, str], None, None]:
    """``(1-based line number, line)`` of a text file read line by line (bounded memory), with the checks of
    :func:`decode_text`."""
    number = 0
    try:
        with _open_lines(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line
    except UnicodeDecodeError:
        raise _utf8_error(path, f"after line {number}" if number else "in the first lines") from None
    except (OSError, EOFError) as err:
        if not is_gzipped(path):
            raise
        raise _gzip_error(path, err) from None


def check_columns(path: str, available: list[str], columns: list[str]) -> None:
    """Fail with the list of available columns (and the delimiter hint) if one of ``columns`` is missing."""
    for column in columns:
        if column not in available:
            fix = f"choose one of: {', '.join(map(str, available[:12]))}"
            if len(available) == 1 and any(d in str(available[0]) for d in ",;\t"):
                fix = "the header has one column: wrong delimiter? use .csv for commas, .tsv for tabs"
            raise InputError(f"missing column '{column}'", path=path, fix=fix)


def require_columns(table: SequenceTable, columns: list[str]) -> None:
    """Fail with the list of available columns (and the delimiter hint) if one is missing."""
    check_columns(table.path, list(table.frame.columns), columns)
