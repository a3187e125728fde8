"""Pretraining corpora larger than memory: tokenised once into a memory-mapped Arrow file, then read
batch by batch (``seqssl pretrain --stream``).

Files are read in blocks (pyarrow's streaming CSV reader, Parquet row groups, FASTA line by line), each
sequence is tokenised and validated exactly as in memory (:func:`~seqssl.data.dataset.encode_row`: bad
residues and over-long sequences name file, line and column), and the ids are appended to an Arrow IPC
file in record batches. The file is keyed by the inputs (paths, sizes, modification times, columns,
vocabulary, length policy), written atomically, and reused by later runs. Training memory-maps it:
the operating system pages in what a batch touches, so resident memory stays bounded by the page cache,
the per-row lengths (for length bucketing) and one batch.

Plain pyarrow rather than Hugging Face ``datasets``: what is needed — one list column written in blocks
and a vectorised gather of rows from a memory map — is a few calls of pyarrow (already a dependency),
without ``datasets``' own cache, multiprocessing and fsspec stack.

Streamed corpora are not deduplicated (that needs every sequence in memory): deduplicate beforehand.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm

from ..errors import InputError
from .dataset import encode_row
from .readers import FASTA_SUFFIXES, _strip_gz
from .tokenizers import PAD_ID

FORMAT_VERSION = 1
ROWS_PER_BLOCK = 65_536


def default_cache_dir() -> Path:
    return Path(os.environ.get("SEQSSL_CACHE", Path.home() / ".cache" / "seqssl")) / "corpora"


def _text_lines(path: Path):
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as handle:
        yield from enumerate(handle, start=1)


def _fasta_rows(path: Path):
    """``(header line, (sequence,))`` per record, without holding the file."""
    start, parts = None, []
    for number, line in _text_lines(path):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            if start is not None:
                yield start, ("".join(parts),)
            start, parts = number, []
        elif start is None:
            raise InputError("sequence data before the first '>' header", path=str(path), line=number,
                             fix="start each FASTA record with a '>id' line")
        else:
            parts.append(line)
    if start is not None:
        yield start, ("".join(parts),)


def _check_columns(path: Path, available: list[str], columns: list[str]) -> None:
    missing = [c for c in columns if c not in available]
    if missing:
        raise InputError(f"missing column(s) {missing}", path=str(path), line=1,
                         fix=f"use --columns with some of {available}")


def _table_rows(path: Path, columns: list[str]):
    """``(line, tuple of strings)`` per row of a CSV/TSV/Parquet file, read block by block (CSV lines
    assume no line breaks inside quoted fields)."""
    name = _strip_gz(path)
    if name.endswith((".parquet", ".pq")):
        handle = pq.ParquetFile(path)
        _check_columns(path, handle.schema_arrow.names, columns)
        batches, line = handle.iter_batches(columns=columns, batch_size=ROWS_PER_BLOCK), 1
    else:
        delimiter = "\t" if name.endswith((".tsv", ".txt")) else ","
        header = next(_text_lines(path), (1, ""))[1].rstrip("\r\n").split(delimiter)
        _check_columns(path, [h.strip().strip('"') for h in header], columns)
        batches = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter),
                                 convert_options=pacsv.ConvertOptions(
                                     include_columns=columns, column_types={c: pa.string() for c in columns},
                                     strings_can_be_null=False))
        line = 2  # the header is line 1
    for batch in batches:
        values = [batch.column(c).to_pylist() for c in columns]
        for offset, row in enumerate(zip(*values)):
            yield line + offset, tuple("" if v is None else v.strip() for v in row)
        line += batch.num_rows


def rows_of(path: str, columns: list[str]):
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", path=path, fix="check the path")
    return _fasta_rows(p) if _strip_gz(p).endswith(FASTA_SUFFIXES) else _table_rows(p, columns)


def cache_key(files: list[tuple[str, list[str]]], tokenizer, max_length: int | None, too_long: str) -> str:
    stamp = [(str(Path(f).resolve()), os.stat(f).st_size, os.stat(f).st_mtime_ns, cols) for f, cols in files]
    spec = json.dumps({"files": stamp, "vocab": tokenizer.vocab, "unknown": getattr(tokenizer, "unknown", None),
                       "max_length": max_length, "too_long": too_long, "version": FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:24]


def tokenize_to_arrow(files: list[tuple[str, list[str]]], tokenizer, max_length: int | None, too_long: str,
                      cache_dir: str | Path | None = None, progress: bool = True) -> Path:
    """The Arrow file of the tokenised ``(file, columns)`` pairs, written once (atomically) and reused."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{cache_key(files, tokenizer, max_length, too_long)}.arrow"
    if target.exists():
        return target
    pairs = len(files[0][1]) == 2
    id_type = pa.int16() if tokenizer.vocab_size <= np.iinfo(np.int16).max else pa.int32()
    fields = [pa.field("input_ids", pa.list_(id_type)), pa.field("length", pa.int32())]
    if pairs:
        fields.append(pa.field("token_type_ids", pa.list_(pa.int8())))
    schema = pa.schema(fields)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    bar = tqdm(desc="tokenising corpus", unit="seq", disable=not progress, leave=False)
    try:
        with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            ids, types = [], []

            def flush():
                if not ids:
                    return
                columns = [pa.array(ids, type=pa.list_(id_type)), pa.array([len(x) for x in ids], type=pa.int32())]
                if pairs:
                    columns.append(pa.array(types, type=pa.list_(pa.int8())))
                writer.write_batch(pa.record_batch(columns, schema=schema))
                bar.update(len(ids))
                ids.clear()
                types.clear()

            for path, columns in files:
                for line, values in rows_of(path, columns):
                    enc = encode_row(tokenizer, values, columns, max_length, too_long,
                                     {"path": path, "line": line})
                    ids.append(enc.input_ids)
                    types.append(enc.token_type_ids)
                    if len(ids) == ROWS_PER_BLOCK:
                        flush()
            flush()
        os.replace(partial, target)
    finally:
        bar.close()
        if partial.exists():
            partial.unlink()
    return target


