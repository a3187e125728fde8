"""Benchmark folders as their readers have them: a TAPE task directory or a GLUE task folder named as ``--data``,
read as one table whose ``split`` column holds each file's part of the benchmark's own split.

- **TAPE** (Rao et al. 2019): ``fluorescence/fluorescence_{train,valid,test}.lmdb`` (or ``.json``);
  ``remote_homology/remote_homology_test_{fold,superfamily,family}_holdout.lmdb``;
  ``secondary_structure/secondary_structure_{cb513,ts115,casp12}.lmdb``. ``*_train`` → ``train``, ``*_valid`` →
  ``valid``, every other file → ``test:NAME`` (``NAME`` the rest of its name: ``test``, ``test_fold_holdout``,
  ``cb513``), so that each test set is scored on its own.
- **GLUE** (Wang et al. 2019): ``RTE/{train,dev}.tsv``, ``MNLI/{train,dev_matched,dev_mismatched}.tsv``. The test
  files carry no labels and are left out; ``train`` → ``train``, each ``dev*`` file → ``test:NAME`` (GLUE's dev
  sets are what papers report; the validation split is then carved from ``train``).

Rows keep their file's line (and the table's path names the file each came from in errors through ``source``).
``--split column --split-column split`` reads the split; ``seqssl finetune`` reports the pooled test metrics and
each test set's (``test:NAME``) separately.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from ..splits import NAMED_TEST as TEST_PREFIX
from .table import SequenceTable

SPLIT_COLUMN = "split"
SOURCE_COLUMN = "source"  # the file each row came from


def tape_parts(directory: Path) -> dict[Path, str] | None:
    """TAPE's files in ``directory`` and each one's part, or ``None`` when it holds no ``*_train`` file."""
    files = sorted(p for p in directory.iterdir() if p.suffix in (".lmdb", ".json"))
    train = [p for p in files if p.stem.endswith("_train")]
    if not train:
        return None
    task = train[0].stem[: -len("_train")]
    parts = {}
    for path in files:
        if not path.stem.startswith(task + "_") or (path.suffix == ".json" and path.with_suffix(".lmdb") in files):
            continue  # another task's file, or the JSON twin of an LMDB file
        rest = path.stem[len(task) + 1:]
        parts[path] = {"train": "train", "valid": "valid"}.get(rest, TEST_PREFIX + rest)
    return parts


def glue_parts(directory: Path) -> dict[Path, str] | None:
    """GLUE's labelled files in ``directory`` (``train.tsv``, ``dev*.tsv``) and each one's part, or ``None``."""
    if not (directory / "train.tsv").is_file():
        return None
    parts = {directory / "train.tsv": "train"}
    for path in sorted(directory.glob("dev*.tsv")):
        name = path.stem[len("dev_"):] if path.stem.startswith("dev_") else path.stem
        parts[path] = TEST_PREFIX + name
    return parts


def benchmark_parts(directory: Path) -> dict[Path, str] | None:
    """The benchmark layout of ``directory`` (TAPE, then GLUE), or ``None``."""
    return tape_parts(directory) or glue_parts(directory)


def read_benchmark(directory: Path) -> SequenceTable:
    """Every file of a benchmark folder as one table with ``split`` and ``source`` columns (module docstring)."""
    from . import format_of
    parts = benchmark_parts(directory)
    if not parts:
        raise InputError("not a TAPE task directory or GLUE task folder", path=str(directory),
                         fix="pass a file, or a folder with TAPE's *_train.lmdb/.json or GLUE's train.tsv")
    tables = [format_of(path).read(path) for path in parts]
    columns = set.intersection(*(set(t.frame.columns) for t in tables))
    frames = [t.frame[[c for c in t.frame.columns if c in columns]].assign(**{SPLIT_COLUMN: part,
                                                                              SOURCE_COLUMN: path.name})
              for t, (path, part) in zip(tables, parts.items())]
    frame = pd.concat(frames, ignore_index=True)
    return SequenceTable(frame, str(directory), np.concatenate([t.lines for t in tables]))


def test_set_names(values) -> np.ndarray:
    """Per row of a split column: the test set's name for ``test:NAME`` rows, ``test`` for plain test rows."""
    text = pd.Series(values).fillna("").astype(str).str.strip()
    return np.where(text.str.lower().str.startswith(TEST_PREFIX), text.str[len(TEST_PREFIX):], "test")
