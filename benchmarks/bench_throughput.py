"""MLM pretraining throughput and MFU: seqssl against the Hugging Face ``Trainer`` with length grouping on.

Three shapes and a memory check, each trained by both sides with the same encoder configuration (built by one
function, ``seqssl.models.encoder.transformers_config``, attention implementation included: ``sdpa``, seqssl's
default and the Trainer's), the same batch size in sequences, number of optimiser steps, masking (15%,
80/10/10), AdamW settings, warm-up and cosine schedule, gradient clipping 1.0, dropout (0) and precision:

- **a**: the demo encoder (BERT, hidden 64, 2 layers, 4 heads, FFN 128) on the bundled 100k CDR3β corpus
  (~16 tokens per sequence);
- **b**: an ESM-2-8M-like encoder (ESM, 6 layers, hidden 320, 20 heads, FFN 1280, absolute positions; 7.4M
  non-embedding parameters) on proteins of 100-492 residues made from the bundled FLIP conservation set: its
  1,231 proteins of ≥ 100 residues, plus 750 pairs of its proteins joined end to end (pairs of a seeded
  shuffle, those ≤ 510 residues), so that lengths span 100-492 residues (mean ~224); fp32;
- **c**: shape b under bf16 autocast;
- **m**: shape b's encoder for one step of 64 sequences × 512 tokens (the same proteins cut into pieces of
  510 residues): the peak memory of each side.

The Trainer samples batches with ``train_sampling_strategy="group_by_length"`` (the name in transformers
5.x; ``group_by_length=True`` in 4.x, chosen by what the installed ``TrainingArguments`` accepts): like
seqssl, it batches sequences of similar length, and it uses the fused AdamW kernel as seqssl now does. What
differs is the pipeline: seqssl pads with NumPy, draws masks as tensors, applies the MLM head to the masked
positions only, computes ESM's GELU in one kernel (``seqssl.models.kernels``) and runs a plain loop; the
Trainer pads through the tokenizer's collator, runs the head on every token and runs its general loop.

Each side runs in its own process (so that peak memory is its own), sides alternating over ``--repeats``:
data loading (read + tokenise the same file), a warm-up of ``--warmup`` steps with a throw-away model
(one-time library set-up, oneDNN kernels), then the timed training of a fresh model (seed 0) for
``--steps-b`` (``--steps-a``) optimiser steps. Reported per side: tokens/s (real, non-padding tokens seen by
the encoder, counted by a hook on the backbone, [CLS]/[SEP] included) of the fastest repeat, padding share,
peak memory (CPU: the process's peak RSS, ``ru_maxrss``, and its rise over the RSS after imports and data
loading; CUDA: ``torch.cuda.max_memory_allocated`` of the timed run), and MFU. The ratio is of tokens/s over
the training alone, and is printed with data loading included too.

**MFU** = model FLOPs per second ÷ the measured peak of a large matrix multiply (fp32 for fp32 shapes,
bf16 for bf16) on the same device, thread count and run (the best of ``a @ b`` and ``linear(a, b)`` over
square sizes growing from 256). Model FLOPs of one sequence of ``T`` real tokens, forward + backward::

    6 · N · T  +  12 · n_layers · d · T²

with ``N`` the encoder's non-embedding parameters (attention and feed-forward weights, layer norms) and
``d`` the hidden size: 2 FLOPs per weight per token forward, twice that backward; the attention term counts
``QKᵀ`` and ``softmax · V`` (each ``2 · T² · d`` per layer forward) times 3 for forward + backward (PaLM,
Chowdhery et al. 2022, App. B). The MLM head, embeddings, padding and recomputation are not counted. Kaplan
et al.'s attention term, ``6 · n_layers · d · T²`` (half the matrix products of a bidirectional encoder),
gives the lower MFU printed as "(Kaplan)".

    python benchmarks/bench_throughput.py                 # a, b, c, m: ~12 minutes on 2 idle cores (CPU)
    python benchmarks/bench_throughput.py --quick         # smoke run, in-process, < 1 minute
    python benchmarks/bench_throughput.py --shapes b --before   # + seqssl as it was before issue 19
    python benchmarks/bench_throughput.py --shapes b --max-tokens 4096   # + token-bounded seqssl batches
    python benchmarks/bench_throughput.py --shapes a --compile  # + torch.compile on both sides (timed from cold)
    python benchmarks/bench_throughput.py --profile b [--before]  # torch.profiler table of one seqssl step

On a CPU without native bf16 matrix multiplies (AVX2 only: bf16 is emulated, several times slower than
fp32), shape c is shrunk to ``--bf16-emulated-steps`` steps of ``--bf16-emulated-batch`` sequences and says so.

The last lines are ``name: value`` figures: the matmul peaks, per shape and side tokens/s (and the CUDA
allocator's peak), seqssl's MFU against the bf16 peak whatever the shape's precision, then
``shape_b_ratio_vs_grouped_trainer: R`` (seqssl tokens/s ÷ Trainer tokens/s) and ``shape_b_mfu: M`` (seqssl's
MFU, against the peak of the shape's own precision, as a fraction).
"""
from __future__ import annotations

