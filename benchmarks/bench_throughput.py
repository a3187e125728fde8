"""End-to-end MLM pretraining throughput: seqssl against the same-size ``BertForMaskedLM`` trained by the
Hugging Face ``Trainer`` with ``DataCollatorForLanguageModeling``, in one process, on the bundled 100k
CDR3β corpus.

Both sides: the same file read and tokenised inside the timed region (data loading included), exact
duplicates dropped, the same encoder configuration (seqssl's default: BERT, hidden 64, 2 layers, 4
heads, dropout 0), batch size, number of optimiser steps, masking rate (15%, 80/10/10), AdamW learning
rate, weight decay, warm-up and cosine schedule, gradient clipping 1.0, and precision (fp32, then bf16
autocast). Nothing is tuned for one side only. The difference is the pipeline: seqssl batches sequences
of similar length (almost no padding) and pads with NumPy, draws masks as tensors and runs a plain loop;
the Trainer pads random batches to their longest sequence through the tokenizer and runs its general
loop. After a short warm-up of both sides (imports, one-time library set-up), arms alternate (seqssl, HF,
seqssl, HF, ...) and each figure is the best of ``--repeats``.

    python benchmarks/bench_throughput.py [--steps 150] [--batch 256] [--repeats 3]

Tokens/s counts real (non-padding) tokens of the sequences trained on. Last line:
``throughput_ratio_vs_hf_trainer: <value>`` (fp32; target ≥ 1.5).
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import pandas as pd
import torch

CORPUS_COLUMN = "cdr3_b_aa"


def seqssl_run(path: str, steps: int, batch: int, precision: str) -> float:
    from seqssl.config import Config
    from seqssl.data.corpus import load_corpus
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.train.loop import run_pretraining
    start = time.perf_counter()
    cfg = Config()
    cfg.pretrain.objective, cfg.pretrain.batch_size, cfg.pretrain.max_steps = "mlm", batch, steps
    cfg.pretrain.log_every = steps
    tokenizer = SequenceTokenizer("protein")
    corpus = load_corpus(path, [CORPUS_COLUMN], tokenizer, cfg.model.max_length).deduplicated()
    torch.manual_seed(0)
    objective = build_objective("mlm", SequenceEncoder.build(cfg.model, tokenizer.vocab_size), cfg.pretrain,
                                tokenizer.vocab_size)
    loaded = time.perf_counter()
    run_pretraining(objective, corpus.encoded, cfg.pretrain, device=torch.device("cpu"), precision=precision,
                    seed=0, progress=False)
    return time.perf_counter() - start, loaded - start


def hf_run(path: str, steps: int, batch: int, precision: str) -> float:
    from transformers import BertForMaskedLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments
    from transformers import logging as hf_logging

    from seqssl.config import Config
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    hf_logging.set_verbosity_error()
    start = time.perf_counter()
    cfg = Config()
    tokenizer = SequenceTokenizer("protein").to_hf()
    sequences = pd.read_csv(path, dtype=str)[CORPUS_COLUMN].str.strip().str.upper().drop_duplicates().tolist()
    encoded = tokenizer(sequences, truncation=True, max_length=cfg.model.max_length, return_token_type_ids=False,
                        return_attention_mask=False)["input_ids"]
    dataset = [{"input_ids": ids} for ids in encoded]
    torch.manual_seed(0)
    config = SequenceEncoder.build(cfg.model, tokenizer.vocab_size).backbone.config  # the same encoder config
    model = BertForMaskedLM(config)
    opt = cfg.pretrain
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch, max_steps=steps,
                                 learning_rate=opt.lr, weight_decay=opt.weight_decay, warmup_steps=int(opt.warmup_ratio * steps),
                                 lr_scheduler_type=opt.scheduler, max_grad_norm=opt.grad_clip,
                                 bf16=precision == "bf16", use_cpu=True, save_strategy="no", report_to=[],
                                 logging_steps=steps, disable_tqdm=True, dataloader_num_workers=0, seed=0)
        collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=opt.mlm_rate)
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
        loaded = time.perf_counter()
        trainer.train()
    return time.perf_counter() - start, loaded - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    from seqssl.data.builtin import builtin_path
    path = str(builtin_path("background_cdr3b"))
    lengths = pd.read_csv(path, dtype=str)[CORPUS_COLUMN].str.strip().drop_duplicates().str.len() + 2
    tokens = args.steps * args.batch * float(lengths.mean())  # real tokens trained on, [CLS]/[SEP] included
    print(f"MLM, {args.steps} steps of {args.batch} sequences (mean {lengths.mean():.1f} tokens), "
          f"{torch.get_num_threads()} threads, best of {args.repeats}")
    for precision in ("fp32", "bf16"):  # warm-up: imports and one-time library set-up, for both sides alike
        seqssl_run(path, 5, args.batch, precision)
        hf_run(path, 5, args.batch, precision)
    ratios = {}
    for precision in ("fp32", "bf16"):
        times = {"seqssl": [], "hf_trainer": []}
        for _ in range(args.repeats):
            times["seqssl"].append(seqssl_run(path, args.steps, args.batch, precision))
            times["hf_trainer"].append(hf_run(path, args.steps, args.batch, precision))
        best = {k: min(v) for k, v in times.items()}  # (total, loading) of the fastest run
        ratios[precision] = best["hf_trainer"][0] / best["seqssl"][0]
        for name, (seconds, loading) in best.items():
            print(f"{precision:5s} {name:11s} {seconds:7.1f} s  {tokens / seconds:9.0f} tokens/s  "
                  f"(loading {loading:.1f} s, training {seconds - loading:.1f} s; "
                  f"runs: {', '.join(f'{t:.1f}' for t, _ in times[name])})")
        print(f"{precision:5s} ratio seqssl / HF Trainer: {ratios[precision]:.2f}")
    print("bf16 vs fp32 speed-up: see the two tables above (same steps, same data)")
    print(f"throughput_ratio_vs_hf_trainer: {ratios['fp32']:.2f}")


if __name__ == "__main__":
    main()
