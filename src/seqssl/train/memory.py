"""Peak memory of a block of work: CUDA's allocator peak on a GPU, the process's sampled RSS on CPU."""
from __future__ import annotations

import threading

import torch

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
