"""Pretraining corpora larger than memory: tokenised once into a memory-mapped Arrow file, then read
batch by batch (``seqssl pretrain --stream``).

Files are read in blocks by their format (:mod:`seqssl.data.formats`: pyarrow's streaming CSV reader, Parquet
row groups, FASTA and plain text line by line; the rows and lines the in-memory readers give), each
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

import hashlib
import json
import mmap
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from ..errors import InputError
from ..heap import trim_heap
from .dataset import encode_row
from .formats import format_of
from .formats.table import check_file
from .tokenizers.vocab import PAD_ID

FORMAT_VERSION = 2  # 2: rows from the format table (.txt one document per line, exact CSV line numbers)
ROWS_PER_BLOCK = 65_536


def default_cache_dir() -> Path:
    return Path(os.environ.get("SEQSSL_CACHE", Path.home() / ".cache" / "seqssl")) / "corpora"


def rows_of(path: str, columns: list[str]):
    """``(line, tuple of stripped strings)`` of ``columns`` per row of any supported file, read block by
    block by its format (:mod:`seqssl.data.formats`): the rows the in-memory reader gives."""
    p = check_file(path)
    return format_of(p).rows(p, columns)


def cache_key(files: list[tuple[str, list[str]]], tokenizer, max_length: int | None, too_long: str) -> str:
    stats = [(check_file(f), cols) for f, cols in files]  # a missing file: InputError, not FileNotFoundError
    stamp = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns, cols) for p, cols in stats]
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
    pairs = len(files[0][1]) >= 2  # segment ids are stored for two or more columns (one column: all 0)
    id_type = pa.int16() if tokenizer.vocab_size <= np.iinfo(np.int16).max else pa.int32()
    fields = [pa.field("input_ids", pa.list_(id_type)), pa.field("length", pa.int32())]
    if pairs:
        fields.append(pa.field("token_type_ids", pa.list_(pa.int8())))
    schema = pa.schema(fields)
    with arrow_written_atomically(target, schema, "tokenising corpus", progress) as (writer, bar):
        ids: list[np.ndarray] = []
        types: list[np.ndarray] = []

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
                enc = encode_row(tokenizer, values, columns, max_length, too_long, {"path": path, "line": line})
                ids.append(enc.input_ids)
                types.append(enc.token_type_ids)
                if len(ids) == ROWS_PER_BLOCK:
                    flush()
        flush()
    return target


@contextmanager
def arrow_written_atomically(target: Path, schema: pa.Schema, desc: str, progress: bool):
    """``(writer, progress bar)`` of an Arrow IPC file written beside ``target`` and moved onto it when the block
    ends without an error (a killed or failed run leaves no half-written ``target``)."""
    partial = target.with_suffix(f".partial-{os.getpid()}")
    bar = tqdm(desc=desc, unit="row", disable=not progress, leave=False)
    try:
        with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            yield writer, bar
        drop_cached_pages(partial)
        os.replace(partial, target)
    finally:
        bar.close()
        if partial.exists():
            partial.unlink()


# Rows gathered from a map between two drops of its resident pages (MADV_DONTNEED): 1, before every gather. A fault
# maps the cached pages around it too (the kernel's fault-around, 64 KiB, which MADV_RANDOM does not turn off), so
# scattered gathers add up: released every 65,536 rows, a test split's pass counted most of a 10M-row cache.
# Dropping the pages costs ~0.1 ms a gather, re-faulting what the next gather reads.
RELEASE_EVERY_ROWS = 1

# How far the process's anonymous memory may grow past where the last trim left it before a gather trims the C heap
# (seqssl.heap.trim_heap, checked before every gather): the memory a streamed run adds stays below this whatever the
# rows. The 1M-row benchmark's training phase (benchmarks/bench_heap_trim.py, 2 runs each, 326 gathers a run;
# docs/results/bench_heap_trim_1m_growth_cpu.txt) peaked at 1.25 and 1.12 GB untrimmed; trimmed before every gather,
# 0.79 and 0.77; after 64 MiB of growth, 0.78 and 0.81 (158 trims); after 256 MiB, 0.87 and 0.91 with 29-30 trims.
# At 10M (670 gathers): 1.31 and 1.41 untrimmed, 1.01 and 1.01 after 256 MiB (43-45 trims), 0.93 every gather.
# Step times (0.18-0.31 s) did not tell the arms apart: two untrimmed runs alone differed by 14%.
TRIM_AFTER_GROWTH_BYTES = 256 * 2**20


def drop_cached_pages(path: Path) -> None:
    """Flush ``path`` to disk (dirty pages cannot be dropped; a clean file flushes at once) and drop its pages from
    the page cache (``POSIX_FADV_DONTNEED``; pages some process has mapped stay).

    A file just written (or read in order) sits in the page cache as large folios, and a fault on a map of it maps
    the whole folio: touching one byte of a freshly written cache counted 2 MiB in RSS here (``FilePmdMapped``),
    and random batches soon counted the whole file, whatever the map's advice. Read back through
    :func:`advised_map` (``MADV_RANDOM``: no readahead), the pages come in one at a time, and a fault maps at most
    the 64 KiB of cached pages around it, and later runs find those small pages cached (so a map is not dropped
    when opened). Flushing first also means a killed machine cannot leave a renamed but empty cache. Where
    ``posix_fadvise`` is missing (macOS), nothing is dropped."""
    if not hasattr(os, "posix_fadvise"):
        return
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
        os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(handle)


def advised_map(path: Path) -> mmap.mmap:
    """A read-only memory map of ``path`` advised for random access.

    Batches gather rows scattered over the whole file; with the kernel's default readahead each fault pages in
    the neighbours too (up to 128 KiB), and a few tens of thousands of random rows leave the whole file resident
    (counted in the process's RSS). ``MADV_RANDOM`` reads in only what a gather touches (pages already in the
    page cache are still mapped 64 KiB at a time: :data:`RELEASE_EVERY_ROWS`; whole large folios straight after
    writing, hence :func:`drop_cached_pages`). pyarrow's own
    ``memory_map`` gives no way to advise the map, hence Python's :mod:`mmap` (under a ``pa.py_buffer``)."""
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):  # Linux and the BSDs; elsewhere the default advice stands
        mapped.madvise(mmap.MADV_RANDOM)
    return mapped


