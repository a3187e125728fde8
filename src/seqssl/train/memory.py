"""Peak memory of a block of work: CUDA's allocator peak on a GPU, the process's sampled RSS on CPU."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

import torch

if TYPE_CHECKING:
    import ctypes

MIB = 2**20


class PeakMemory:
    """``with PeakMemory(device) as mem: ...`` then ``mem.peak_mb`` (MiB).

    CUDA: ``torch.cuda.max_memory_allocated`` after resetting the peak on entry (tensors only, not the
    caching allocator's reserve). CPU: the largest resident set size of the whole process seen by a
    background thread reading ``psutil.Process().memory_info().rss`` every ``interval`` seconds (also read
    on entry and exit), so it includes memory held before the block and may miss spikes shorter than
    ``interval``."""

    def __init__(self, device: torch.device | str, interval: float = 0.02):
        self.device, self.interval = torch.device(device), interval
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak_bytes = 0

    def _sample(self):
        import psutil
        process = psutil.Process()
        while True:
            self._peak_bytes = max(self._peak_bytes, process.memory_info().rss)
            if self._stop.wait(self.interval):
                break
        self._peak_bytes = max(self._peak_bytes, process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / MIB
        else:
            self._stop.set()
            assert self._thread is not None  # started by __enter__
            self._thread.join()
            self.peak_mb = self._peak_bytes / MIB


def release_freed_cpu_memory() -> None:
    """Hand the C heap's freed pages back to the operating system (glibc ``malloc_trim``; a no-op
    elsewhere). Gradient caching calls it between its passes: the first pass frees many differently sized
    blocks that glibc would otherwise keep resident while the second pass allocates new ones."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 (glibc only)
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: ctypes.CDLL | Literal[False] | None = None  # None: not looked up yet; False: no malloc_trim
