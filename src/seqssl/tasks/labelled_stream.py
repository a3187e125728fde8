"""Labelled tables larger than memory (``seqssl finetune --stream``): read block by block, checked and tokenised
once into a memory-mapped Arrow cache beside the pretraining corpora (:mod:`seqssl.data.stream`), then trained on
batch by batch.

Each block of ``--block-rows`` rows (:func:`~seqssl.data.formats.blocks.table_blocks`: the format's own row reader, so
errors name file, line and column) goes through the rules the in-memory path applies to the whole table: the
task's labels (:meth:`Task.read_block_labels`), RDKit's check of every molecule (``--invalid-smiles``),
tokenisation and the length rule (:func:`~seqssl.data.dataset.encode_row`). Blocks run in ``--jobs`` worker
processes, a bounded number in flight, and are written in file order; a Parquet block goes to its worker as a record
batch and comes back as the cache's record batch (:func:`cache_block`), so the reading process holds Arrow buffers,
never a Python object per row.

What the cache holds per row: ``input_ids`` (and ``token_type_ids`` for several columns), ``labels`` (one float;
multilabel: one column per target, NaN where unmeasured), ``side`` (0 train, 1 validation, 2 test) and ``draw``,
a number in [0, 1) hashed from the row's group. Sides come from ``--split-column`` (``train``/``valid``/``test``)
or from the draw: ``draw < val_fraction`` is validation, the next ``test_fraction`` test. The draw hashes the
``--group-column`` value, the Murcko scaffold (``--split scaffold``), or else the row's sequences, so a group (or a
repeated sequence) never straddles two sides, and no table is ever held to decide it. With a split column that
marks no validation rows, the training rows with ``draw < val_fraction`` are the validation rows.

Multilabel targets are read wide (one label column per target) or long (``--target-column``: one row per (input,
target), as in Leash Bio's BELKA files): the rows of one input must be consecutive, as they are in BELKA's files
(a block never cuts them apart; rows of one input further apart become separate examples, each with the targets
its rows measure). Long targets are named by the first block (an unseen name later is an error).

Written by hand: pyarrow writes and maps the file; what is ours is applying seqssl's own row rules block by block.
"""
from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..data.dataset import encode_row, sequences_of
from ..data.formats.blocks import ParquetBlock, as_table, raw_blocks, table_blocks
from ..data.formats.table import SequenceTable, check_file
from ..data.splits import Split, split_sides
from ..data.stream import ArrowCorpus, arrow_written_atomically, default_cache_dir
from ..errors import InputError
from ..heap import trim_heap
from ..io import atomic_write_text
from . import get_task

FORMAT_VERSION = 1
SIDE_CODES = {"train": 0, "valid": 1, "test": 2}


@dataclass
class BlockRecipe:
    """What turns one block into cache rows; pickled to the ``--jobs`` worker processes."""

    task: str
    columns: list[str]
    data_cfg: Any  # DataConfig: label, split and molecule options
    tokenizer: Any
    max_length: int | None
    molecular: bool
    val_fraction: float
    test_fraction: float
    seed: int
    scaffold: bool = False  # draw from the Murcko scaffold of the first column
    targets: list[str] | None = None  # multilabel: the targets' order
    graphs: bool = False  # also each molecule's graph codes and canonical SMILES (seqssl.data.molecules.codes)

    def key(self, files: list[str]) -> str:
        """The cache key: the files (path, size, modification time) and everything that changes a row."""
        stamp = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in map(check_file, files)]
        spec = {**{k: v for k, v in vars(self).items() if k not in ("tokenizer", "data_cfg")},
                "files": stamp, "vocab": self.tokenizer.vocab, "version": FORMAT_VERSION,
                "data": {k: getattr(self.data_cfg, k, None) for k in LABEL_OPTIONS}}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:24]


LABEL_OPTIONS = ("label_column", "target_column", "positive_label", "split_column", "validation_column",
                 "group_column", "too_long", "invalid_smiles", "unknown_residues")


