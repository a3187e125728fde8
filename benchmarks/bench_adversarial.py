"""Cost and effect of adversarial masking (seed 001) against random MLM, same model, data and seed.

For each arm: pretrain for ``--updates`` encoder updates on the bundled 100k CDR3β corpus, in one process, arms
interleaved over ``--repeats`` rounds so that machine drift hits all alike. Reported per arm: wall seconds per
*encoder update* (whole noiser/encoder cycles included; timed from the end of the first 10 updates, a whole
cycle of every schedule here, to the end of the run, so the run's set-up does not count), its ratio to random
MLM at the same 20% masking and encoder, and the adversarial effect over the last half of the run: MLM loss on
the noiser's positions minus the loss on the random positions (> 0: the noiser finds harder tokens than chance).

The seed's settings (seqssl's defaults): alternating 10 noiser / 10 encoder updates, a 3-layer bidirectional GRU
noiser (32 wide), 10% adversarial + 10% random masking, [MASK] only. An encoder update then costs one encoder
step plus one noiser step (a cycle of 10 + 10 per 10 encoder updates): the encoder's step is an MLM step plus the
noiser's forward pass (no gradient); the noiser's step is the encoder's forward and its backward down to the
input embeddings only (no weight gradients: about two thirds of an MLM step), plus the GRU's forward and
backward. The GRU is sequential over residues (3 layers × 2 directions × L small steps), so on a CPU its cost
does not shrink with the encoder: with the demo encoder (2 layers, 64 wide) it costs about as much as the
encoder itself, with a larger one (``--large``: 4 layers, 256 wide) it is a small share. The breakdown printed
for the seed arm (milliseconds per batch, best of several, each piece alone) shows where the time goes.

What seqssl does to keep it cheap: the noiser's turn back-propagates into the noiser only (``backward(inputs=
noiser parameters)``: the encoder's weight gradients are never computed); the MLM head and the loss run on the
~20% predicted positions only, not on every token; on the encoder's turn the noiser runs without a graph and the
encoder reads token ids (not one-hot rows). Both players cannot share a pass in this schedule: each update is
taken at the other player's current weights (``joint`` is the schedule that shares one pass, with a gradient
reversal).

    python benchmarks/bench_adversarial.py [--updates 100] [--repeats 2] [--corpus-size 20000] [--large]
    python benchmarks/bench_adversarial.py --quick     # smoke run, < 1 minute

At the seed's own sizes (seed 001: a 3-layer GRU noiser with a 1024-wide input embedding and 512-wide output, a
TAPE-sized encoder; here the ESM-2-8M-like encoder of ``bench_throughput.py`` on its FLIP proteins), MLM and the
seed arm only, on a GPU::

    python benchmarks/bench_adversarial.py --device cuda --encoder esm8m --corpus proteins \
        --noiser-embedding 1024 --noiser-hidden 512 --batch-size 64 --seed-arm-only

Last lines: ``adversarial_overhead_ratio: <value>`` for the cheapest schedule whose effect stays positive (the
seed's settings when none is), then ``adversarial_seed_defaults_ratio: <value>``: the seed's settings, seconds
per encoder update relative to MLM, demo encoder.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

import seqssl  # noqa: F401  before torch: its OMP_WAIT_POLICY=PASSIVE, for both sides and children

# isort: split
import torch

from seqssl.config import Config
from seqssl.data.builtin import builtin_path
from seqssl.data.collate import iterate_batches
from seqssl.data.corpus import load_corpus
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder
from seqssl.objectives import build_objective
from seqssl.objectives.adversarial_mlm import AdversarialOptions
from seqssl.runtime import seed_everything
from seqssl.train.loop import run_pretraining
from seqssl.train.optim import build_players


def adversarial(**settings) -> dict:
    """Pretrain overrides setting the adversarial-mlm objective's own settings (pretrain.adversarial-mlm)."""
    return {"options": {"adversarial-mlm": settings}}


