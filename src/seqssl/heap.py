"""Handing the C heap's free memory back to the system during long streamed runs.

A streamed run allocates tensors of a different shape every batch (batches padded to their own longest row). glibc's
``malloc`` serves any request below its mmap threshold from its heaps, and raises that threshold to the size of each
large block it frees (up to 32 MiB), so after the first batches every activation comes from a heap; the free
space left between blocks still in use is kept by the process, not returned. Measured on the 10M-row benchmark's
cache (``benchmarks/bench_labelled_stream.py``, the training phase: 100 steps, then scoring 10,000 validation and
~200,000 test rows), the anonymous memory grew all run long, 0.59 → 1.73 GB, most of it while scoring
(``benchmarks/trace_phase_memory.py``; ``docs/results/trace_train_10m_cpu.txt``), so a run's peak grew with its test
split. ``malloc_trim(0)`` before each gather (:data:`seqssl.data.stream.TRIM_EVERY_GATHERS`) kept the phase at
0.91-0.93 GB against 1.41-1.68 GB untrimmed, its steps 1.14× as long (``benchmarks/bench_heap_trim.py``; at 1M
rows, one pair: 1.37×). A fixed mmap threshold of 128 KiB (``MALLOC_MMAP_THRESHOLD_``, tried by environment) kept it
at 0.73 and 0.74 GB, steps no faster.

Written by hand: neither the standard library nor torch exposes ``malloc_trim``; it is one call through
:mod:`ctypes`, and a no-op where the C library has none (macOS, musl)."""
from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (``malloc.h``, glibc 2.33 on): every field a ``size_t``."""
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


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


@functools.cache
def _mallinfo2() -> Callable[[], _MallInfo2] | None:
    """glibc's ``mallinfo2`` (None where the C library lacks it: before glibc 2.33, macOS, musl)."""
    info = getattr(_libc(), "mallinfo2", None)
    if info is not None:
        info.argtypes, info.restype = [], _MallInfo2
    return info


def heap_free_bytes() -> int | None:
    """Bytes the C heap holds free in its arenas (``mallinfo2().fordblks``: free chunks, not counting blocks served
    by ``mmap``, which go back when freed); None where the C library cannot say. About 20 µs a call on a fragmented
    heap of 1.5 GB with 1,800 free chunks here."""
    info = _mallinfo2()
    return None if info is None else int(info().fordblks)


def trim_heap(above: int = 0) -> bool:
    """Return the C heap's free pages to the system (``malloc_trim(0)``: every arena, free pages inside a heap
    included, not only its top); True when memory was released. With ``above``, only when the heap holds more than
    ``above`` bytes free (:func:`heap_free_bytes`; where that is unknown, always). About 3 ms a call on a fragmented
    heap of 1 GB here (a scratch loop of varying tensor shapes); what the next allocations fault back in costs more."""
    trim = _malloc_trim()
    if trim is None:
        return False
    if above > 0:
        free = heap_free_bytes()
        if free is not None and free <= above:
            return False
    return bool(trim(0))