@dataclass
class EncodedBlock:
    """One block's cache rows, and what was left out of it."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    labels: np.ndarray
    sides: np.ndarray
    draws: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    graphs: dict | None = None  # atoms, pairs, bonds: (values, counts per row); canonical: a string per row


def group_draws(keys, seed: int) -> np.ndarray:
    """A number in [0, 1) per key, the same for equal keys in every block and run (pandas' SipHash of the text,
    keyed by the seed)."""
    hashed = pd.util.hash_array(np.asarray(keys, dtype=object), hash_key=f"seqssl{seed % 10**10:010d}")
    return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)


def draw_keys(recipe: BlockRecipe, table: SequenceTable, rows: list[tuple],
              scaffolds: list[str] | None = None) -> list[str]:
    """What a row's draw hashes: its group, its scaffold (``scaffolds``: computed as the molecules were
    parsed, else from the SMILES), or its sequences."""
    column = recipe.data_cfg.group_column
    if column:
        if column not in table.frame.columns:
            raise InputError(f"missing column '{column}' (--group-column)", path=table.path)
        return table.frame[column].astype(str).str.strip().str.upper().tolist()
    if recipe.scaffold:
        from ..data.molecules import murcko_scaffold
        found = scaffolds if scaffolds is not None else [murcko_scaffold(r[0]) for r in rows]
        return [scaffold or f" acyclic {r[0]}" for scaffold, r in zip(found, rows)]
    return ["\t".join(r).upper() for r in rows]


def block_sides(recipe: BlockRecipe, table: SequenceTable, draws: np.ndarray) -> np.ndarray:
    """0 train, 1 validation, 2 test per row: from the split column, or from the draws."""
    if recipe.data_cfg.split_column:
        sides = split_sides(table, recipe.data_cfg.split_column, recipe.data_cfg.validation_column)
        return np.array([SIDE_CODES[s] for s in sides], dtype=np.int8)
    return np.where(draws < recipe.val_fraction, 1,
                    np.where(draws < recipe.val_fraction + recipe.test_fraction, 2, 0)).astype(np.int8)


def aligned_targets(recipe: BlockRecipe, table: SequenceTable, labels) -> np.ndarray:
    """A multilabel block's matrix in the recipe's target order (a target the block lacks: NaN)."""
    values = np.asarray(labels.values, dtype=np.float32)
    if recipe.targets is None:
        return values
    block_targets = labels.meta.get("targets", [])
    unknown = [t for t in block_targets if t not in recipe.targets]
    if unknown:
        raise InputError(f"target '{unknown[0]}' is not among the first block's targets {recipe.targets}",
                         path=table.path, column=recipe.data_cfg.target_column,
                         fix="put a row of every target in the first block, or pivot the file to one column per "
                             "target (--label-column A,B,C)")
    out = np.full((len(values), len(recipe.targets)), np.nan, dtype=np.float32)
    for j, name in enumerate(block_targets):
        out[:, recipe.targets.index(name)] = values[:, j]
    return out


def encode_block(recipe: BlockRecipe, table: SequenceTable) -> EncodedBlock:
    """One block checked, labelled, tokenised and given its sides (runs in a worker process)."""
    task = get_task(recipe.task)
    table, labels = task.read_block_labels(table, recipe.columns, recipe.data_cfg)
    counts = {"rows": len(table)}
    kept = MoleculeColumns(recipe.graphs, recipe.scaffold)
    if recipe.molecular or recipe.graphs:
        from .labelled import valid_molecules
        table, keep, counts["invalid_smiles_skipped"] = valid_molecules(
            table, recipe.columns[:1], recipe.data_cfg.invalid_smiles, kept.add)
        labels = labels.subset(keep)
    rows = sequences_of(table, recipe.columns)
    ids, types, cut = [], [], 0
    for i, values in enumerate(rows):
        enc = encode_row(recipe.tokenizer, values, recipe.columns, recipe.max_length, recipe.data_cfg.too_long,
                         {"path": table.path, "line": table.line_of(i)})
        ids.append(enc.input_ids)
        types.append(enc.token_type_ids)
        cut += enc.truncated
    counts["truncated_rows"] = cut
    draws = group_draws(draw_keys(recipe, table, rows, kept.scaffolds), recipe.seed)
    return EncodedBlock(ids, types, aligned_targets(recipe, table, labels), block_sides(recipe, table, draws),
                        draws.astype(np.float32), counts, kept.graph_columns() if recipe.graphs else None)


class MoleculeColumns:
    """What a block keeps of each valid molecule as RDKit parses it (the molecule itself is dropped: a block of
    65,536 would hold ~3 GB): its graph codes and canonical SMILES (``graphs``: :mod:`.molecule_codes`) and its
    Bemis–Murcko scaffold (``scaffolds``: the scaffold split's draw)."""

    def __init__(self, graphs: bool, scaffolds: bool):
        from ..data.molecules import Chem, murcko_scaffold
        from ..data.molecules.codes import BlockCodes
        self.codes = BlockCodes() if graphs else None
        self.canonical: list[str] = []
        self.scaffolds: list[str] | None = [] if scaffolds else None
        self._smiles, self._scaffold = Chem.MolToSmiles, murcko_scaffold

    def add(self, mol) -> None:
        if self.codes is not None:
            self.codes.add(mol)
            self.canonical.append(self._smiles(mol))
        if self.scaffolds is not None:
            self.scaffolds.append(self._scaffold(mol))

    def graph_columns(self) -> dict:
        """The graphs as codes (values and per-molecule counts) and the canonical SMILES."""
        assert self.codes is not None
        return {**self.codes.result(), "canonical": self.canonical}


def whole_inputs(blocks: Iterator[SequenceTable], columns: list[str]) -> Iterator[SequenceTable]:
    """Long layout: blocks re-cut so that the rows of one input (consecutive) are never split between two."""
    carry: SequenceTable | None = None
    for block in blocks:
        if carry is not None:
            block = SequenceTable(pd.concat([carry.frame, block.frame], ignore_index=True), block.path,
                                  np.concatenate([carry.lines, block.lines]))
        keys = block.frame[columns].astype(str).agg("\t".join, axis=1).to_numpy()
        tail = len(keys)
        while tail > 0 and keys[tail - 1] == keys[-1]:
            tail -= 1
        if tail == 0:  # the whole block is one input: keep gathering
            carry = block
            continue
        carry = block.subset(np.arange(tail, len(keys)))
        yield block.subset(np.arange(tail))
    if carry is not None:
        yield carry


def file_blocks(recipe: BlockRecipe, files: list[str], block_rows: int) -> Iterator[SequenceTable | ParquetBlock]:
    """Every file's blocks, in order (long multilabel: re-cut at input boundaries; Parquet's otherwise left as
    record batches for the worker processes to read)."""
    for path in files:
        if recipe.data_cfg.target_column:
            yield from whole_inputs(table_blocks(Path(path), block_rows), recipe.columns)
        else:
            yield from raw_blocks(Path(path), block_rows)


def cache_block(recipe: BlockRecipe, block: SequenceTable | ParquetBlock) -> tuple[pa.RecordBatch | None, dict]:
    """One block's cache rows as a record batch (None when none was kept) and its counts: what a worker process
    sends back, compact Arrow buffers rather than a Python object per row, so the writing process's memory stays
    a few blocks' buffers whatever the file's size. The C heap is trimmed first (:func:`~seqssl.heap.trim_heap`):
    a block's Python rows and RDKit molecules, freed when the last block was sent, are handed back."""
    trim_heap()
    encoded = encode_block(recipe, as_table(block))
    batch = record_batch(encoded, cache_schema(recipe)) if encoded.input_ids else None
    return batch, encoded.counts


def cached_blocks(recipe: BlockRecipe, blocks: Iterator[SequenceTable | ParquetBlock],
                  jobs: int) -> Iterator[tuple[pa.RecordBatch | None, dict]]:
    """:func:`cache_block` over ``blocks`` in order; with ``jobs`` > 1 in worker processes, at most
    2 × ``jobs`` blocks in flight (memory stays bounded)."""
    if jobs <= 1:
        for block in blocks:
            yield cache_block(recipe, block)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: deque = deque()
        for block in blocks:
            pending.append(pool.submit(cache_block, recipe, block))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def cache_schema(recipe: BlockRecipe) -> pa.Schema:
    id_type = pa.int16() if recipe.tokenizer.vocab_size <= np.iinfo(np.int16).max else pa.int32()
    label_type = pa.float32() if recipe.targets is None else pa.list_(pa.float32(), len(recipe.targets))
    fields = [pa.field("input_ids", pa.list_(id_type)), pa.field("length", pa.int32()),
              pa.field("labels", label_type), pa.field("side", pa.int8()), pa.field("draw", pa.float32())]
    if len(recipe.columns) >= 2:
        fields.append(pa.field("token_type_ids", pa.list_(pa.int8())))
    if recipe.graphs:
        fields += [pa.field(name, pa.list_(kind)) for name, kind in GRAPH_FIELDS.items()]
        fields.append(pa.field("canonical", pa.string()))
    return pa.schema(fields)


GRAPH_FIELDS = {"atoms": pa.uint8(), "pairs": pa.int16(), "bonds": pa.uint8()}  # flattened (n, 11), (n, 2), (n, 3)


def record_batch(block: EncodedBlock, schema: pa.Schema) -> pa.RecordBatch:
    labels = block.labels
    label_array = pa.array(labels, type=pa.float32()) if labels.ndim == 1 else \
        pa.FixedSizeListArray.from_arrays(pa.array(labels.reshape(-1), type=pa.float32()), labels.shape[1])
    columns = [pa.array(block.input_ids, type=schema.field("input_ids").type),
               pa.array([len(x) for x in block.input_ids], type=pa.int32()), label_array,
               pa.array(block.sides, type=pa.int8()), pa.array(block.draws, type=pa.float32())]
    if "token_type_ids" in schema.names:
        columns.append(pa.array(block.token_type_ids, type=pa.list_(pa.int8())))
    if block.graphs is not None:
        for name, kind in GRAPH_FIELDS.items():
            values, counts = block.graphs[name]
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            columns.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=kind)))
        columns.append(pa.array(block.graphs["canonical"], type=pa.string()))
    return pa.record_batch(columns, schema=schema)


