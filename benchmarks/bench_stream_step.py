"""The streamed fine-tuning step against the in-memory one at the same rows: ``bench_labelled_stream.py``'s training
phase with ``--stream`` (the memory-mapped cache) and without it (the whole table read as Python rows), alternating,
each run in a process of its own, so that a machine whose speed drifts during the runs drifts for both.

    python benchmarks/bench_labelled_stream.py --rows 1000000 --no-graphs --work W
    python benchmarks/bench_stream_step.py --work W --runs 2

Both read the same file with the same options (batch size, steps, threads, length-grouped batches, the default heap
trim). Prints one ``name: value`` a line: each run's step time, peak (proportional set size) and seconds, then
``median_step_ratio_stream_vs_in_memory``. The issue's target: within 10% at 1M rows.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from bench_heap_trim import phase_parser, train_phase


def main() -> None:
    args = phase_parser(__doc__.split("\n\n")[0]).parse_args()
    work = Path(args.work)
    arms = {"stream": "train", "in_memory": "train_in_memory"}
    steps: dict[str, list[float]] = {arm: [] for arm in arms}
    for run in range(1, args.runs + 1):
        for arm, phase in arms.items():
            result = train_phase(work, args, "trimmed", phase)
            steps[arm].append(result["step_seconds"])
            print(f"{arm}_{run}_train_step_s: {result['step_seconds']:.4f}")
            print(f"{arm}_{run}_peak_rss_gb: {result['pss_gb']:.2f}")
            print(f"{arm}_{run}_seconds: {result['seconds']:.1f}")
            print(f"{arm}_{run}_val_map: {result['val_map']:.6f}", flush=True)
    ratio = statistics.median(steps["stream"]) / statistics.median(steps["in_memory"])
    print(f"median_step_ratio_stream_vs_in_memory: {ratio:.3f}")


if __name__ == "__main__":
    main()