def release_pages(mapped: mmap.mmap) -> None:
    """Unmap the pages of ``mapped`` this process has touched (``MADV_DONTNEED``): they stay in the page cache,
    and the next read of one faults it back in, but they no longer count in the process's RSS. Without it, a
    pass over rows spread through the file (scoring a test split of 2% of the rows touches nearly every page)
    leaves the whole file counted, however little of it is in use."""
    if hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def table_of(mapped: mmap.mmap) -> pa.Table:
    """The Arrow IPC file in ``mapped`` as a table whose buffers are views of the map (nothing copied)."""
    return pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapped))).read_all()


def memory_mapped_table(path: Path) -> pa.Table:
    """The Arrow IPC file at ``path`` as a zero-copy table over an advised memory map (:func:`advised_map`)."""
    return table_of(advised_map(path))


class ArrowCorpus:
    """A tokenised corpus memory-mapped from an Arrow file; rows are gathered per batch.

    The gather reads the record batches' value and offset buffers as zero-copy NumPy views of the memory
    map (``Table.take`` on a chunked column would first concatenate every chunk into memory)."""

    labels = None
    token_labels = None

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._map = advised_map(self.path)
        self._gathered = 0  # rows gathered since the map's pages were last released
        self.table = table_of(self._map)
        if self.table.num_rows == 0:
            raise InputError("the pretraining corpus is empty", path=str(self.path))
        self._lengths = self.table.column("length").to_numpy().astype(np.int32, copy=False)
        chunks = self.table.column("input_ids").chunks
        self._starts = np.cumsum([0] + [len(c) for c in chunks])
        self._columns = {name: [(c.offsets.to_numpy(), c.values.to_numpy(zero_copy_only=True))
                                for c in self.table.column(name).chunks]
                         for name in ("input_ids", "token_type_ids") if name in self.table.column_names}

    def __len__(self) -> int:
        return self.table.num_rows

    def lengths(self) -> np.ndarray:
        return self._lengths

    def width(self) -> int:
        """Sequence columns per entry: one more than the largest segment id."""
        if "token_type_ids" not in self._columns:
            return 1
        return 1 + max((int(values.max()) for _, values in self._columns["token_type_ids"] if len(values)), default=0)

    def labels_at(self, positions) -> np.ndarray | None:
        """What a batch reads of its rows' labels: an unlabelled corpus has none."""
        return None

    def release(self) -> None:
        """Release the map's resident pages now (after a pass over a whole column: :func:`release_pages`)."""
        release_pages(self._map)
        self._gathered = 0

    def _gathering(self, rows: int) -> None:
        """Count ``rows`` about to be gathered; every :data:`RELEASE_EVERY_ROWS` rows (every gather), release the
        map's resident pages (:func:`release_pages`), so the file's pages in RSS stay bounded by what the last
        gather touched; and trim the C heap (:func:`~seqssl.heap.trim_heap`) once the process has grown by more than
        :data:`TRIM_AFTER_GROWTH_BYTES` since the last trim, so the freed activations of batches of changing shapes
        do not pile up in it."""
        self._gathered += rows
        if self._gathered >= RELEASE_EVERY_ROWS:
            release_pages(self._map)
            self._gathered = 0
        trim_heap(grown=TRIM_AFTER_GROWTH_BYTES)

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
        self._gathering(len(positions))
        input_ids = self._dense("input_ids", positions, PAD_ID)
        types = self._dense("token_type_ids", positions, 0) if "token_type_ids" in self._columns else \
            torch.zeros_like(input_ids)
        return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": (input_ids != PAD_ID).long()}
