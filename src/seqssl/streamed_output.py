"""Tables larger than memory, scored block by block (``seqssl predict --stream``, ``seqssl embed --stream``): the input
is read ``block_rows`` rows at a time by its format's own row reader (so errors keep their file, line and column),
each block's output is written as a Parquet file of its own as soon as it is done (atomically), and at the end the
blocks are joined into one Parquet file, one row group per block, read back one block at a time. Memory holds one
block's rows, never the table, and the activations of the batch being scored (an attention matrix alone is rows ×
heads × length² floats: 210 MB at 512 rows, 4 heads and 160 tokens), whatever the file's size; a lower
``batch_size`` lowers that part. On the BELKA benchmark (``benchmarks/bench_labelled_stream.py``,
``predict_anonymous_mb_after_*_block``), what the process holds between blocks rose by 135 and 200 MB over the 16
blocks of two 1M-row passes and levelled off over 3M rows (at most 856 MB in the first ten blocks, 863 in the last
ten); the peak was 1.04 GB for 1M rows and 1.09 for 3M. A heap trim after each block raised it instead (docs/results).

A killed run leaves its finished blocks in ``OUT.parts/`` beside the output; the same command with ``resume``
skips them and goes on (the input and block size must be the same: ``OUT.parts/stream.json`` records them).
Written by hand: pyarrow writes row groups, but not resumably, and no library scores a model block by block.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .data.formats.blocks import table_blocks
from .data.formats.table import SequenceTable
from .errors import InputError
from .io import atomic_write_text, write_table


def parts_directory(out: Path, data: Path, block_rows: int, resume: bool) -> Path:
    """``OUT.parts/``: new, or (``resume``) an unfinished run's, of the same input and block size."""
    parts = out.with_name(out.name + ".parts")
    record = {"data": str(Path(data).resolve()), "block_rows": block_rows}
    if parts.exists() and not resume:
        raise InputError("an unfinished streamed run left its finished blocks here", path=str(parts),
                         fix="add --resume to go on from them, or delete the folder to start again")
    if parts.exists():
        saved = json.loads((parts / "stream.json").read_text()) if (parts / "stream.json").exists() else {}
        if saved != record:
            raise InputError(f"--resume: the blocks were made from {saved.get('data')} in blocks of "
                             f"{saved.get('block_rows')} rows", path=str(parts),
                             fix="resume with the same --data, or delete the folder to start again")
        return parts
    parts.mkdir(parents=True)
    atomic_write_text(parts / "stream.json", json.dumps(record))
    return parts


def join_parts(parts: list[Path], out: Path) -> int:
    """The blocks' files as one Parquet file (one row group each; columns a block lacks are null), written
    atomically; returns its rows."""
    schema = pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for part in parts:
            table = pq.read_table(part)
            for name in schema.names:
                if name not in table.column_names:
                    table = table.append_column(name, pa.nulls(table.num_rows, schema.field(name).type))
            writer.write_table(table.select(schema.names).cast(schema))
            rows += table.num_rows
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return rows


def streamed_rows(data, out: Path | None, block_rows: int, resume: bool,
                  rows_of: Callable[[SequenceTable, int], pd.DataFrame]) -> Path:
    """``rows_of(block, its first row's place in the file)`` (the block's output rows) over every block of the file
    ``data``, into the Parquet file ``out`` (see the module docstring); returns ``out``."""
    if not isinstance(data, (str, Path)):
        raise InputError("--stream reads a file block by block", fix="pass --data PATH (or drop --stream)")
    if out is None or out.suffix.lower() != ".parquet":
        raise InputError("--stream writes Parquet, a block (row group) at a time",
                         fix="end --out with .parquet")
    if block_rows < 1:
        raise InputError(f"block rows must be at least 1, got {block_rows}")
    parts = parts_directory(out, Path(data), block_rows, resume)
    offset, written = 0, []
    for k, table in enumerate(table_blocks(Path(data), block_rows)):
        part = parts / f"part-{k:06d}.parquet"
        if not part.exists():  # a resumed run skips the blocks it has
            write_table(rows_of(table, offset), part)
        written.append(part)
        offset += len(table)
    if not written:
        raise InputError("no rows", path=str(data), fix="add rows")
    join_parts(written, out)
    shutil.rmtree(parts)
    return out