def first_block_targets(recipe: BlockRecipe, files: list[str], block_rows: int) -> list[str] | None:
    """The label matrix's column names (multilabel), from the task's own rule (:meth:`Task.stream_targets`)."""
    def first_block() -> SequenceTable:
        block = next(iter(table_blocks(Path(files[0]), block_rows)), None)
        if block is None:
            raise InputError("no rows", path=files[0], fix="add rows")
        return block
    return get_task(recipe.task).stream_targets(recipe.data_cfg, first_block)


def labelled_to_arrow(recipe: BlockRecipe, files: list[str], *, block_rows: int = 65_536, jobs: int = 1,
                      cache_dir: str | Path | None = None, progress: bool = True) -> Path:
    """The Arrow cache of ``files`` under ``recipe`` (written once, atomically; reused while the files and the
    recipe are the same), with its counts in ``KEY.json`` beside it."""
    recipe.targets = first_block_targets(recipe, files, block_rows)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"labelled-{recipe.key(files)}.arrow"
    if not recipe.graphs:  # a cache written with graphs holds everything this one would
        with_graphs = cache / f"labelled-{replace(recipe, graphs=True).key(files)}.arrow"
        if with_graphs.exists() and with_graphs.with_suffix(".json").exists():
            return with_graphs
    if target.exists() and target.with_suffix(".json").exists():
        return target
    schema = cache_schema(recipe)
    counts: dict[str, Any] = {"targets": recipe.targets, "rows": 0}
    with arrow_written_atomically(target, schema, "reading labelled rows", progress) as (writer, bar):
        for batch, block_counts in cached_blocks(recipe, file_blocks(recipe, files, block_rows), jobs):
            if batch is not None:
                writer.write_batch(batch)
            for name, value in block_counts.items():
                counts[name] = counts.get(name, 0) + value
            bar.update(block_counts["rows"])
        atomic_write_text(target.with_suffix(".json"), json.dumps(counts))  # before the cache itself appears
    return target


