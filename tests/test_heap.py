"""seqssl.heap: the C heap's free pages go back to the system, and a streamed gather asks for it."""
import subprocess
import sys

import numpy as np
import pytest

from seqssl import heap
from seqssl.heap import _malloc_trim

# A process whose heap keeps 200 MiB it freed: a freed 16 MiB block raises glibc's mmap threshold to 16 MiB, so the
# 1 MiB blocks come from the heap, each followed by a small allocation still in use, which keeps the heap from
# shrinking at its top when the blocks are freed.
FRAGMENTED = """
import os, sys
import numpy as np
from seqssl.heap import anonymous_resident_bytes, trim_heap
def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
trim_heap()  # where the growth is counted from
start = anonymous_resident_bytes()
big = np.ones(16 * 2**20, np.uint8)
del big
before = resident_mib()
blocks, pins = [], []
for _ in range(200):
    blocks.append(np.ones(2**20, np.uint8))
    pins.append(bytearray(2000))
del blocks
freed = resident_mib()
grown = (anonymous_resident_bytes() - start) / 2**20
released = trim_heap(grown=int(sys.argv[2]) * 2**20) if sys.argv[1] == "trim" else False
print(freed - before, resident_mib() - before, released, grown)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or _malloc_trim() is None, reason="glibc's malloc_trim")
def test_trim_heap_returns_the_free_pages_a_fragmented_heap_keeps():
    def run(mode: str, grown_mib: int = 0) -> tuple[float, float, str, float]:
        out = subprocess.run([sys.executable, "-c", FRAGMENTED, mode, str(grown_mib)], capture_output=True, text=True,
                             check=True)
        held, after, released, grown = out.stdout.split()
        return float(held), float(after), released, float(grown)

    held, after, released, grown = run("keep")
    assert held > 150 and after > 150 and released == "False"  # freed, yet still resident: what the test tells apart
    assert grown > 150  # the anonymous memory counts the heap's resident free pages
    held, after, released, _ = run("trim")
    assert held > 150 and after < 30 and released == "True"
    # with a growth: trimmed only once the process has grown by more than it since the last trim
    held, after, released, _ = run("trim", grown_mib=int(grown) + 50)
    assert after > 150 and released == "False"
    held, after, released, _ = run("trim", grown_mib=int(grown) - 50)
    assert after < 30 and released == "True"


def test_a_streamed_gather_trims_the_heap_once_the_process_has_grown_past_the_threshold(tmp_path, monkeypatch):
    """A streamed run gathers every batch through ArrowCorpus._gathering (padded rows here; graph batches and
    labels too): before each gather the process's anonymous memory is read, and the heap is trimmed once it is more
    than TRIM_AFTER_GROWTH_BYTES above where the last trim left it."""
    import pyarrow as pa

    import seqssl.data.stream as stream
    rows = 100
    ids = pa.array([np.full(3 + i % 5, 5, dtype=np.int32) for i in range(rows)], type=pa.list_(pa.int32()))
    table = pa.table({"input_ids": ids, "length": pa.array(np.array([3 + i % 5 for i in range(rows)], np.int32))})
    path = tmp_path / "corpus.arrow"
    with stream.arrow_written_atomically(path, table.schema, "test", False) as (writer, _):
        writer.write_table(table, max_chunksize=32)
    mib = 2**20
    # the anonymous memory each read sees: before a gather's check, and just after each trim
    readings = iter([500 * mib,  # after the first trim (a process's first gather always trims)
                     540 * mib, 564 * mib, 565 * mib,  # 565 > 500 + 64: trim
                     510 * mib,  # left by that trim
                     560 * mib, 574 * mib, 575 * mib,  # 575 > 510 + 64: trim
                     400 * mib,  # left by that trim
                     464 * mib, 700 * mib,  # trim
                     450 * mib,  # left by that trim
                     451 * mib])  # the tenth gather: no trim
    trims = []
    monkeypatch.setattr(heap, "_anonymous_after_trim", None)
    monkeypatch.setattr(heap, "anonymous_resident_bytes", lambda: next(readings))
    monkeypatch.setattr(heap, "_malloc_trim", lambda: lambda pad: trims.append(pad) or 1)
    monkeypatch.setattr(stream, "TRIM_AFTER_GROWTH_BYTES", 64 * mib)
    corpus = stream.ArrowCorpus(path)
    for start in range(0, rows, 10):
        corpus.padded(np.arange(start, start + 10))
    assert len(trims) == 4 and heap._anonymous_after_trim == 450 * mib
    with pytest.raises(StopIteration):  # every reading used: one before each gather but the first, one after each trim
        next(readings)


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
    for lookup in (heap._libc, heap._malloc_trim):
        lookup.cache_clear()
    assert heap._malloc_trim() is not None or not sys.platform.startswith("linux")