class ArrowCorpus:
    """A tokenised corpus memory-mapped from an Arrow file; rows are gathered per batch.

    The gather reads the record batches' value and offset buffers as zero-copy NumPy views of the memory
    map (``Table.take`` on a chunked column would first concatenate every chunk into memory)."""

    labels = None
    token_labels = None

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.table = pa.ipc.open_file(pa.memory_map(str(self.path), "r")).read_all()
        if self.table.num_rows == 0:
            raise InputError("the pretraining corpus is empty", path=str(self.path))
        self._lengths = self.table.column("length").to_numpy().astype(np.int32)
        chunks = self.table.column("input_ids").chunks
        self._starts = np.cumsum([0] + [len(c) for c in chunks])
        self._columns = {name: [(c.offsets.to_numpy(), c.values.to_numpy(zero_copy_only=True))
                                for c in self.table.column(name).chunks]
                         for name in ("input_ids", "token_type_ids") if name in self.table.column_names}

    def __len__(self) -> int:
        return self.table.num_rows

    def lengths(self) -> np.ndarray:
        return self._lengths

    def _dense(self, name: str, positions: np.ndarray, fill: int) -> torch.Tensor:
        lengths = self._lengths[positions]
        out = np.full((len(positions), int(lengths.max())), fill, dtype=np.int64)
        chunk = np.searchsorted(self._starts, positions, side="right") - 1
        for c in np.unique(chunk):
            rows = np.flatnonzero(chunk == c)
            offsets, values = self._columns[name][c]
            starts, counts = offsets[positions[rows] - self._starts[c]], lengths[rows]
            within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            out[np.repeat(rows, counts), within] = values[np.repeat(starts, counts) + within]
        return torch.from_numpy(out)

    def padded(self, positions) -> dict[str, torch.Tensor]:
        """The rows at ``positions`` padded to the longest of them (the same dict as ``pad_batch``)."""
        positions = np.asarray(positions, dtype=np.int64)
        input_ids = self._dense("input_ids", positions, PAD_ID)
        types = self._dense("token_type_ids", positions, 0) if "token_type_ids" in self._columns else \
            torch.zeros_like(input_ids)
        return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": (input_ids != PAD_ID).long()}
