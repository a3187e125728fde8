"""The C heap trimmed during a streamed fine-tuning run (``seqssl.heap.trim_heap``) against not trimmed: the training
phase of ``bench_labelled_stream.py`` (``--steps`` steps of ``--batch-size``, then the validation sample and the test
split scored) run on the same labelled cache, alternating trimmed and untrimmed, each run in a process of its own.

    python benchmarks/bench_labelled_stream.py --rows 10000000 --no-graphs --predict-rows 1000000 --work W
    python benchmarks/bench_heap_trim.py --work W --runs 2

``--work``: a working directory ``bench_labelled_stream.py`` filled (its file, encoder and cache; the training
phase's output folder is replaced each run). ``trimmed`` is the library's default (a gather trims the heap once the
process has grown by ``seqssl.data.stream.TRIM_AFTER_GROWTH_BYTES`` since the last trim); ``--also-after MB ...``
adds an arm ``after_MBmb`` for each growth given (0: a trim before every gather). Prints one ``name: value`` a line:
each run's peak (proportional set size of the process, and its anonymous part), step time and heap trims, then each
arm's medians' ratios to untrimmed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).with_name("bench_labelled_stream.py")


def arm_options(arm: str) -> tuple[str, ...]:
    """``bench_labelled_stream.py``'s options for an arm: untrimmed, trimmed (the default), after_MBmb."""
    if arm == "untrimmed":
        return ("--no-heap-trim",)
    if arm.startswith("after_"):
        return ("--heap-trim-after", arm.removeprefix("after_").removesuffix("mb"))
    return ()


def train_phase(work: Path, args, arm: str, phase: str = "train") -> dict:
    """``bench_labelled_stream.py``'s training ``phase`` (``train``, or ``train_in_memory``) on ``work``'s cache in a
    process of its own, with ``arm``'s options; its figures. The phase's output folder is replaced."""
    shutil.rmtree(work / phase, ignore_errors=True)
    argv = [sys.executable, str(BENCH), "--phase", phase, "--work", str(work), "--rows", "0", "--no-graphs",
            "--jobs", "2", "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--threads",
            str(args.threads), *arm_options(arm)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def phase_parser(description: str) -> argparse.ArgumentParser:
    """The options of a script that alternates training phases on a ``bench_labelled_stream.py`` working directory."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work", required=True, help="a bench_labelled_stream.py working directory")
    parser.add_argument("--runs", type=int, default=2, help="runs of each (alternating)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    return parser


def main() -> None:
    parser = phase_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--also-after", type=float, nargs="*", default=[], metavar="MB",
                        help="arms trimming once the process has grown by MB since the last trim (0: every gather)")
    args = parser.parse_args()
    work = Path(args.work)
    if not any((work / "cache").glob("labelled-*.arrow")):
        raise SystemExit(f"{work}: no labelled cache; run bench_labelled_stream.py --work {work} first")
    arms = ["untrimmed", "trimmed", *(f"after_{mb:g}mb" for mb in args.also_after)]
    figures: dict[str, list[dict]] = {arm: [] for arm in arms}
    for run in range(1, args.runs + 1):
        for arm in arms:
            result = train_phase(work, args, arm)
            figures[arm].append(result)
            print(f"{arm}_{run}_train_peak_rss_gb: {result['pss_gb']:.2f}")
            print(f"{arm}_{run}_train_peak_anonymous_gb: {result['anonymous_pss_gb']:.2f}")
            print(f"{arm}_{run}_train_step_s: {result['step_seconds']:.4f}")
            print(f"{arm}_{run}_heap_trims: {result['heap_trims']}")
            print(f"{arm}_{run}_val_map: {result['val_map']:.6f}", flush=True)
    print(f"n_fit: {figures['trimmed'][0]['n_fit']}")
    for arm in arms[1:]:
        for key, label in (("pss_gb", "peak"), ("anonymous_pss_gb", "peak_anonymous"), ("step_seconds", "step")):
            ratio = (statistics.median(r[key] for r in figures[arm])
                     / statistics.median(r[key] for r in figures["untrimmed"]))
            print(f"median_{label}_ratio_{arm}_vs_untrimmed: {ratio:.3f}")

if __name__ == "__main__":
    main()
