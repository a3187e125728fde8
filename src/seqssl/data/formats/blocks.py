"""A table file as blocks of rows, read by its format's own row reader (so every error keeps its file, line and
column): what ``predict --stream``, ``embed --stream`` and ``finetune --stream`` read. Memory holds one block."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import batch_values, format_of, parquet_batches
from .readers import read_table
from .table import SequenceTable

STREAMED_FORMATS = ("csv", "tsv", "parquet")  # read block by block; other formats are read whole, then cut


def file_columns(path: Path, fmt) -> list[str]:
    """Every column of a table file, in order (its header or its schema)."""
    if fmt.name == "parquet":
        return list(pq.ParquetFile(path).schema_arrow.names)
    return list(pd.read_csv(path, sep="\t" if fmt.name == "tsv" else ",", nrows=0, quoting=3 if fmt.name == "tsv"
                            else 0).columns)


@dataclass
class ParquetBlock:
    """A block of a Parquet file as its record batch (compact Arrow buffers, no Python object a value), turned into a
    :class:`SequenceTable` where it is used (:meth:`table`): ``finetune --stream``'s reader sends these to its worker
    processes, so the reading process never holds a block's values as Python strings."""

    path: str
    first_line: int
    batch: pa.RecordBatch

    def __len__(self) -> int:
        return self.batch.num_rows

    def table(self) -> SequenceTable:
        columns = self.batch.schema.names
        frame = pd.DataFrame(dict(zip(columns, batch_values(self.batch, columns))), columns=columns)
        return SequenceTable(frame, self.path, np.arange(self.first_line, self.first_line + len(self)))


def as_table(block: SequenceTable | ParquetBlock) -> SequenceTable:
    """A block of :func:`raw_blocks` as a table."""
    return block.table() if isinstance(block, ParquetBlock) else block


def raw_blocks(path: Path, block_rows: int) -> Iterator[SequenceTable | ParquetBlock]:
    """:func:`table_blocks`, Parquet's left as record batches (:class:`ParquetBlock`)."""
    fmt = format_of(path)
    if fmt.name == "parquet":
        columns = file_columns(path, fmt)
        for line, batch in parquet_batches(path, columns, block_rows):
            yield ParquetBlock(str(path), line, batch)
        return
    yield from table_blocks(path, block_rows)


def table_blocks(path: Path, block_rows: int) -> Iterator[SequenceTable]:
    """The file as tables of at most ``block_rows`` rows, in order, each with its rows' own line numbers."""
    fmt = format_of(path)
    if fmt.name == "parquet":
        yield from map(as_table, raw_blocks(path, block_rows))
        return
    if fmt.name not in STREAMED_FORMATS:
        table = read_table(path)
        for start in range(0, len(table), block_rows):
            yield table.subset(np.arange(start, min(start + block_rows, len(table))))
        return
    columns = file_columns(path, fmt)
    lines: list[int] = []
    values: list[tuple] = []
    for line, row in fmt.rows(path, columns):
        lines.append(line)
        values.append(row)
        if len(values) == block_rows:
            yield SequenceTable(pd.DataFrame(values, columns=columns), str(path), np.asarray(lines))
            lines, values = [], []
    if values:
        yield SequenceTable(pd.DataFrame(values, columns=columns), str(path), np.asarray(lines))
