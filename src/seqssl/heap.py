"""Handing the C heap's free memory back to the system during long streamed runs.

A streamed run allocates tensors of a different shape every batch (batches padded to their own longest row). glibc's
``malloc`` serves any request below its mmap threshold from its heaps, and raises that threshold to the size of each
large block it frees (up to 32 MiB), so after the first batches every activation comes from a heap; the free space left
between blocks still in use is kept by the process, not returned. Measured on the 10M-row benchmark's cache
(``benchmarks/bench_labelled_stream.py``, the training phase: 100 steps, then scoring 10,000 validation and ~200,000
test rows), the anonymous memory grew all run long, 0.59 → 1.73 GB, most of it while scoring
(``benchmarks/trace_phase_memory.py``; ``docs/results/trace_train_10m_cpu.txt``), so a run's peak grew with its test
split. ``malloc_trim(0)`` before each gather kept the phase at 0.91-0.93 GB against 1.41-1.68 GB untrimmed
(``benchmarks/bench_heap_trim.py``). A gather now trims only once the process's anonymous memory has grown past
:data:`seqssl.data.stream.TRIM_AFTER_GROWTH_BYTES` since the last trim (:func:`trim_heap`'s ``grown``): at 1M rows,
29-30 trims a run instead of 326, peaks 0.87 and 0.91 GB against 1.25 and 1.12 untrimmed; at 10M, 43-45 trims instead of
670, peaks 1.01 and 1.01 GB against 1.31 and 1.41 (0.93 trimmed before every gather). glibc's own count of free heap
bytes (``mallinfo2``) was tried as the signal and dropped: a trim releases a free chunk's pages but leaves the chunk
free, still counted, so after the first trim that count no longer says what the heap holds. A fixed mmap threshold of
128 KiB (``MALLOC_MMAP_THRESHOLD_``, tried by environment) kept the 10M phase at 0.73 and 0.74 GB, steps no faster.
Training (gradient caching's passes, and a pretraining log every 10 s) trims too.

Written by hand: neither the standard library nor torch exposes ``malloc_trim``; it is one call through
:mod:`ctypes`, and a no-op where the C library has none (macOS, musl)."""
from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, found among the symbols already loaded (``dlopen(NULL)``): ``ctypes.util.find_library`` would
    start ``ldconfig`` in a child process, a fork of what may by then be a process of gigabytes."""
    try:
        return ctypes.CDLL(None)
    except (OSError, TypeError):  # TypeError: Windows has no dlopen(NULL)
        return None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None where the C library lacks it)."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_anonymous_after_trim: int | None = None  # this process's anonymous resident bytes just after its last trim


def anonymous_resident_bytes() -> int | None:
    """This process's resident memory not backed by a file (``/proc/self/statm``: resident − shared pages), where
    the C heap's pages are; None off Linux. About 14 µs a call here."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return None
    return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")


def trim_heap(grown: int = 0) -> bool:
    """Return the C heap's free pages to the system (``malloc_trim(0)``: every arena, free pages inside a heap
    included, not only its top); True when memory was released. With ``grown``, only once the process's anonymous
    resident memory is more than ``grown`` bytes above what it was just after the last trim (where that is unknown,
    always): a heap whose freed blocks are reused at once is left alone, one that piles them up is trimmed. About
    0.3 ms a call on the 1M-row benchmark's training phase, 3 ms on a fragmented heap of 1 GB (a scratch loop of
    varying tensor shapes); what the next allocations fault back in costs more."""
    global _anonymous_after_trim
    trim = _malloc_trim()
    if trim is None:
        return False
    if grown > 0 and _anonymous_after_trim is not None:
        now = anonymous_resident_bytes()
        if now is not None and now - _anonymous_after_trim <= grown:
            return False
    released = bool(trim(0))
    _anonymous_after_trim = anonymous_resident_bytes()
    return released