import argparse
import dataclasses
import gzip
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

import seqssl  # noqa: F401  before torch: its OMP_WAIT_POLICY=PASSIVE, for both sides and children

# isort: split
import torch

CDR3_COLUMN = "cdr3_b_aa"
PROTEIN_COLUMN = "sequence"
ESM_8M = {"architecture": "esm", "hidden_size": 320, "num_layers": 6, "num_heads": 20, "intermediate_size": 1280}


@dataclasses.dataclass
class Shape:
    name: str
    title: str
    corpus: str  # cdr3 | protein
    model: dict
    precision: str
    batch: int
    steps: int
    max_length: int | None = None


def shapes(args) -> dict[str, Shape]:
    return {
        "a": Shape("a", "demo encoder (BERT 2x64) on CDR3s", "cdr3", {}, "fp32", args.batch_a, args.steps_a),
        "b": Shape("b", "ESM-2-8M-like (6x320, 20 heads, FFN 1280) on FLIP proteins", "protein", ESM_8M, "fp32",
                   args.batch_b, args.steps_b, 512),
        "c": Shape("c", "shape b under bf16 autocast", "protein", ESM_8M, "bf16", args.batch_b, args.steps_b, 512),
        "m": Shape("m", "shape b's encoder at 64 sequences × 512 tokens (peak memory)", "protein512", ESM_8M, "fp32",
                   64, 1, 512),
    }


