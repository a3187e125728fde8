"""TAPE's data files as distributed (Rao et al. 2019, "Evaluating protein transfer learning with TAPE"): the JSON
and LMDB files of its five tasks, read as tables whose columns are TAPE's own field names, so that
``--data fluorescence_train.lmdb --columns primary --label-column log_fluorescence`` works on the download as is.

Each record becomes one row. Its fields are flattened for a table:

- text and numbers stay as they are (``primary``, ``protein_length``, ``fold_label``, ``id``);
- a one-element list is its element (TAPE stores ``log_fluorescence`` and ``stability_score`` as ``[x]``);
- a per-residue list of small non-negative integers (``ss3``, ``ss8``, ``disorder``, ``interface``) becomes a
  string of one digit per residue, ``.`` where TAPE's ``valid_mask`` is 0 (seqssl's unlabelled residue), which is
  what ``--task token-classification --label-column ss3`` reads;
- other arrays (``evolutionary`` profiles, ``phi``/``psi``/``rsa`` angles and areas) are left out: no seqssl task
  reads per-residue numbers.

LMDB values are pickles (TAPE wrote them with ``pickle.dumps``). They are read with :class:`PlainUnpickler`, which
builds only plain Python values and NumPy arrays and refuses any other global a pickle names — so a crafted file
cannot run code. LMDB itself comes from the ``lmdb`` package (``pip install 'seqssl[tape]'``). Written by hand:
TAPE's own loaders unpickle without restriction, and no maintained library reads these files.
"""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from .table import SequenceTable

VALID_MASK = "valid_mask"
MAX_DIGIT_CLASSES = 10  # per-residue classes written as one digit each
UNLABELLED = "."


class PlainUnpickler(pickle.Unpickler):
    """Unpickles plain values (dicts, lists, tuples, strings, numbers, bytes) and NumPy arrays, dtypes and scalars;
    any other global a pickle asks for is refused with :class:`pickle.UnpicklingError` before it is looked up."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles carry bytes (a pure function)
        ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
        ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def plain_unpickle(data: bytes, where: str):
    """The value pickled in ``data``, by :class:`PlainUnpickler`; a refused or broken pickle is the user's input
    error, named by ``where``."""
    try:
        return PlainUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise InputError(f"refused an LMDB value ({err}): only plain values and NumPy arrays are read",
                         path=where, fix="use TAPE's files as distributed, or their JSON versions") from None


def flat_value(key: str, value, record: dict):
    """One field of a record as a table cell (see the module docstring), or ``None`` to leave it out."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (np.generic,)):
        value = value.item()
    if not isinstance(value, (list, tuple)):
        return value
    if len(value) == 1 and not isinstance(value[0], (list, tuple)):
        return value[0]
    primary = record.get("primary")
    per_residue = isinstance(primary, str) and len(value) == len(primary) and key != VALID_MASK
    small = all(isinstance(v, (int, bool, np.integer)) and 0 <= v < MAX_DIGIT_CLASSES for v in value)
    if not (per_residue and small):
        return None
    mask = record.get(VALID_MASK)
    mask = mask.tolist() if isinstance(mask, np.ndarray) else mask
    valid = mask if isinstance(mask, (list, tuple)) and len(mask) == len(value) else [True] * len(value)
    return "".join(str(int(v)) if ok else UNLABELLED for v, ok in zip(value, valid))


def records_table(records: list, path: Path) -> SequenceTable:
    """TAPE records as a table, one row each, in the file's order (the "line" of a row is its record number)."""
    if not records:
        raise InputError("no records", path=str(path), fix="pass a TAPE file with records")
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"record {i + 1} is a {type(record).__name__}, not a field → value mapping",
                             path=str(path), line=i + 1, fix="pass a TAPE JSON or LMDB file")
        cells = {str(k): flat_value(str(k), v, record) for k, v in record.items() if k != VALID_MASK}
        rows.append({k: v for k, v in cells.items() if v is not None})
    frame = pd.DataFrame(rows)
    return SequenceTable(frame, str(path), np.arange(1, len(frame) + 1))


def read_tape_json(path: Path) -> SequenceTable:
    """A TAPE JSON file: one list of records."""
    try:
        records = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not JSON ({err})", path=str(path), fix="pass a TAPE .json file") from None
    if not isinstance(records, list):
        raise InputError("a TAPE JSON file holds a list of records", path=str(path), fix="pass a TAPE .json file")
    return records_table(records, Path(path))


def read_tape_lmdb(path: Path) -> SequenceTable:
    """A TAPE LMDB database (a ``.lmdb`` directory, or its ``data.mdb`` file): ``num_examples`` records under keys
    ``b"0"``, ``b"1"``, ...; every value unpickled by :func:`plain_unpickle`."""
    from ...extras import require
    lmdb = require("lmdb", "reading TAPE's LMDB files")
    path = Path(path)
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=1,
                        subdir=path.is_dir())
    except lmdb.Error as err:
        raise InputError(f"cannot open the LMDB database ({err})", path=str(path),
                         fix="pass a TAPE .lmdb directory as downloaded") from None
    try:
        with env.begin(write=False) as txn:
            count = txn.get(b"num_examples")
            if count is None:
                raise InputError("no num_examples key: not a TAPE LMDB file", path=str(path),
                                 fix="pass a TAPE .lmdb directory as downloaded")
            n = int(plain_unpickle(count, str(path)))
            records = []
            for i in range(n):
                value = txn.get(str(i).encode())
                if value is None:
                    raise InputError(f"record {i} of {n} is missing", path=str(path), fix="download the file again")
                records.append(plain_unpickle(value, f"{path} (record {i})"))
    finally:
        env.close()
    return records_table(records, path)


def table_rows(read):
    """Streamed rows of a format that is read whole (TAPE's files fit in memory): ``(line, stripped strings)``."""
    def rows(path: Path, columns: list[str]):
        from .table import check_columns
        table = read(path)
        check_columns(str(path), list(table.frame.columns), columns)
        for line, values in zip(table.lines, table.frame[columns].itertuples(index=False)):
            yield int(line), tuple("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
                                   for v in values)
    return rows
