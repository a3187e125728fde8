"""seqssl.heap: the C heap's free pages go back to the system, and a streamed gather asks for it."""
import subprocess
import sys

import numpy as np
import pytest

from seqssl.heap import _malloc_trim

# A process whose heap keeps 200 MiB it freed: a freed 16 MiB block raises glibc's mmap threshold to 16 MiB, so the
# 1 MiB blocks come from the heap, each followed by a small allocation still in use, which keeps the heap from
# shrinking at its top when the blocks are freed.
FRAGMENTED = """
import os, sys
import numpy as np
from seqssl.heap import trim_heap
def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
big = np.ones(16 * 2**20, np.uint8)
del big
before = resident_mib()
blocks, pins = [], []
for _ in range(200):
    blocks.append(np.ones(2**20, np.uint8))
    pins.append(bytearray(2000))
del blocks
freed = resident_mib()
released = trim_heap() if sys.argv[1] == "trim" else False
print(freed - before, resident_mib() - before, released)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or _malloc_trim() is None, reason="glibc's malloc_trim")
def test_trim_heap_returns_the_free_pages_a_fragmented_heap_keeps():
    def run(mode: str) -> tuple[float, float, str]:
        out = subprocess.run([sys.executable, "-c", FRAGMENTED, mode], capture_output=True, text=True, check=True)
        held, after, released = out.stdout.split()
        return float(held), float(after), released

    held, after, released = run("keep")
    assert held > 150 and after > 150 and released == "False"  # freed, yet still resident: what the test tells apart
    held, after, released = run("trim")
    assert held > 150 and after < 30 and released == "True"


@pytest.mark.parametrize("every, trims", [(None, 100), (32, 3), (7, 14)])
def test_a_streamed_corpus_trims_the_heap_every_so_many_gathers(tmp_path, monkeypatch, every, trims):
    """A streamed run gathers every batch through ArrowCorpus._gathering (padded rows here; graph batches and
    labels too): the heap is trimmed once every TRIM_EVERY_GATHERS gathers."""
    import pyarrow as pa

    import seqssl.data.stream as stream
    rows = 1000
    ids = pa.array([np.full(3 + i % 5, 5, dtype=np.int32) for i in range(rows)], type=pa.list_(pa.int32()))
    table = pa.table({"input_ids": ids, "length": pa.array(np.array([3 + i % 5 for i in range(rows)], np.int32))})
    path = tmp_path / "corpus.arrow"
    with stream.arrow_written_atomically(path, table.schema, "test", False) as (writer, _):
        writer.write_table(table, max_chunksize=256)
    calls = []
    monkeypatch.setattr(stream, "trim_heap", lambda: calls.append(1) or True)
    if every is not None:  # None: the default, every gather
        monkeypatch.setattr(stream, "TRIM_EVERY_GATHERS", every)
    corpus = stream.ArrowCorpus(path)
    for start in range(0, rows, 10):
        corpus.padded(np.arange(start, start + 10))
    assert len(calls) == trims


def test_featurisation_trims_the_heap_before_each_block(tmp_path, monkeypatch):
    """Each block a worker featurises (here in-process, ``jobs`` 1) starts with the heap trimmed."""
    import pandas as pd

    import seqssl.tasks.labelled_stream as labelled_stream
    from seqssl.config import load_config
    from seqssl.data.builtin import builtin_path
    frame = pd.read_csv(builtin_path("bbbp")).iloc[:230]
    frame[["smiles", "BBBP"]].to_csv(tmp_path / "m.csv", index=False)
    calls: list[str] = []
    monkeypatch.setattr(labelled_stream, "trim_heap", lambda: calls.append("block") or True)
    cfg = load_config(None, {"data": {"path": str(tmp_path / "m.csv"), "columns": ["smiles"], "label_column": "BBBP",
                                      "alphabet": "smiles", "block_rows": 50, "cache_dir": str(tmp_path / "c"),
                                      "invalid_smiles": "skip"},
                             "model": {"max_length": 256}, "quiet": True})
    data = labelled_stream.load_streamed(cfg, molecular=True)
    assert calls == ["block"] * 5 and len(data) > 200


def test_finding_malloc_trim_starts_no_process(monkeypatch):
    """Found among the symbols already loaded: a lookup by ctypes.util.find_library would run ldconfig in a child
    process, forking what may by then be a process of gigabytes (its ru_maxrss counted as a child's)."""
    import subprocess as sp

    def refuse(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(sp, "Popen", refuse)
    found = _malloc_trim.__wrapped__()
    assert found is not None or not sys.platform.startswith("linux")
