"""Cost and effect of adversarial masking (seed 001) against random MLM, same model, data and seed.

For each arm: pretrain the default encoder for ``--updates`` encoder updates on the bundled 100k CDR3β
corpus, in one process, arms interleaved over ``--repeats`` rounds so that machine drift hits all
alike. Reported per arm: wall seconds per *encoder update* (whole noiser/encoder cycles included),
its ratio to random MLM at the same 20% masking, and the adversarial effect over the last half of the
run: MLM loss on the noiser's positions minus the loss on the random positions (> 0: the noiser finds
harder tokens than chance).

    python benchmarks/bench_adversarial.py [--updates 100] [--repeats 2] [--corpus-size 20000]

Last line: ``adversarial_overhead_ratio: <value>`` for the cheapest schedule whose effect stays
positive (the seed's settings when none is).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from seqssl.config import Config
from seqssl.data.builtin import builtin_path
from seqssl.data.corpus import load_corpus
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder
from seqssl.objectives import build_objective
from seqssl.runtime import seed_everything
from seqssl.train.loop import run_pretraining

ARMS = {  # name: (objective, pretrain overrides)
    "mlm-20%": ("mlm", {"mlm_rate": 0.2}),
    "adversarial alternating 10/10, GRU 3x32 (seed defaults)": (
        "adversarial-mlm", {"adversarial_schedule": "alternating", "noiser_steps": 10, "encoder_steps": 10}),
    "adversarial alternating 10/10, GRU 3x32, all mask types": (
        "adversarial-mlm", {"adversarial_schedule": "alternating", "noiser_steps": 10, "encoder_steps": 10,
                            "adversarial_mask_types": "all"}),
    "adversarial alternating 2/10, GRU 1x32": (
        "adversarial-mlm", {"adversarial_schedule": "alternating", "noiser_steps": 2, "encoder_steps": 10,
                            "noiser_layers": 1}),
    "adversarial alternating 1/10, GRU 1x32": (
        "adversarial-mlm", {"adversarial_schedule": "alternating", "noiser_steps": 1, "encoder_steps": 10,
                            "noiser_layers": 1}),
    "adversarial joint, GRU 1x32": ("adversarial-mlm", {"adversarial_schedule": "joint", "noiser_layers": 1}),
}
SEED_ARM = "adversarial alternating 10/10, GRU 3x32 (seed defaults)"  # [MASK]-only (our default)


def run_arm(objective_name: str, overrides: dict, corpus, vocab_size: int, updates: int, seed: int) -> dict:
    cfg = Config()
    pre = dataclasses.replace(cfg.pretrain, objective=objective_name, max_steps=updates, log_every=1, **overrides)
    seed_everything(seed)
    encoder = SequenceEncoder.build(cfg.model, vocab_size)
    objective = build_objective(objective_name, encoder, pre, vocab_size)
    start = time.perf_counter()
    history = run_pretraining(objective, corpus.encoded, pre, device=torch.device("cpu"), seed=seed, progress=False)
    seconds = time.perf_counter() - start
    late = [h for h in history if h["step"] > history[-1]["step"] // 2 and "loss_adversarial" in h
            and np.isfinite(h["loss_adversarial"]) and np.isfinite(h["loss_random"])]
    gap = float(np.mean([h["loss_adversarial"] - h["loss_random"] for h in late])) if late else float("nan")
    return {"seconds_per_update": seconds / updates, "gap": gap, "final_loss": history[-1]["loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100, help="encoder updates per arm and round")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--corpus-size", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = SequenceTokenizer("protein")
    corpus = load_corpus(builtin_path("background_cdr3b"), ["cdr3_b_aa"], tokenizer, 64)
    corpus = corpus.select(np.arange(len(corpus)) < args.corpus_size)
    results = {name: [] for name in ARMS}
    for round_ in range(args.repeats):
        for name, (objective, overrides) in ARMS.items():
            results[name].append(run_arm(objective, overrides, corpus, tokenizer.vocab_size, args.updates, round_))
            print(f"round {round_}: {name}: {results[name][-1]['seconds_per_update'] * 1e3:.1f} ms/update, "
                  f"gap {results[name][-1]['gap']:+.3f}", flush=True)
    base = np.mean([r["seconds_per_update"] for r in results["mlm-20%"]])
    print(f"\n{'arm':56s} {'ms/update':>10s} {'ratio':>6s} {'gap (adv - random loss)':>24s}")
    summary = {}
    for name, runs in results.items():
        per = np.mean([r["seconds_per_update"] for r in runs])
        gap = np.mean([r["gap"] for r in runs])
        summary[name] = (per / base, gap)
        print(f"{name:56s} {per * 1e3:10.1f} {per / base:6.2f} {gap:+24.3f}")
    keeping = {n: v for n, v in summary.items() if n != "mlm-20%" and v[1] > 0}
    chosen = min(keeping, key=lambda n: keeping[n][0]) if keeping else SEED_ARM
    print(f"\nchosen: {chosen} (cheapest with a positive adversarial gap)")
    print(f"adversarial_overhead_ratio: {summary[chosen][0]:.2f}")


if __name__ == "__main__":
    main()
