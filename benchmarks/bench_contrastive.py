"""Negatives beyond the batch: the time and memory of one step of ``moco`` (queue of 4,096 keys) against ``simclr``
at the same batch (the same memory budget, far fewer negatives) and against gradient-cached ``simclr`` at about the
same number of negatives per anchor, with hard-negative weighting on and off; default encoder, CDR3β corpus; and
``clip`` on a batch of as many (CDR3β, peptide) binding pairs of the bundled table (its two towers: the receptors,
then the peptides, against each other).

Each configuration runs in its own process; its peak memory is the rise of the process's maximum resident set
size over its size after set-up (model built, batch tokenised, one warm-up step), so the interpreter and the
libraries are not counted. Times are the best of ``--repeats`` steps (forward, backward, optimiser step).
Negatives per anchor: SimCLR at batch B has 2B − 2; MoCo at batch B with a full queue of K has B − 1 + K.

    python benchmarks/bench_contrastive.py [--batch 256] [--queue 4096] [--repeats 3]

Figures, one ``name: value`` a line: ``{config}_seconds_per_step``, ``{config}_peak_mib``, ``{config}_negatives``,
then ``moco_time_ratio_vs_simclr``, ``moco_memory_ratio_vs_simclr`` and ``clip_time_ratio_vs_simclr`` (same batch
size). clip's "negatives" are the batch's other rows, fewer where a peptide is shared (label-aware positives).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(spec: dict) -> dict:
    import dataclasses

    import numpy as np
    import torch

    from seqssl.config import Config
    from seqssl.data.builtin import builtin_path
    from seqssl.data.collate import pad_batch
    from seqssl.data.corpus import load_corpus
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.train.gradcache import cached_backward
    from seqssl.train.optim import build_players
    cfg = Config()
    pre = dataclasses.replace(cfg.pretrain, objective=spec["objective"], options={"moco": {"queue_size": spec.get(
                              "queue", 0)}}, hard_negative_beta=spec.get("beta", 0.0), max_steps=10**6)
    tok = SequenceTokenizer("protein")
    if spec["objective"] == "clip":  # (CDR3β, peptide) binding pairs of the bundled table
        import pandas as pd
        table = pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False).query("label == '1'")
        encoded = [tok.encode(a, p) for a, p in zip(table["cdr3_b_aa"], table["peptide"])]
        ids, types = [e.input_ids for e in encoded], [e.token_type_ids for e in encoded]
    else:
        corpus = load_corpus(builtin_path("background_cdr3b"), ["cdr3_b_aa"], tok, 64)
        ids, types = corpus.encoded.input_ids, corpus.encoded.token_type_ids
    rng = np.random.default_rng(0)

    def batch_of(n: int) -> dict:
        rows = rng.choice(len(ids), n, replace=False)
        return pad_batch([ids[i] for i in rows], [types[i] for i in rows])

    torch.manual_seed(0)
    objective = build_objective(spec["objective"], SequenceEncoder.build(cfg.model, tok.vocab_size), pre,
                                tok.vocab_size).train()
    players = build_players(objective, pre, 10**6)
    gen = torch.Generator().manual_seed(0)
    chunk = spec.get("chunk")

    def step(batch: dict) -> None:
        if chunk:
            cached_backward(objective, batch, gen, chunk)
        else:
            objective(batch, gen)["loss"].backward()
        objective.update(players, 1.0)
        objective.zero_grad(set_to_none=True)

    warm = batch_of(32)
    step(warm)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # (the queue's own memory counts)
    if spec["objective"] == "moco":  # fill the queue (as in a run past its first K / B steps), then measure
        while int(objective.queue.filled) < objective.queue.size:
            with torch.no_grad():
                objective.queue.push(objective.keys(batch_of(spec["batch"])))
    times = []
    for _ in range(spec["repeats"]):
        batch = batch_of(spec["batch"])
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": min(times), "peak_mib": (peak - base) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--queue", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=256, help="gradient-cached SimCLR: rows at a time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(json.loads(args.child))), flush=True)
        return
    same_negatives = (args.batch - 1 + args.queue + 2) // 2 + 1  # 2B − 2 ≥ B − 1 + K
    configs = {
        "simclr": ({"objective": "simclr", "batch": args.batch}, 2 * args.batch - 2),
        "simclr_hard": ({"objective": "simclr", "batch": args.batch, "beta": 1.0}, 2 * args.batch - 2),
        "moco": ({"objective": "moco", "batch": args.batch, "queue": args.queue}, args.batch - 1 + args.queue),
        "moco_hard": ({"objective": "moco", "batch": args.batch, "queue": args.queue, "beta": 1.0},
                      args.batch - 1 + args.queue),
        "simclr_gradcache": ({"objective": "simclr", "batch": same_negatives, "chunk": args.chunk},
                             2 * same_negatives - 2),
        "clip": ({"objective": "clip", "batch": args.batch}, args.batch - 1),
    }
    results = {}
    for name, (spec, negatives) in configs.items():
        done = subprocess.run([sys.executable, __file__, "--child", json.dumps({**spec, "repeats": args.repeats})],
                              capture_output=True, text=True)
        line = next((row for row in done.stdout.splitlines() if row.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
        results[name] = {**json.loads(line[len("RESULT "):]), "negatives": negatives, "batch": spec["batch"]}
        r = results[name]
        print(f"{name:18s} batch {r['batch']:5d}, {negatives:5d} negatives per anchor: {r['seconds']:.3f} s/step, "
              f"peak +{r['peak_mib']:.0f} MiB", flush=True)
    for name, r in results.items():
        print(f"{name}_seconds_per_step: {r['seconds']:.4f}")
        print(f"{name}_peak_mib: {r['peak_mib']:.0f}")
        print(f"{name}_negatives: {r['negatives']}")
    print(f"moco_time_ratio_vs_simclr: {results['moco']['seconds'] / results['simclr']['seconds']:.2f}")
    print(f"moco_memory_ratio_vs_simclr: {results['moco']['peak_mib'] / max(results['simclr']['peak_mib'], 1):.2f}")
    print(f"clip_time_ratio_vs_simclr: {results['clip']['seconds'] / results['simclr']['seconds']:.2f}")
    print(f"gradcache_simclr_time_ratio_vs_moco: "
          f"{results['simclr_gradcache']['seconds'] / results['moco']['seconds']:.2f}")


if __name__ == "__main__":
    main()