# -- data -------------------------------------------------------------------------------------------------
def flip_proteins(min_residues: int = 100, max_residues: int = 510) -> list[str]:
    """FLIP conservation proteins of ≥ ``min_residues``, plus pairs of them joined end to end (≤ ``max_residues``)."""
    from seqssl.data.builtin import builtin_path
    sequences, current = [], []
    with gzip.open(builtin_path("flip_conservation_sequences"), "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                if current:
                    sequences.append("".join(current))
                current = []
            else:
                current.append(line.strip().upper())
    if current:
        sequences.append("".join(current))
    order = np.random.default_rng(0).permutation(len(sequences))
    pairs = [sequences[order[i]] + sequences[order[i + 1]] for i in range(0, len(order) - 1, 2)]
    out = [s for s in sequences + pairs if min_residues <= len(s) <= max_residues]
    return list(dict.fromkeys(out))


def protein_pieces(residues: int = 510) -> list[str]:
    """The FLIP conservation proteins end to end, cut into pieces of exactly ``residues`` (memory check)."""
    joined = "".join(flip_proteins(min_residues=1, max_residues=10**6)[:1500])
    return [joined[i:i + residues] for i in range(0, len(joined) - residues + 1, residues)]


def write_corpus(shape: Shape, directory: str, max_residues: int | None, cdr3_rows: int | None = None) -> str:
    """The shape's corpus as a CSV both sides read (the CDR3 corpus is the bundled file itself)."""
    from seqssl.data.builtin import builtin_path
    if shape.corpus == "cdr3":
        if not cdr3_rows:
            return str(builtin_path("background_cdr3b"))
        import pandas as pd
        path = os.path.join(directory, f"cdr3_{cdr3_rows}.csv")
        pd.read_csv(builtin_path("background_cdr3b"), dtype=str, nrows=cdr3_rows).to_csv(path, index=False)
        return path
    path = os.path.join(directory, f"{shape.corpus}_{max_residues or 510}.csv")
    if not os.path.exists(path):
        import pandas as pd
        sequences = (protein_pieces() if shape.corpus == "protein512" else
                     flip_proteins(max_residues=min(510, max_residues or 510)))
        pd.DataFrame({PROTEIN_COLUMN: sequences}).to_csv(path, index=False)
    return path


def column_of(shape: Shape) -> str:
    return CDR3_COLUMN if shape.corpus == "cdr3" else PROTEIN_COLUMN


# -- measuring --------------------------------------------------------------------------------------------
def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


class TokenCounter:
    """Forward pre-hook on a ``transformers`` backbone: real tokens, padded tokens, Σ T and Σ T² per row."""

    def __init__(self):
        self.stats = None
        self.enabled = False

    def __call__(self, module, args, kwargs):
        if not self.enabled:
            return
        mask = kwargs.get("attention_mask")
        if mask is None:
            mask = args[1] if len(args) > 1 else torch.ones_like(kwargs.get("input_ids", args[0]))
        lengths = mask.detach().sum(1).double()
        row = torch.stack([lengths.sum(), torch.tensor(float(mask.numel()), device=mask.device, dtype=torch.float64),
                           (lengths ** 2).sum(), lengths.new_tensor(float(mask.shape[0]))])
        self.stats = row if self.stats is None else self.stats + row

    def result(self) -> dict:
        real, padded, squares, rows = (float(x) for x in (self.stats if self.stats is not None else torch.zeros(4)))
        return {"tokens": real, "padded_tokens": padded, "sum_sq_tokens": squares, "rows": rows}


def model_flops(n_params: int, n_layers: int, hidden: int, tokens: float, sum_sq: float, attention: int = 12) -> float:
    """``6·N·ΣT + attention·n_layers·d·ΣT²`` (see the module docstring)."""
    return 6.0 * n_params * tokens + attention * n_layers * hidden * sum_sq


def non_embedding_parameters(backbone: torch.nn.Module) -> int:
    return sum(p.numel() for name, p in backbone.named_parameters() if not name.startswith("embeddings."))


def matmul_peak(dtype: torch.dtype, device: torch.device, largest: int, budget_s: float = 0.4) -> float:
    """FLOP/s of the best square product, ``a @ b`` or ``linear(a, b)`` (bf16 on a CPU: either may be the fast
    one), 3 timings each after a warm-up, growing the size (×2 from 256) while a product takes under
    ``budget_s`` (a product slower than that is not timed at larger sizes)."""
    best, n = 0.0, 256
    products = [torch.matmul, torch.nn.functional.linear]
    while n <= largest and products:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        for product in list(products):
            times = []
            for _ in range(4):
                sync(device)
                start = time.perf_counter()
                product(a, b)
                sync(device)
                times.append(time.perf_counter() - start)
                if times[-1] > 4 * budget_s:
                    break
            seconds = min(times[1:] or times)
            best = max(best, 2 * n ** 3 / seconds)
            if seconds > budget_s:
                products.remove(product)
        n *= 2
    return best


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# -- the two sides (each in a child process) --------------------------------------------------------------
def seqssl_config(shape: Shape, batch: int, steps: int, options: dict):
    from seqssl.config import Config
    cfg = Config()
    cfg.model = dataclasses.replace(cfg.model, **shape.model, max_length=shape.max_length)
    if options.get("attention") or options.get("before"):
        cfg.model.attention = "eager" if options.get("before") else options["attention"]
    cfg.pretrain = dataclasses.replace(cfg.pretrain, objective="mlm", batch_size=batch, max_steps=steps,
                                       log_every=max(1, steps))
    if options.get("max_tokens"):
        cfg.pretrain.max_tokens = options["max_tokens"]
    if options.get("compile"):
        cfg.pretrain.compile = True
    return cfg


def as_before(encoder) -> None:
    """``--before``: seqssl as it was before issue 19 (eager attention is set in the config): ESM's five-kernel
    GELU back in place and AdamW's ``foreach`` kernel instead of the fused one."""
    from transformers.models.esm.modeling_esm import EsmIntermediate

    import seqssl.train.optim as optim
    from seqssl.models.kernels import FusedGeluEsmIntermediate
    for module in encoder.modules():
        if type(module) is FusedGeluEsmIntermediate:
            module.__class__ = EsmIntermediate
    optim.adamw_kernel = lambda params: {"foreach": True}


def run_seqssl(shape: Shape, path: str, steps: int, batch: int, device: torch.device, options: dict,
               counter: TokenCounter | None, warmup: int) -> dict:
    from seqssl.data.corpus import load_corpus
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.train.loop import run_pretraining
    cfg = seqssl_config(shape, batch, steps, options)
    start = time.perf_counter()
    tokenizer = SequenceTokenizer("protein")
    corpus = load_corpus(path, [column_of(shape)], tokenizer, cfg.model.max_length).deduplicated()
    loading = time.perf_counter() - start
    baseline = current_rss_mb()

    def train(n_steps: int, hook: TokenCounter | None) -> tuple[float, torch.nn.Module]:
        torch.manual_seed(0)
        encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size)
        if options.get("before"):
            as_before(encoder)
        pre = dataclasses.replace(cfg.pretrain, max_steps=n_steps, log_every=n_steps)
        objective = build_objective("mlm", encoder, pre, tokenizer.vocab_size)
        if hook is not None:
            encoder.backbone.register_forward_pre_hook(hook, with_kwargs=True)
            hook.enabled = True
        sync(device)
        began = time.perf_counter()
        run_pretraining(objective, corpus.encoded, pre, device=device, precision=shape.precision, seed=0,
                        progress=False)
        sync(device)
        return time.perf_counter() - began, encoder.backbone

    if warmup:
        train(warmup, None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds, backbone = train(steps, counter)
    return {"seconds": seconds, "loading": loading, "baseline_mb": baseline, "backbone": backbone}


def sampling_argument() -> dict:
    """Length grouping in the installed transformers' own terms."""
    from transformers import TrainingArguments
    parameters = inspect.signature(TrainingArguments).parameters
    if "train_sampling_strategy" in parameters:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def run_hf(shape: Shape, path: str, steps: int, batch: int, device: torch.device, options: dict,
           counter: TokenCounter | None, warmup: int) -> dict:
    import pandas as pd
    from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.lengths import length_limit
    from seqssl.models.encoder import transformers_config
    cfg = seqssl_config(shape, batch, steps, {"attention": options.get("attention")})
    start = time.perf_counter()
    tokenizer = SequenceTokenizer("protein").to_hf()
    sequences = pd.read_csv(path, dtype=str)[column_of(shape)].str.strip().str.upper().drop_duplicates().tolist()
    limit = length_limit(cfg.model)  # what load_corpus reads on seqssl's side
    encoded = tokenizer(sequences, truncation=True, max_length=limit, return_token_type_ids=False,
                        return_attention_mask=False)["input_ids"]
    dataset = [{"input_ids": ids} for ids in encoded]
    loading = time.perf_counter() - start
    baseline = current_rss_mb()
    opt = cfg.pretrain

    def train(n_steps: int, hook: TokenCounter | None) -> tuple[float, torch.nn.Module]:
        torch.manual_seed(0)
        config = transformers_config(cfg.model, tokenizer.vocab_size)  # the encoder seqssl builds, to the letter
        model = AutoModelForMaskedLM.from_config(config, attn_implementation=cfg.model.attention)
        if hook is not None:
            model.base_model.register_forward_pre_hook(hook, with_kwargs=True)
            hook.enabled = True
        with tempfile.TemporaryDirectory() as out:
            args = TrainingArguments(
                output_dir=out, per_device_train_batch_size=batch, max_steps=n_steps, learning_rate=opt.lr,
                weight_decay=opt.weight_decay, warmup_steps=int(opt.warmup_ratio * n_steps),
                lr_scheduler_type=opt.scheduler, max_grad_norm=opt.grad_clip, bf16=shape.precision == "bf16",
                use_cpu=device.type == "cpu", save_strategy="no", report_to=[], logging_steps=n_steps,
                disable_tqdm=True, dataloader_num_workers=0, seed=0, torch_compile=bool(options.get("compile")),
                **sampling_argument())
            collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=opt.mlm_rate)
            trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
            sync(device)
            began = time.perf_counter()
            trainer.train()
            sync(device)
            return time.perf_counter() - began, model.base_model

    if warmup:
        train(warmup, None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    seconds, backbone = train(steps, counter)
    return {"seconds": seconds, "loading": loading, "baseline_mb": baseline, "backbone": backbone}


def import_both_sides() -> None:
    """Import what either side uses before the memory baseline, so that neither side's rise counts modules."""
    import pandas  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, Trainer  # noqa: F401
    from transformers import logging as hf_logging

    import seqssl.data.corpus  # noqa: F401
    import seqssl.objectives  # noqa: F401
    import seqssl.train.loop  # noqa: F401
    hf_logging.set_verbosity_error()


def measure(spec: dict) -> dict:
    """One side, one shape, one repeat."""
    warnings.filterwarnings("ignore")
    torch.set_num_threads(spec["threads"])
    import_both_sides()
    shape = Shape(**spec["shape"])
    device = torch.device(spec["device"])
    counter = TokenCounter()
    run = run_seqssl if spec["side"] == "seqssl" else run_hf
    out = run(shape, spec["path"], spec["steps"], spec["batch"], device, spec.get("options", {}), counter,
              spec["warmup"])
    backbone = out.pop("backbone")
    config = backbone.config
    counts = counter.result()
    result = {**out, **counts, "n_params": non_embedding_parameters(backbone), "n_layers": config.num_hidden_layers,
              "hidden": config.hidden_size, "attention": getattr(config, "_attn_implementation", None),
              "peak_mb": peak_rss_mb(),
              "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None}
    return result


def spawn(spec: dict, in_process: bool = False) -> dict:
    """:func:`measure` in a child process (its own peak memory), or in this one (``in_process``: no memory)."""
    if in_process:
        return {**measure(spec), "peak_mb": None}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{spec['side']} shape {spec['shape']['name']} failed:\n{proc.stdout[-3000:]}\n"
                       f"{proc.stderr[-3000:]}")


# -- profile ---------------------------------------------------------------------------------------------
def profile(shape: Shape, path: str, device: torch.device, options: dict, rows: int) -> None:
    """torch.profiler over one seqssl step (after two unprofiled ones), operators by self time."""
    from torch.profiler import ProfilerActivity, schedule
    from torch.profiler import profile as torch_profile

    from seqssl.data.corpus import load_corpus
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.train.loop import run_pretraining
    cfg = seqssl_config(shape, shape.batch, 3, options)
    tokenizer = SequenceTokenizer("protein")
    corpus = load_corpus(path, [column_of(shape)], tokenizer, cfg.model.max_length).deduplicated()
    torch.manual_seed(0)
    pre = dataclasses.replace(cfg.pretrain, max_steps=3, log_every=1)
    encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size)
    if options.get("before"):
        as_before(encoder)
    objective = build_objective("mlm", encoder, pre, tokenizer.vocab_size)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities, schedule=schedule(wait=1, warmup=1, active=1)) as prof:
        run_pretraining(objective, corpus.encoded, pre, device=device, precision=shape.precision, seed=0,
                        progress=False, on_log=lambda record: prof.step())
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"profile of one seqssl step, shape {shape.name} ({shape.title}), {shape.precision}, batch {shape.batch}, "
          f"attention {cfg.model.attention}" + (f", max_tokens {cfg.pretrain.max_tokens}" if options.get("max_tokens")
                                                 else "") + (" (before: as_before)" if options.get("before") else ""))
    print(prof.key_averages().table(sort_by=sort, row_limit=rows))