class ArrowLabelled(ArrowCorpus):
    """A labelled cache memory-mapped (:func:`labelled_to_arrow`): token ids gathered per batch; labels, sides and
    draws read from the map as zero-copy views of each record batch, so that no column of the whole file is copied
    into memory (a subset's labels are gathered for the rows a batch or a metric reads: :meth:`gather_labels`)."""

    def __init__(self, path: str | Path):
        super().__init__(path)
        self.meta = json.loads(self.path.with_suffix(".json").read_text())
        self._labels = [chunk_values(c) for c in self.table.column("labels").chunks]
        self.has_graphs = "atoms" in self.table.column_names
        for name in GRAPH_FIELDS if self.has_graphs else ():
            self._columns[name] = [(c.offsets.to_numpy(), c.values.to_numpy(zero_copy_only=True))
                                   for c in self.table.column(name).chunks]

    def _ragged(self, name: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The list column ``name`` of the rows at ``positions``, concatenated in their order, and each row's
        length (gathered from the memory map, chunk by chunk)."""
        chunk = np.searchsorted(self._starts, positions, side="right") - 1
        local = positions - self._starts[chunk]
        starts, counts = np.zeros(len(positions), np.int64), np.zeros(len(positions), np.int64)
        for c in np.unique(chunk):
            rows = np.flatnonzero(chunk == c)
            offsets = self._columns[name][c][0]
            starts[rows], counts[rows] = offsets[local[rows]], offsets[local[rows] + 1] - offsets[local[rows]]
        first = np.cumsum(counts) - counts
        out = np.empty(int(counts.sum()), dtype=self._columns[name][0][1].dtype)
        for c in np.unique(chunk):
            rows = np.flatnonzero(chunk == c)
            n = counts[rows]
            within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            out[np.repeat(first[rows], n) + within] = self._columns[name][c][1][np.repeat(starts[rows], n) + within]
        return out, counts

    def graph_batch(self, positions, feature_set: str = "full"):
        """The molecules at ``positions`` as one ``torch_geometric`` batch (their graph codes, expanded)."""
        from ..data.molecules.codes import ATOM_CODE_WIDTH, batch_from_codes
        if not self.has_graphs:
            raise InputError("this labelled cache holds no molecular graphs", path=str(self.path),
                             fix="read it again with graphs (finetune --stream --mode gcn or gat writes them)")
        positions = np.asarray(positions, dtype=np.int64)
        self._gathering(len(positions))
        atoms, atom_counts = self._ragged("atoms", positions)
        pairs, pair_counts = self._ragged("pairs", positions)
        bonds, _ = self._ragged("bonds", positions)
        return batch_from_codes(atoms, atom_counts // ATOM_CODE_WIDTH, pairs, pair_counts // 2, bonds, feature_set)

    # Whole columns, copied out of the map when asked for (inspection, tests); fitting reads rows' labels only
    # (gather_labels) and the split reads the sides record batch by record batch (side_chunks).
    @property
    def labels(self) -> np.ndarray:  # type: ignore[override]  # ArrowCorpus (unlabelled) has labels = None
        return self.gather_labels(np.arange(len(self)))

    @property
    def sides(self) -> np.ndarray:
        return np.concatenate([sides for _, sides, _ in self.side_chunks()])

    @property
    def draws(self) -> np.ndarray:
        return np.concatenate([draws for _, _, draws in self.side_chunks()])

    def gather_labels(self, positions: np.ndarray) -> np.ndarray:
        """The labels of the rows at ``positions``, in their order, gathered chunk by chunk from the map."""
        positions = np.asarray(positions)
        self._gathering(len(positions))
        chunk = np.searchsorted(self._starts, positions, side="right") - 1
        first = self._labels[0]
        out = np.empty((len(positions), *first.shape[1:]), dtype=first.dtype)
        for c in np.unique(chunk):
            rows = np.flatnonzero(chunk == c)
            out[rows] = self._labels[c][positions[rows] - self._starts[c]]
        return out

    def labels_at(self, positions) -> np.ndarray:
        return self.gather_labels(np.asarray(positions))

    def side_chunks(self):
        """``(first row, sides, draws)`` of each record batch, zero-copy views of the map."""
        for start, side, draw in zip(self._starts, self.table.column("side").chunks, self.table.column("draw").chunks):
            yield int(start), chunk_values(side), chunk_values(draw)

    def subset(self, positions) -> LabelledRows:
        return LabelledRows(self, np.asarray(positions, dtype=index_dtype(len(self))))


def chunk_values(chunk: pa.Array) -> np.ndarray:
    """One record batch's column as a NumPy view of the memory map: a number a row, or a fixed-size list of them as
    ``(rows, width)``."""
    if pa.types.is_fixed_size_list(chunk.type):
        return chunk.flatten().to_numpy(zero_copy_only=True).reshape(len(chunk), chunk.type.list_size)
    return chunk.to_numpy(zero_copy_only=True)


def index_dtype(rows: int):
    """Row positions as int32 when they fit (half the memory of int64 for a split of millions of rows)."""
    return np.int32 if rows < 2**31 else np.int64


class LabelledRows:
    """Some rows of an :class:`ArrowLabelled` cache, read where :class:`~seqssl.data.dataset.EncodedDataset` is
    (batching, fine-tuning, scoring): token ids stay on disk until a batch gathers them."""

    token_labels = None
    group_keys = None
    rows = None
    negatives = None

    def __init__(self, base: ArrowLabelled, positions: np.ndarray):
        self.base, self.positions = base, positions
        self.meta = base.meta

    @property
    def labels(self) -> np.ndarray:
        """The rows' labels, gathered from the map when asked for (a validation or test subset's metrics, a
        regression's mean): the training rows' are read batch by batch (:meth:`labels_at`), never all at once."""
        return self.base.gather_labels(self.positions)

    def labels_at(self, positions) -> np.ndarray:
        return self.base.gather_labels(self.positions[np.asarray(positions)])

    def __len__(self) -> int:
        return len(self.positions)

    def lengths(self) -> np.ndarray:
        return self.base.lengths()[self.positions]

    def padded(self, positions) -> dict:
        return self.base.padded(self.positions[np.asarray(positions)])

    def subset(self, positions) -> LabelledRows:
        return LabelledRows(self.base, self.positions[np.asarray(positions)])

    def targets(self) -> np.ndarray:
        return self.labels

    def graph_batch(self, positions, feature_set: str = "full"):
        return self.base.graph_batch(self.positions[np.asarray(positions)], feature_set)


def side_positions(data: ArrowLabelled, val_fraction: float) -> list[np.ndarray]:
    """The positions of the training, validation and test rows, read record batch by record batch (no side or draw
    column of the whole file in memory). With no row marked validation, the training rows whose draw is below
    ``val_fraction`` are."""
    marked = any((sides == 1).any() for _, sides, _ in data.side_chunks())
    dtype = index_dtype(len(data))
    found: tuple[list[np.ndarray], ...] = ([], [], [])
    for start, sides, draws in data.side_chunks():
        if not marked:
            sides = np.where((sides == 0) & (draws < val_fraction), 1, sides)
        for code, positions in enumerate(found):
            positions.append((np.flatnonzero(sides == code) + start).astype(dtype))
    data.release()
    return [np.concatenate(positions) if positions else np.zeros(0, dtype) for positions in found]


def streamed_split(data: ArrowLabelled, val_fraction: float, val_rows: int, seed: int) -> Split:
    """Training rows, a validation sample of at most ``val_rows`` (drawn with ``seed``; early stopping scores it
    every epoch) and the test rows (None when there are none). With no row marked validation, the training rows
    whose draw is below ``val_fraction`` are."""
    train, val, test = side_positions(data, val_fraction)
    for name, rows in (("training", train), ("validation", val)):
        if not len(rows):
            raise InputError(f"no {name} rows in the streamed data", path=str(data.path),
                             fix="mark rows train/valid in --split-column, or change --val-fraction/--test-fraction")
    data.meta["n_validation_rows"] = int(len(val))
    if len(val) > val_rows:
        val = np.sort(np.random.default_rng(seed).choice(val, val_rows, replace=False))
    return Split(train, val, test if len(test) else None)


@dataclass
class StreamedLabelled:
    """What ``finetune --stream`` reads: the memory-mapped cache of the labelled files, with their tokenizer, task
    and sequence columns (the in-memory path's :class:`~seqssl.tasks.labelled.LabelledData`, without a table)."""

    encoded: ArrowLabelled
    tokenizer: Any
    task: Any
    columns: list[str]
    files: list[str]

    def __len__(self) -> int:
        return len(self.encoded)


def stream_problems(cfg, task, split: str) -> list[tuple[str, str]]:
    """``(problem, fix)`` for each option ``--stream`` cannot honour, checked before any row is read."""
    found = []
    if not task.streams:
        found.append((f"--stream reads binary, regression and multilabel labels block by block; {task.name} "
                      "needs the whole table", "drop --stream"))
    if split not in ("column", "grouped", "scaffold", "random", "stratified"):
        found.append((f"--stream decides each row's side as it reads it; --split {split} needs every row first",
                      "use --split column (--split-column), grouped (--group-column) or scaffold"))
    for option, flag in (("v_gene_columns", "--v-gene-columns"), ("group_metric", "--group-metric"),
                         ("negative_type_column", "--negative-type-column")):
        if getattr(cfg.data, option):
            found.append((f"{flag} is read in memory; --stream does not carry it", f"drop --stream (or {flag})"))
    return found


def load_streamed(cfg, tokenizer=None, *, molecular: bool = False, graphs: bool = False) -> StreamedLabelled:
    """``cfg.data.path`` (a file or a directory of shards) read into the labelled cache for ``cfg.data.task``, or
    the cache a run before wrote; ``tokenizer``: an encoder's own (default: ``--alphabet``'s, SMILES fitted on the
    files row by row); ``graphs``: also every molecule's graph (``--mode gcn|gat``)."""
    from ..config import task_name
    from ..data.formats import default_columns
    from ..data.formats.readers import expand_paths
    from ..data.splits import resolve_split
    task = get_task(task_name(cfg.data))
    if not cfg.data.path:
        raise InputError("no labelled data", fix="pass --data PATH")
    task.check_label_source(cfg.data)
    split = resolve_split(cfg, task.stratified)
    problems = stream_problems(cfg, task, split)
    if problems:
        raise InputError(problems[0][0], fix=problems[0][1])
    files = expand_paths(cfg.data.path)
    columns = default_columns(files[0], cfg.data.columns)
    task.check_columns(columns)
    tokenizer = tokenizer or streamed_tokenizer(cfg.data, files, columns, graphs)
    from ..lengths import length_limit
    recipe = BlockRecipe(task.name, columns, cfg.data, tokenizer, length_limit(cfg.model), molecular,
                         cfg.finetune.val_fraction, cfg.finetune.test_fraction, cfg.seed,
                         scaffold=split == "scaffold", graphs=graphs)
    path = labelled_to_arrow(recipe, files, block_rows=cfg.data.block_rows, jobs=max(1, cfg.data.jobs),
                             cache_dir=cfg.data.cache_dir, progress=not cfg.quiet)
    return StreamedLabelled(ArrowLabelled(path), tokenizer, task, columns, files)


def streamed_tokenizer(data_cfg, files: list[str], columns: list[str], graphs: bool = False):
    """The ``--alphabet`` tokenizer of streamed files: SMILES fitted on them row by row (for a graph network, whose
    tokens nothing reads, SMILES' base vocabulary without a pass over the files); BPE is not trained here."""
    from ..data.tokenizers.alphabets import corpus_tokenizer
    if graphs and data_cfg.alphabet == "smiles":
        from ..data.tokenizers.smiles import BASE_TOKENS, SmilesTokenizer
        return SmilesTokenizer(list(BASE_TOKENS), "map-to-unk")
    if data_cfg.alphabet == "text":
        raise InputError("--stream does not train a BPE vocabulary (--alphabet text)",
                         fix="pass --encoder DIR (its tokenizer is used), or drop --stream")
    return corpus_tokenizer(data_cfg, [(f, columns) for f in files], streamed=True)