SEED_SETTINGS = adversarial(schedule="alternating", noiser_steps=10, encoder_steps=10)
ARMS = {  # name: (objective, pretrain overrides)
    "mlm-20%": ("mlm", {"mlm_rate": 0.2}),
    "adversarial alternating 10/10, GRU 3x32 (seed defaults)": ("adversarial-mlm", SEED_SETTINGS),
    "adversarial alternating 10/10, GRU 3x32, all mask types": (
        "adversarial-mlm", adversarial(schedule="alternating", noiser_steps=10, encoder_steps=10, mask_types="all")),
    "adversarial alternating 2/10, GRU 1x32": (
        "adversarial-mlm", adversarial(schedule="alternating", noiser_steps=2, encoder_steps=10, noiser_layers=1)),
    "adversarial alternating 1/10, GRU 1x32": (
        "adversarial-mlm", adversarial(schedule="alternating", noiser_steps=1, encoder_steps=10, noiser_layers=1)),
    "adversarial joint, GRU 1x32": ("adversarial-mlm", adversarial(schedule="joint", noiser_layers=1)),
}
SEED_ARM = "adversarial alternating 10/10, GRU 3x32 (seed defaults)"  # [MASK]-only (our default)
WARM = 10  # encoder updates (a whole cycle of every schedule here) not timed
LARGE = {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 1024}  # ~3.2M parameters
LARGE_ARMS = {"mlm-20%, encoder 4x256": ("mlm", {"mlm_rate": 0.2}),
              "seed defaults, encoder 4x256": ("adversarial-mlm", SEED_SETTINGS)}



@dataclasses.dataclass
class Setting:
    """What every arm shares: the encoder (``demo``, ``esm8m``), the noiser's sizes, the batch and the device."""
    encoder: str = "demo"
    noiser_embedding: int | None = None  # None: seqssl's defaults
    noiser_hidden: int | None = None
    batch_size: int | None = None
    max_length: int | None = None
    device: str = "cpu"

    def pretrain(self, objective_name: str, overrides: dict, updates: int):
        noiser = {k: v for k, v in (("noiser_embedding_size", self.noiser_embedding),
                                    ("noiser_hidden_size", self.noiser_hidden)) if v}
        batch = {"batch_size": self.batch_size} if self.batch_size else {}
        settings = {**noiser, **overrides.get("options", {}).get("adversarial-mlm", {})}
        rest = {k: v for k, v in overrides.items() if k != "options"}
        return dataclasses.replace(Config().pretrain, objective=objective_name, max_steps=updates, log_every=1,
                                   options={"adversarial-mlm": settings}, **batch, **rest)

    def model(self, large: bool = False):
        cfg = Config().model
        if large:
            return dataclasses.replace(cfg, **LARGE)
        if self.encoder == "esm8m":
            from bench_throughput import ESM_8M
            return dataclasses.replace(cfg, **ESM_8M, max_length=self.max_length or 512)
        return cfg


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_arm(objective_name: str, overrides: dict, corpus, vocab_size: int, updates: int, seed: int,
            large: bool = False, setting: Setting | None = None) -> dict:
    setting = setting or Setting()
    pre = setting.pretrain(objective_name, overrides, updates)
    seed_everything(seed)
    encoder = SequenceEncoder.build(setting.model(large), vocab_size)
    objective = build_objective(objective_name, encoder, pre, vocab_size)
    # (log_every=1: every step reads its loss back, a device synchronisation, so the history's wall times are
    # the steps' own on a GPU too, for every arm alike)
    history = run_pretraining(objective, corpus.encoded, pre, device=torch.device(setting.device), seed=seed,
                              progress=False)
    # steady state: from the end of the first WARM encoder updates (whole cycles) to the end of the run, so that
    # the run's set-up and its first steps (allocations, one-time kernel set-up) do not count
    warm = WARM if updates > WARM else 0
    first = objective.loop_steps(warm)
    at = {h["step"]: h["seconds"] for h in history}
    seconds = at[history[-1]["step"]] - (at[first] if first else 0.0)
    updates -= warm
    late = [h for h in history if h["step"] > history[-1]["step"] // 2 and "loss_adversarial" in h
            and np.isfinite(h["loss_adversarial"]) and np.isfinite(h["loss_random"])]
    gap = float(np.mean([h["loss_adversarial"] - h["loss_random"] for h in late])) if late else float("nan")
    return {"seconds_per_update": seconds / updates, "gap": gap, "final_loss": history[-1]["loss"]}