# -- the parent ------------------------------------------------------------------------------------------
def summarise(name: str, runs: list[dict], peak: float) -> dict:
    best = min(runs, key=lambda r: r["seconds"] / max(r["tokens"], 1))
    tokens_per_s = best["tokens"] / best["seconds"]
    flops = model_flops(best["n_params"], best["n_layers"], best["hidden"], best["tokens"], best["sum_sq_tokens"])
    kaplan = model_flops(best["n_params"], best["n_layers"], best["hidden"], best["tokens"], best["sum_sq_tokens"], 6)
    return {"name": name, "tokens_per_s": tokens_per_s, "seconds": best["seconds"], "loading": best["loading"],
            "mfu": flops / best["seconds"] / peak, "mfu_kaplan": kaplan / best["seconds"] / peak,
            "padding": 1 - best["tokens"] / best["padded_tokens"],
            "peak_mb": None if best["peak_mb"] is None else max(r["peak_mb"] for r in runs),
            "rise_mb": None if best["peak_mb"] is None else max(r["peak_mb"] - r["baseline_mb"] for r in runs),
            "cuda_peak_mb": max((r["cuda_peak_mb"] or 0) for r in runs) or None, "attention": best["attention"],
            "rows_per_step": best["rows"] / max(1, best.get("steps", 1)), "n_params": best["n_params"],
            "mean_tokens": best["tokens"] / best["rows"],
            "runs": ", ".join(f"{r['tokens'] / r['seconds']:.0f}" for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--shapes", default="a,b,c,m",
                        help="comma-separated among a, b, c and m (shape b's encoder at 64 × 512 tokens, one step: "
                             "peak memory)")
    parser.add_argument("--steps-a", type=int, default=150)
    parser.add_argument("--batch-a", type=int, default=256)
    parser.add_argument("--steps-b", type=int, default=20, help="steps of shapes b and c")
    parser.add_argument("--batch-b", type=int, default=16, help="sequences per batch of shapes b and c")
    parser.add_argument("--bf16-emulated-steps", type=int, default=3)
    parser.add_argument("--bf16-emulated-batch", type=int, default=8)
    parser.add_argument("--max-residues", type=int, default=None, help="shapes b, c: keep proteins up to this long")
    parser.add_argument("--cdr3-rows", type=int, default=None, help="shape a: the first N rows of the corpus only")
    parser.add_argument("--warmup", type=int, default=2, help="throw-away steps before each timed run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="also run seqssl with token-bounded batches (pretrain.max_tokens) on shape b")
    parser.add_argument("--compile", action="store_true", help="also run both sides with torch.compile")
    parser.add_argument("--attention", default=None, help="eager | sdpa for both sides (default: seqssl's default)")
    parser.add_argument("--before", action="store_true",
                        help="also run seqssl as before issue 19: eager attention, ESM's five-kernel GELU, foreach "
                             "AdamW (with --profile: profile that instead)")
    parser.add_argument("--profile", default=None, metavar="SHAPE", help="print a profile of one seqssl step")
    parser.add_argument("--profile-rows", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny steps, batches and proteins, in-process")
    parser.add_argument("--in-process", action="store_true", help="no child processes (no per-side peak memory)")
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(measure(json.loads(args.child))), flush=True)
        return
    if args.quick:
        args.shapes = "a,b,c" if args.shapes == parser.get_default("shapes") else args.shapes
        args.steps_a, args.batch_a, args.steps_b, args.batch_b = 4, 64, 2, 2
        args.max_residues, args.warmup, args.repeats = args.max_residues or 120, 0, 1
        args.cdr3_rows, args.in_process = args.cdr3_rows or 5000, True
        args.bf16_emulated_steps, args.bf16_emulated_batch = 1, 1
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    options = {"attention": args.attention}
    table = shapes(args)
    with tempfile.TemporaryDirectory() as scratch:
        if args.profile:
            shape = table[args.profile]
            profile(shape, write_corpus(shape, scratch, args.max_residues), device,
                    {**options, "max_tokens": args.max_tokens, "before": args.before}, args.profile_rows)
            return
        largest = 1024 if args.quick else (8192 if device.type == "cuda" else 4096)
        peaks = {p: matmul_peak(dtype, device, largest) for p, dtype in (("fp32", torch.float32),
                                                                           ("bf16", torch.bfloat16))}
        print(f"device {device} ({torch.get_num_threads()} threads), torch {torch.__version__}; matmul peak: "
              f"fp32 {peaks['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.1f} GFLOP/s")
        print(f"Trainer sampling: {sampling_argument()}")
        results: dict[str, dict] = {}
        for key in args.shapes.split(","):
            shape = table[key.strip()]
            steps, batch = shape.steps, shape.batch
            note = ""
            if shape.precision == "bf16" and device.type == "cpu" and peaks["bf16"] < peaks["fp32"] / 4:
                steps, batch = args.bf16_emulated_steps, args.bf16_emulated_batch
                note = (f" [bf16 matmuls are emulated on this CPU ({peaks['bf16'] / 1e9:.1f} vs "
                        f"{peaks['fp32'] / 1e9:.1f} GFLOP/s fp32): shrunk to {steps} steps of {batch}]")
            path = write_corpus(shape, scratch, args.max_residues, args.cdr3_rows)
            warmup = 0 if shape.name == "m" else args.warmup  # (compile arms: none, so compiling is timed)
            arms = [("seqssl", "seqssl", options), ("hf_trainer", "hf", options)]
            if args.max_tokens and shape.name == "b":
                arms.insert(1, (f"seqssl max_tokens={args.max_tokens}", "seqssl",
                                {**options, "max_tokens": args.max_tokens}))
            if args.before and shape.name != "m":  # (m: eager attention's 64 × 20 × 512² matrices per layer)
                arms.insert(1, ("seqssl before #19", "seqssl", {**options, "before": True}))
            if args.compile:
                arms += [("seqssl compile", "seqssl", {**options, "compile": True}),
                         ("hf_trainer compile", "hf", {**options, "compile": True})]
            runs: dict[str, list[dict]] = {name: [] for name, _, _ in arms}
            for _ in range(1 if shape.name == "m" else args.repeats):  # m: one step, for its peak memory
                for name, side, arm_options in arms:
                    rows = 4096 if arm_options.get("max_tokens") else batch  # tokens, not rows, bound those
                    spec = {"side": side, "shape": dataclasses.asdict(shape), "path": path, "steps": steps,
                            "batch": rows, "device": args.device, "threads": args.threads,
                            "warmup": 0 if arm_options.get("compile") else warmup,
                            "options": arm_options}
                    result = spawn(spec, args.in_process)
                    result["steps"] = steps
                    runs[name].append(result)
            peak = peaks[shape.precision]
            summary = {name: summarise(name, r, peak) for name, r in runs.items()}
            first = summary["seqssl"]
            print(f"\nshape {shape.name}: {shape.title}; {first['n_params'] / 1e6:.2f}M non-embedding parameters, "
                  f"{shape.precision}, batch {batch}, {steps} steps (+{warmup} warm-up), best of "
                  f"{len(runs['seqssl'])}, "
                  f"mean {first['mean_tokens']:.0f} tokens/sequence{note}")
            memory = "CUDA peak MB" if device.type == "cuda" else "peak RSS MB (rise)"
            print(f"  {'side':28s} {'tokens/s':>10s} {'train s':>8s} {'load s':>7s} {'padding':>8s} {'MFU':>6s} "
                  f"{'(Kaplan)':>8s} {memory:>20s}  attention  runs (tokens/s)")
            for name, s in summary.items():
                mem = (f"{s['cuda_peak_mb']:.0f}" if s["cuda_peak_mb"] else "n/a (in-process)" if s["peak_mb"] is None
                       else f"{s['peak_mb']:.0f} ({s['rise_mb']:+.0f})")
                print(f"  {name:28s} {s['tokens_per_s']:10.0f} {s['seconds']:8.1f} {s['loading']:7.1f} "
                      f"{s['padding']:8.1%} {s['mfu']:6.1%} {s['mfu_kaplan']:8.1%} {mem:>20s}  {s['attention']:9s}  "
                      f"{s['runs']}")
            if args.before:
                print("  (seqssl before #19: eager attention, ESM's five-kernel GELU, AdamW's foreach kernel)")
            ratio = first["tokens_per_s"] / summary["hf_trainer"]["tokens_per_s"]
            hf = summary["hf_trainer"]
            def rate_with_loading(side: dict) -> float:
                return side["tokens_per_s"] * side["seconds"] / (side["seconds"] + side["loading"])
            with_loading = rate_with_loading(first) / rate_with_loading(hf)
            print(f"  ratio seqssl / grouped Trainer: {ratio:.2f} (data loading included: {with_loading:.2f})")
            results[shape.name] = {"ratio": ratio, "mfu": first["mfu"], "summary": summary,
                                   "mfu_vs_bf16": first["mfu"] * peak / peaks["bf16"]}
    print(f"matmul_peak_tflops_fp32: {peaks['fp32'] / 1e12:.2f}")
    print(f"matmul_peak_tflops_bf16: {peaks['bf16'] / 1e12:.2f}")
    for name, r in results.items():
        for side, s in (("seqssl", r["summary"]["seqssl"]), ("trainer", r["summary"]["hf_trainer"])):
            print(f"shape_{name}_{side}_tokens_per_s: {s['tokens_per_s']:.0f}")
            if s["cuda_peak_mb"]:
                print(f"shape_{name}_{side}_cuda_peak_mb: {s['cuda_peak_mb']:.0f}")
        print(f"shape_{name}_mfu_vs_bf16_peak: {r['mfu_vs_bf16']:.3f}")
        if name != "b":
            print(f"shape_{name}_ratio_vs_grouped_trainer: {r['ratio']:.2f}")
            print(f"shape_{name}_mfu: {r['mfu']:.3f}")
    if "b" in results:
        print(f"shape_b_ratio_vs_grouped_trainer: {results['b']['ratio']:.2f}")
        print(f"shape_b_mfu: {results['b']['mfu']:.3f}")


if __name__ == "__main__":
    main()
