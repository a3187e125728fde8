"""Read any supported file (CSV/TSV/plain text, optionally gzipped; FASTA; Parquet) into a validated
:class:`SequenceTable`: the public entry of the data readers.

The formats, chosen by suffix, are in :mod:`seqssl.data.formats`; :class:`SequenceTable` and
:func:`require_columns` live in :mod:`seqssl.data.formats.table` and are re-exported here. Every check raises
:class:`~seqssl.errors.InputError` naming the file, the line and the column.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import InputError
from . import find_format, format_of, supported_suffixes
from .table import SequenceTable, check_file, require_columns, table_from_frame  # noqa: F401  re-exported

__all__ = ["SequenceTable", "expand_paths", "read_table", "require_columns"]


def expand_paths(path: str | Path) -> list[str]:
    """A file, or every supported file (``.gz`` too) directly inside a directory of shards, sorted."""
    path = Path(path)
    found = find_format(path)
    if path.is_dir() and not (found is not None and found.directory):  # (an LMDB database is one input)
        files = sorted(str(p) for p in path.iterdir() if p.is_file() and find_format(p) is not None)
        if not files:
            raise InputError("directory holds no CSV/TSV/FASTA/Parquet files", path=str(path),
                             fix=f"add files ending in one of {' '.join(supported_suffixes())}")
        return files
    return [str(path)]


def read_table(path) -> SequenceTable:
    """Read any supported file; the format is chosen by suffix (``.gz`` allowed on text formats). A pandas
    DataFrame is taken as it is (:func:`~seqssl.data.formats.table.table_from_frame`)."""
    if isinstance(path, pd.DataFrame):
        return table_from_frame(path)
    found = find_format(path)
    if Path(path).is_dir() and not (found is not None and found.directory):
        from .benchmarks import benchmark_parts, read_benchmark  # a TAPE task directory or GLUE task folder
        if benchmark_parts(Path(path)):
            return read_benchmark(Path(path))
    if not (found is not None and found.directory and Path(path).is_dir()):
        path = check_file(path)
    return format_of(path).read(Path(path))