def breakdown(corpus, vocab_size: int, setting: Setting, rounds: int = 3, n_batches: int = 6) -> dict:
    """Milliseconds per batch of the pieces of the seed arm (each the best of ``rounds`` passes over the same
    ``n_batches`` batches): an MLM step, the encoder's and the noiser's turns (forward, backward, optimiser
    step), and the GRU noiser alone (forward without a graph; forward + backward)."""
    from seqssl.runtime import generator_for
    from seqssl.train.loop import to_device
    device = torch.device(setting.device)
    mlm_pre = setting.pretrain("mlm", {"mlm_rate": 0.2}, 10**6)
    pre = setting.pretrain("adversarial-mlm", SEED_SETTINGS, 10**6)
    batches = [to_device(b, device) for _, b in iterate_batches(corpus.encoded, pre.batch_size,
                                                                np.random.default_rng(0))][:n_batches]
    generator = generator_for(device, 0)
    seed_everything(0)
    mlm = build_objective("mlm", SequenceEncoder.build(setting.model(), vocab_size), mlm_pre, vocab_size).to(device)
    adversarial = build_objective("adversarial-mlm", SequenceEncoder.build(setting.model(), vocab_size), pre,
                                  vocab_size).to(device)
    mlm_players = build_players(mlm, mlm_pre, 10**6)
    players = build_players(adversarial, pre, 10**6)

    def step(objective, players, turn):
        def run(batch):
            objective.active_players = (turn,)
            params = players[turn].params
            objective(batch, generator)["loss"].backward(inputs=params if objective.multi_player else None)
            objective.update(players, 1.0)
        return run

    def gru(grad: bool):
        def run(batch):
            with torch.set_grad_enabled(grad):
                scores = adversarial.noiser(batch["input_ids"], batch["attention_mask"])
                if grad:
                    scores.sum().backward()
        return run

    pieces = {"mlm step": step(mlm, mlm_players, "model"), "encoder turn": step(adversarial, players, "encoder"),
              "noiser turn": step(adversarial, players, "noiser"), "GRU forward (no graph)": gru(False),
              "GRU forward + backward": gru(True)}
    best = {name: float("inf") for name in pieces}
    for _ in range(rounds):
        for name, run in pieces.items():
            sync(device)
            start = time.perf_counter()
            for batch in batches:
                run(batch)
            sync(device)
            best[name] = min(best[name], (time.perf_counter() - start) / len(batches) * 1e3)
    return best


