"""The pretraining step time of a TAPE config (``configs/tape_fluorescence.yaml``: seqssl's default encoder, MLM at
batch 128) on proteins of TAPE fluorescence's length (237 residues), to estimate a full TAPE run's wall time on this
machine. Synthetic sequences (uniform residues): the step time depends on lengths and batch, not on the residues.

    python benchmarks/bench_tape_step.py [--steps 20] [--length 237] [--config configs/tape_fluorescence.yaml]

Figures, one ``name: value`` a line: ``seconds_per_step`` (the mean over the steps after the first two),
``tokens_per_second`` and ``estimated_pretraining_minutes`` for the config's ``pretrain.max_steps``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--length", type=int, default=237)
    parser.add_argument("--config", default="configs/tape_fluorescence.yaml")
    args = parser.parse_args()
    import seqssl
    from seqssl.config import load_config
    rng = np.random.default_rng(0)
    residues = list("ACDEFGHIKLMNPQRSTVWY")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "proteins.csv"
        pd.DataFrame({"primary": ["".join(rng.choice(residues, args.length)) for _ in range(4096)]}).to_csv(
            data, index=False)
        full = load_config(args.config, {})
        cfg = load_config(args.config, {"data": {"path": str(data), "columns": ["primary"], "split_column": None,
                                                 "label_column": None, "task": None},
                                        "pretrain": {"objective": "mlm", "max_steps": args.steps, "log_every": 1},
                                        "out": str(Path(tmp) / "enc"), "quiet": True})
        start = time.perf_counter()
        seqssl.pretrain(cfg)
        wall = time.perf_counter() - start
        history = pd.read_csv(Path(tmp) / "enc" / "pretrain_history.csv")
    seconds = history["seconds"].to_numpy()
    per_step = float(np.diff(seconds[1:]).mean()) if len(seconds) > 3 else wall / args.steps
    tokens = cfg.pretrain.batch_size * (args.length + 2)
    print(f"steps: {args.steps}")
    print(f"batch_size: {cfg.pretrain.batch_size}")
    print(f"sequence_length: {args.length}")
    print(f"seconds_per_step: {per_step:.3f}")
    print(f"tokens_per_second: {tokens / per_step:.0f}")
    print(f"estimated_pretraining_minutes: {full.pretrain.max_steps * per_step / 60:.0f}")
    print(json.dumps({"wall_seconds": round(wall, 1)}))


if __name__ == "__main__":
    main()
