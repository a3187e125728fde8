"""Peak memory and time of one SimCLR step: gradient caching at an effective batch of 4096 in chunks of 256,
against a plain batch of 256 (and, for scale, a plain batch of 4096), default encoder, CDR3β corpus, CPU.

Each configuration runs in its own subprocess; peak memory is the rise of the process's maximum resident
set size over its size after set-up (model built, batch tokenised, one 32-row warm-up step), so the
interpreter, libraries and their one-time workspaces are not counted.

    python benchmarks/bench_gradcache.py [--batch 4096] [--chunk 256] [--repeats 2]
    python benchmarks/bench_gradcache.py --device cuda   # peak = CUDA allocator's peak over its size after set-up

On CUDA the peak is ``torch.cuda.max_memory_allocated`` (reset after set-up) less the memory allocated after
set-up; a plain full batch that does not fit is reported as such.

Last line: ``gradcache_memory_ratio: <value>`` (medians of three processes per arm; target ≤ 1.3).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(batch: int, chunk: int | None, repeats: int, device_name: str = "cpu") -> dict:
    import numpy as np
    import torch

    from seqssl.config import Config
    from seqssl.data.builtin import builtin_path
    from seqssl.data.collate import pad_batch
    from seqssl.data.corpus import load_corpus
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.runtime import generator_for
    from seqssl.train.gradcache import cached_backward
    from seqssl.train.loop import to_device
    device = torch.device(device_name)
    cfg = Config()
    tok = SequenceTokenizer("protein")
    corpus = load_corpus(builtin_path("background_cdr3b"), ["cdr3_b_aa"], tok, 64)
    rows = np.arange(batch)
    data = pad_batch([corpus.encoded.input_ids[i] for i in rows], [corpus.encoded.token_type_ids[i] for i in rows])
    data = to_device(data, device)
    torch.manual_seed(0)
    objective = build_objective("simclr", SequenceEncoder.build(cfg.model, tok.vocab_size), cfg.pretrain,
                                tok.vocab_size).to(device).train()
    gen = generator_for(device, 0)
    warm = {k: v[:32] for k, v in data.items()}  # one small step first: library workspaces are set up
    objective(warm, gen)["loss"].backward()       # once per process, in both arms alike, and not counted
    objective.zero_grad(set_to_none=True)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 1024
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            if chunk:
                cached_backward(objective, data, gen, chunk)
            else:
                objective(data, gen)["loss"].backward()
        except torch.OutOfMemoryError:
            return {"batch": batch, "chunk": chunk, "peak_mib": float("nan"), "seconds": float("nan"),
                    "out_of_memory": True}
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        objective.zero_grad(set_to_none=True)
    peak = torch.cuda.max_memory_allocated() / 1024 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"batch": batch, "chunk": chunk, "peak_mib": (peak - base) / 1024, "seconds": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=3,
                        help="processes per arm, median peak (the CUDA allocator's peak does not vary: 1 will do)")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1] or None, args.repeats, args.device)))
        return

    def run(batch: int, chunk: int) -> dict:
        out = subprocess.run([sys.executable, __file__, "--child", str(batch), str(chunk), "--repeats",
                              str(args.repeats), "--device", args.device], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    def median_of(batch: int, chunk: int, times: int = args.runs) -> dict:
        """Resident-set peaks move by ±20 MiB between identical processes: median of ``times`` runs."""
        runs = sorted((run(batch, chunk) for _ in range(times)), key=lambda r: r["peak_mib"])
        return {**runs[len(runs) // 2], "seconds": min(r["seconds"] for r in runs),
                "spread": [round(r["peak_mib"]) for r in runs if r["peak_mib"] == r["peak_mib"]]}
    plain = median_of(args.chunk, 0)
    cached = median_of(args.batch, args.chunk)
    full = median_of(args.batch, 0, 1)
    print(f"device {args.device}; peak: {'CUDA allocator' if args.device.startswith('cuda') else 'resident set'} "
          "rise over set-up")
    if full.get("out_of_memory"):
        print(f"plain, full batch {args.batch}: out of memory")
        full = {**full, "seconds": float("nan"), "spread": []}
    for name, r in (("plain", plain), ("gradcache", cached), ("plain, full batch", full)):
        chunk = f", chunk {r['chunk']}" if r["chunk"] else ""
        print(f"{name:18s} batch {r['batch']}{chunk}: peak +{r['peak_mib']:.0f} MiB (runs: {r['spread']}), "
              f"{r['seconds']:.2f} s/step")
    print(f"time per step, gradcache vs plain {args.chunk}: {cached['seconds'] / plain['seconds']:.1f}× "
          f"(for {args.batch // args.chunk}× the examples); vs plain {args.batch}: "
          f"{cached['seconds'] / full['seconds']:.2f}×")
    print(f"gradcache_memory_ratio: {cached['peak_mib'] / plain['peak_mib']:.2f}")
    print(f"gradcache_vs_full_memory_ratio: {cached['peak_mib'] / full['peak_mib']:.2f}")
    print(f"gradcache_seconds_per_step: {cached['seconds']:.3f}")


if __name__ == "__main__":
    main()