def load_proteins(max_residues: int):
    """The FLIP proteins of ``bench_throughput.py`` (100 to ``max_residues`` residues) as a corpus."""
    import tempfile

    import pandas as pd
    from bench_throughput import PROTEIN_COLUMN, flip_proteins
    with tempfile.TemporaryDirectory() as scratch:
        path = f"{scratch}/proteins.csv"
        pd.DataFrame({PROTEIN_COLUMN: flip_proteins(max_residues=max_residues)}).to_csv(path, index=False)
        return load_corpus(path, [PROTEIN_COLUMN], SequenceTokenizer("protein"), max_residues + 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100, help="encoder updates per arm and round")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--corpus-size", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--large", action="store_true", help="also the seed arm against MLM at a 4x256 encoder")
    parser.add_argument("--large-updates", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 updates, 1 round, 3,000 sequences")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--encoder", choices=("demo", "esm8m"), default="demo",
                        help="esm8m: bench_throughput.py's ESM-2-8M-like encoder (6x320)")
    parser.add_argument("--corpus", choices=("cdr3", "proteins"), default="cdr3",
                        help="proteins: bench_throughput.py's FLIP proteins of 100-510 residues")
    parser.add_argument("--max-residues", type=int, default=510, help="--corpus proteins: longest kept")
    parser.add_argument("--noiser-embedding", type=int, default=None, help="the seed's: 1024 (default: seqssl's)")
    parser.add_argument("--noiser-hidden", type=int, default=None, help="the seed's: 512 (default: seqssl's)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: seqssl's pretrain.batch_size")
    parser.add_argument("--seed-arm-only", action="store_true", help="MLM and the seed arm only")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.repeats, args.corpus_size, args.large_updates = 20, 1, 3000, 20
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = SequenceTokenizer("protein")
    if args.corpus == "proteins":
        corpus = load_proteins(args.max_residues)
    else:
        corpus = load_corpus(builtin_path("background_cdr3b"), ["cdr3_b_aa"], tokenizer, 64)
    corpus = corpus.select(np.arange(len(corpus)) < args.corpus_size)
    setting = Setting(args.encoder, args.noiser_embedding, args.noiser_hidden, args.batch_size,
                      args.max_residues + 2 if args.corpus == "proteins" else None, args.device)
    arms = {name: (objective, overrides, False) for name, (objective, overrides) in ARMS.items()}
    if args.quick or args.seed_arm_only:
        arms = {name: arms[name] for name in ("mlm-20%", SEED_ARM)}
    if args.large:
        arms.update({name: (objective, overrides, True) for name, (objective, overrides) in LARGE_ARMS.items()})
    pre = setting.pretrain("adversarial-mlm", SEED_SETTINGS, 1)
    noiser = AdversarialOptions(**pre.options["adversarial-mlm"])
    print(f"device {setting.device}, encoder {args.encoder}, noiser GRU {noiser.noiser_layers} layers, embedding "
          f"{noiser.noiser_embedding_size}, hidden {noiser.noiser_hidden_size} per direction", flush=True)
    print(f"{torch.get_num_threads()} threads, {len(corpus)} {args.corpus} sequences, batch {pre.batch_size}, "
          f"{args.updates} encoder updates per arm ({args.large_updates} for the 4x256 encoder), "
          f"{args.repeats} rounds", flush=True)
    def shown(name: str) -> str:
        """The arm's name with the noiser's sizes of this run (the names say seqssl's default GRU, 3x32)."""
        if not (args.noiser_embedding or args.noiser_hidden):
            return name
        return name.replace("x32", f"x{noiser.noiser_hidden_size} (embedding {noiser.noiser_embedding_size})")

    results: dict[str, list[dict]] = {name: [] for name in arms}
    for round_ in range(args.repeats):
        for name, (objective, overrides, large) in arms.items():
            updates = args.large_updates if large else args.updates
            results[name].append(run_arm(objective, overrides, corpus, tokenizer.vocab_size, updates, round_, large,
                                         setting))
            print(f"round {round_}: {shown(name)}: {results[name][-1]['seconds_per_update'] * 1e3:.1f} ms/update, "
                  f"gap {results[name][-1]['gap']:+.3f}", flush=True)
    bases = {False: np.mean([r["seconds_per_update"] for r in results["mlm-20%"]])}
    if args.large:
        bases[True] = np.mean([r["seconds_per_update"] for r in results["mlm-20%, encoder 4x256"]])
    print(f"\n{'arm':56s} {'ms/update':>10s} {'ratio':>6s} {'gap (adv - random loss)':>24s}")
    summary = {}
    for name, runs in results.items():
        per = np.mean([r["seconds_per_update"] for r in runs])
        gap = np.mean([r["gap"] for r in runs])
        summary[name] = (per / bases[arms[name][2]], gap)
        print(f"{shown(name):56s} {per * 1e3:10.1f} {summary[name][0]:6.2f} {gap:+24.3f}")
    print(f"\nwhere the seed arm's time goes ({args.encoder} encoder, ms per batch, each piece alone, best of 3):")
    pieces = breakdown(corpus, tokenizer.vocab_size, setting)
    for name, ms in pieces.items():
        print(f"  {name:28s} {ms:8.1f}")
    per_update, mlm = pieces["encoder turn"] + pieces["noiser turn"], pieces["mlm step"]
    without_gru = per_update - pieces["GRU forward (no graph)"] - pieces["GRU forward + backward"]
    print(f"  encoder + noiser turn = {per_update:.1f} ms per encoder update = {per_update / mlm:.2f}× an MLM step; "
          f"less the GRU's share, {without_gru / mlm:.2f}×")
    gru_ms = pieces["GRU forward (no graph)"] + pieces["GRU forward + backward"]
    print(f"adversarial_gru_share: {gru_ms / per_update:.2f}")
    keeping = {n: v for n, v in summary.items() if n in ARMS and n != "mlm-20%" and v[1] > 0}
    chosen = min(keeping, key=lambda n: keeping[n][0]) if keeping else SEED_ARM
    print(f"\nchosen: {shown(chosen)} (cheapest with a positive adversarial gap)")
    if args.large:
        print(f"seed defaults at the 4x256 encoder: {summary['seed defaults, encoder 4x256'][0]:.2f}× its MLM")
    print(f"adversarial_overhead_ratio: {summary[chosen][0]:.2f}")
    print(f"adversarial_seed_defaults_ratio: {summary[SEED_ARM][0]:.2f}")


if __name__ == "__main__":
    main()
