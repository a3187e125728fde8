"""The first hour of a new user, timed: import, ``--help``, ``runs list``, the quick demo (and with ``--full`` the
demo and the default test suite), each in a fresh process, against the budgets of issue 18.

    python benchmarks/time_budgets.py [--full] [--threads N]

Run it on an otherwise idle machine: the figures are wall-clock seconds. ``--threads`` passes ``--threads`` to
the demos (torch's default uses every core, which oversubscribes a machine shared with other busy jobs; compare
the quick demo at the default and at ``--threads 1`` to see what sharing costs). One line per measurement, then
``budgets_met: K/N``.
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


def measurements(full: bool, threads: int | None, work: Path) -> list[tuple[str, list[str], float]]:
    """``(name, command, budget in seconds)`` of each measurement."""
    extra = ["--threads", str(threads)] if threads else []
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
    args = parser.parse_args()
    met = 0
    with tempfile.TemporaryDirectory() as tmp:
        items = measurements(args.full, args.threads, Path(tmp))
        for name, command, budget in items:
            seconds, code = timed(command, ROOT)
            ok = code == 0 and seconds <= budget
            met += ok
            print(f"{name}_seconds: {seconds:.2f}  (budget {budget:.0f} s, exit {code}, {'ok' if ok else 'OVER'})",
                  flush=True)
    print(f"budgets_met: {met}/{len(items)}")


if __name__ == "__main__":
    main()
