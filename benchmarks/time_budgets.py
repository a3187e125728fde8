"""The first hour of a new user, timed: import, ``--help``, ``runs list``, the quick demo (and with ``--full`` the
demo and the default test suite), each in a fresh process, against the budgets of issue 18.

    python benchmarks/time_budgets.py [--full] [--threads N]
    python benchmarks/time_budgets.py --busy 2 [--demo-args "--jobs 1"]   # the quick demo beside 2 busy jobs

Run it on an otherwise idle machine: the figures are wall-clock seconds. ``--threads`` passes ``--threads`` to
the demos (torch's default uses every core, which oversubscribes a machine shared with other busy jobs; compare
the quick demo at the default and at ``--threads 1`` to see what sharing costs). ``--busy N`` starts N busy jobs
(processes multiplying 512×512 matrices with torch's default threads, as another run or a notebook would) before
the quick demo and stops them (by PID) after it, and times only the quick demo; ``--demo-args`` adds options
(e.g. ``--jobs 1``: one process with every thread, instead of the demo's process per core). One line per
measurement, then ``budgets_met: K/N``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEQSSL = [sys.executable, "-m", "seqssl"]


def timed(command: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and exit code of ``command`` in a fresh process."""
    start = time.perf_counter()
    code = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - start, code


BUSY = "import torch\nx = torch.randn(512, 512)\nwhile True:\n    x = torch.tanh(x @ x)\n"


def measurements(full: bool, threads: int | None, work: Path, demo_args: list[str],
                 busy: int) -> list[tuple[str, list[str], float]]:
    """``(name, command, budget in seconds)`` of each measurement."""
    extra = (["--threads", str(threads)] if threads else []) + demo_args
    if busy:
        return [(f"demo_quick_beside_{busy}_busy", [*SEQSSL, "demo", "--quick", "--out", str(work / "quick"), *extra],
                 120.0)]
    items = [("import_seqssl", [sys.executable, "-c", "import seqssl"], 1.0),
             ("help", [*SEQSSL, "--help"], 1.0),
             ("runs_list", [*SEQSSL, "runs", "list"], 1.0),
             ("demo_quick", [*SEQSSL, "demo", "--quick", "--out", str(work / "quick"), *extra], 120.0)]
    if full:
        items += [("demo", [*SEQSSL, "demo", "--out", str(work / "demo"), *extra], 600.0),
                  ("test_suite", [sys.executable, "-m", "pytest", "-q", "-x", str(ROOT / "tests")], 600.0)]
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the demo and the default test suite")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--busy", type=int, default=0, help="only the quick demo, beside N busy jobs")
    parser.add_argument("--demo-args", default="", help="extra options of the demos, e.g. '--jobs 1'")
    args = parser.parse_args()
    met = 0
    with tempfile.TemporaryDirectory() as tmp:
        items = measurements(args.full, args.threads, Path(tmp), args.demo_args.split(), args.busy)
        for name, command, budget in items:
            jobs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
            try:
                time.sleep(1.0 if jobs else 0.0)
                seconds, code = timed(command, ROOT)
            finally:
                for job in jobs:
                    job.terminate()
                    job.wait()
            ok = code == 0 and seconds <= budget
            met += ok
            print(f"{name}_seconds: {seconds:.2f}  (budget {budget:.0f} s, exit {code}, {'ok' if ok else 'OVER'})",
                  flush=True)
    print(f"budgets_met: {met}/{len(items)}")


if __name__ == "__main__":
    main()
