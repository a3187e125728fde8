"""Thread settings on a shared CPU: the same small fine-tuning workload alone and beside busy jobs, under torch's
defaults (a thread per core; OpenMP's threads spin a while before they sleep), with waiting threads sleeping
(``OMP_WAIT_POLICY=PASSIVE``, what ``seqssl`` sets unless the environment says otherwise), and with one thread.

    python benchmarks/bench_shared_cpu.py [--busy 2] [--steps 40]

The workload (a subprocess per setting, so OpenMP reads its environment fresh): ``--steps`` AdamW steps of the demo
encoder (BERT, hidden 64, 2 layers) on batches of 128 bundled CDR3β–peptide pairs. The busy jobs are subprocesses
multiplying 512×512 matrices with torch's default threads, as another seqssl run or notebook would; they are
started before and stopped (by PID) after each measurement. Each figure is the median of ``--repeats`` runs.
Last line: ``shared_cpu_passive_vs_default: R`` (seconds with passive waiting ÷ seconds with the default, beside
the busy jobs; below 1 means passive waiting helps).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

WORKLOAD = r"""
import sys, time, torch
import pandas as pd
from seqssl.config import ModelConfig
from seqssl.data.builtin import builtin_path
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.data.padding import pad_batch
from seqssl.models.encoder import SequenceEncoder
steps = int(sys.argv[1])
torch.manual_seed(0)
frame = pd.read_csv(builtin_path("mira_binding")).iloc[:128]
tok = SequenceTokenizer("protein")
enc = [tok.encode(a, b) for a, b in zip(frame["cdr3_b_aa"], frame["peptide"])]
batch = pad_batch([e.input_ids for e in enc], [e.token_type_ids for e in enc])
model = SequenceEncoder.build(ModelConfig(), tok.vocab_size)
head = torch.nn.Linear(model.hidden_size, 1)
opt = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=1e-3)
y = torch.tensor(frame["label"].to_numpy(), dtype=torch.float32)
start = time.perf_counter()
for _ in range(steps):
    out = head(model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])).squeeze(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, y)
    opt.zero_grad(); loss.backward(); opt.step()
print(time.perf_counter() - start)
"""

BUSY = "import torch\nx = torch.randn(512, 512)\nwhile True:\n    x = torch.tanh(x @ x)\n"

SETTINGS = {  # name: environment changes (None removes the variable)
    "torch default": {"OMP_WAIT_POLICY": None, "OMP_NUM_THREADS": None},
    "passive waiting": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": None},
    "one thread": {"OMP_WAIT_POLICY": None, "OMP_NUM_THREADS": "1"},
    # libgomp (torch's OpenMP on Linux) spins GOMP_SPINCOUNT times before sleeping (default 300,000; PASSIVE: 0)
    "spin 10k": {"OMP_WAIT_POLICY": None, "OMP_NUM_THREADS": None, "GOMP_SPINCOUNT": "10000"},
    "spin 100k": {"OMP_WAIT_POLICY": None, "OMP_NUM_THREADS": None, "GOMP_SPINCOUNT": "100000"},
}


def environment(changes: dict) -> dict:
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def workload_seconds(changes: dict, steps: int) -> float:
    done = subprocess.run([sys.executable, "-c", WORKLOAD, str(steps)], env=environment(changes),
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def measure(changes: dict, steps: int, busy: int, repeats: int) -> float:
    jobs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        time.sleep(1.0 if busy else 0.0)
        return statistics.median(workload_seconds(changes, steps) for _ in range(repeats))
    finally:
        for job in jobs:
            job.terminate()
            job.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; workload: {args.steps} steps; busy jobs: {args.busy}")
    print(f"{'setting':32s} {'alone s':>9s} {'beside busy s':>14s} {'slowdown':>9s}")
    results = {}
    for name in args.settings.split(","):
        changes = SETTINGS[name]
        alone = measure(changes, args.steps, 0, args.repeats)
        shared = measure(changes, args.steps, args.busy, args.repeats)
        results[name] = (alone, shared)
        print(f"{name:32s} {alone:9.2f} {shared:14.2f} {shared / alone:9.2f}", flush=True)
    if "passive waiting" in results and "torch default" in results:
        ratio = results["passive waiting"][1] / results["torch default"][1]
        print(f"shared_cpu_passive_vs_default: {ratio:.2f}")


if __name__ == "__main__":
    main()
