"""Where a phase of ``bench_labelled_stream.py`` grows: the phase run in this process while a thread samples, every
0.1 s, the process's proportional set size (all, and anonymous) and the main thread's Python stack.

    python benchmarks/bench_labelled_stream.py --rows 10000000 --no-graphs --predict-rows 1000000 --work W10
    python benchmarks/trace_phase_memory.py --work W10 --phase train

Prints the phase's figures, then a line each time the anonymous memory has moved by ``--step-mb`` since the last line
printed (seconds, PSS, anonymous, the innermost frames), then the largest anonymous memory in each 10 s window, then
``peak_anonymous_mb``. This is how the training phase's growth while scoring its test split was found (the C heap's
freed activations: ``seqssl.heap``). ``--no-heap-trim`` runs the phase without the trim. Not for featurisation: its
worker processes are not sampled (``bench_labelled_stream.py`` sums the process tree).
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_labelled_stream as bench  # noqa: E402


def pss_kib() -> tuple[int, int]:
    """This process's proportional set size and its anonymous part (KiB)."""
    total = anonymous = 0
    for line in Path(f"/proc/{os.getpid()}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss_Anon:"):
            anonymous = int(line.split()[1])
        elif line.startswith("Pss:"):
            total = int(line.split()[1])
    return total, anonymous


class Tracer:
    """Samples of (seconds, PSS KiB, anonymous KiB, the main thread's innermost frames) every ``interval`` s."""

    def __init__(self, interval: float = 0.1, frames: int = 5):
        self.samples: list[tuple[float, int, int, list[str]]] = []
        self._main, self._frames, self._interval = threading.get_ident(), frames, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._stop.is_set():
            total, anonymous = pss_kib()
            frame = sys._current_frames().get(self._main)
            stack = [f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in traceback.extract_stack(frame)] \
                if frame is not None else []
            self.samples.append((time.perf_counter() - started, total, anonymous, stack[-self._frames:]))
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="a bench_labelled_stream.py working directory")
    parser.add_argument("--phase", default="train", choices=["train", "train_gcn", "predict"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--predict-rows", type=int, default=1_000_000)
    parser.add_argument("--step-mb", type=float, default=20.0)
    parser.add_argument("--no-heap-trim", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    if args.no_heap_trim:
        import seqssl.heap
        seqssl.heap._malloc_trim = lambda: None
    if args.phase == "train":
        import shutil
        shutil.rmtree(work / "train", ignore_errors=True)
    phase_args = argparse.Namespace(jobs=2, steps=args.steps, batch_size=args.batch_size, threads=args.threads,
                                    predict_rows=args.predict_rows, no_graphs=args.phase != "train_gcn",
                                    rows=10**12, in_memory=False)
    tracer = Tracer()
    figures = bench.phase(args.phase, work, phase_args)
    tracer.stop()
    print(" ".join(f"{k}: {v}" for k, v in figures.items()))
    last = 0
    for seconds, total, anonymous, stack in tracer.samples:
        if abs(anonymous - last) >= args.step_mb * 1024:
            print(f"{seconds:7.1f} s  pss {total / 1024:6.0f} MB  anonymous {anonymous / 1024:6.0f} MB  "
                  + " > ".join(stack))
            last = anonymous
    windows: dict[int, int] = {}
    for seconds, _, anonymous, _ in tracer.samples:
        windows[int(seconds // 10)] = max(windows.get(int(seconds // 10), 0), anonymous)
    print("anonymous_mb_per_10_s: " + " ".join(f"{v // 1024}" for _, v in sorted(windows.items())))
    print(f"peak_anonymous_mb: {max(a for _, _, a, _ in tracer.samples) / 1024:.0f}")


if __name__ == "__main__":
    main()
