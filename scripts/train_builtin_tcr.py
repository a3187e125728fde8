"""Train the bundled TCR encoder (``model:builtin-tcr``) from bundled data, choosing the learning rate on a
held-out part of the corpus, and write it with its provenance into ``src/seqssl/models/builtin/tcr/``.

    python scripts/train_builtin_tcr.py [--lrs 0.003,0.001,0.0003] [--sweep-steps 300] [--steps N] [--out DIR]

1. The corpus: :func:`seqssl.models.bundled.training_corpus` (the bundled background CDR3β and their V genes,
   minus every CDR3β of the bundled labelled sets), CDR1β/CDR2β looked up from the V genes (rows whose V gene
   is not in the IMGT table are skipped and counted). Its SHA-256 is recorded.
2. A seeded 5% of it is held out. For each candidate learning rate, ``configs/tcr_builtin.yaml`` is trained on
   the rest for ``--sweep-steps`` (a short run: its schedule compressed to that length) and its combined loss
   (MLM + SimCLR, eval mode, fixed draws) is measured on the held-out part.
3. The learning rate with the lowest held-out loss is trained for the config's full ``max_steps`` and saved,
   with ``provenance.json``: the command, the config, the corpus hash and size, every candidate's held-out
   losses, the final run's held-out loss, its training time and the machine.
No labelled sequence takes part in any choice.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tcr_builtin.yaml"
COLUMNS = ["v_b_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa"]
HELD_OUT = 0.05


def corpus_with_cdrs() -> tuple[pd.DataFrame, dict]:
    from seqssl.data.v_genes import add_cdr_columns
    from seqssl.models.bundled import corpus_sha256, labelled_cdr3s, training_corpus
    frame = training_corpus()
    table, _, skipped = add_cdr_columns(frame, ["v_b_gene"], organism="human", unknown="skip")
    corpus = table.frame[COLUMNS].reset_index(drop=True)
    return corpus, {"corpus_sha256": corpus_sha256(frame), "corpus_rows": len(frame),
                    "rows_skipped_unknown_v_gene": int(skipped), "labelled_cdr3s_removed": len(labelled_cdr3s()),
                    "columns": COLUMNS}


def held_out_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * HELD_OUT))
    return np.sort(order[cut:]), np.sort(order[:cut])


def encoded(frame: pd.DataFrame, tokenizer, max_length: int):
    from seqssl.data.dataset import encode_table
    from seqssl.data.formats.table import table_from_frame
    return encode_table(table_from_frame(frame.reset_index(drop=True)), COLUMNS, tokenizer, max_length)


@torch.no_grad()
def held_out_loss(objective, data, batch_size: int, seed: int = 0) -> dict:
    """Mean of the objective's logged values over the held-out data's full batches, in order, with fixed draws."""
    objective.eval()
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    batches = 0
    for start in range(0, len(data) - batch_size + 1, batch_size):
        out = objective(data.padded(range(start, start + batch_size)), gen)
        for key, value in out.items():
            if torch.is_tensor(value) and value.numel() == 1:
                sums[key] = sums.get(key, 0.0) + float(value)
        batches += 1
    return {k: v / batches for k, v in sums.items()}


def train_candidate(lr: float, steps: int | None, train, held_out, tokenizer):
    from seqssl.config import load_config
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.runtime import seed_everything
    from seqssl.train.loop import run_pretraining
    overrides: dict = {"pretrain": {"lr": lr}}
    if steps is not None:
        overrides["pretrain"]["max_steps"] = steps
    cfg = load_config(str(CONFIG), overrides)
    seed_everything(cfg.seed)
    encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size, len(COLUMNS))
    objective = build_objective(cfg.pretrain.objective, encoder, cfg.pretrain, tokenizer.vocab_size)
    start = time.time()
    history = run_pretraining(objective, train, cfg.pretrain, device=torch.device("cpu"), seed=cfg.seed,
                              desc=f"lr {lr:g}")
    seconds = time.time() - start
    losses = held_out_loss(objective, held_out, cfg.pretrain.batch_size)
    return cfg, encoder, history, seconds, losses


def report(what: str, losses: dict, seconds: float) -> None:
    print(f"{what}: held-out loss {losses['loss']:.4f} (mlm {losses.get('mlm_loss', float('nan')):.4f}, "
          f"simclr {losses.get('simclr_loss', float('nan')):.4f}), {seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrs", default="0.003,0.001,0.0003")
    parser.add_argument("--sweep-steps", type=int, default=300, help="steps of each candidate's short run")
    parser.add_argument("--steps", type=int, default=None, help="override pretrain.max_steps (smoke runs)")
    parser.add_argument("--out", default=str(ROOT / "src" / "seqssl" / "models" / "builtin" / "tcr"))
    args = parser.parse_args()
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.runtime import configure_process
    configure_process(None, False)
    corpus, record = corpus_with_cdrs()
    tokenizer = SequenceTokenizer("protein")
    train_idx, held_idx = held_out_split(len(corpus))
    train, held_out = encoded(corpus.iloc[train_idx], tokenizer, 64), encoded(corpus.iloc[held_idx], tokenizer, 64)
    candidates = []
    for lr in (float(x) for x in args.lrs.split(",")):
        _, _, _, seconds, losses = train_candidate(lr, args.sweep_steps, train, held_out, tokenizer)
        report(f"candidate lr {lr:g}, {args.sweep_steps} steps", losses, seconds)
        candidates.append({"lr": lr, "held_out": losses, "seconds": seconds})
    chosen = min(candidates, key=lambda c: c["held_out"]["loss"])["lr"]
    cfg, encoder, history, seconds, losses = train_candidate(chosen, args.steps, train, held_out, tokenizer)
    report(f"final lr {chosen:g}", losses, seconds)
    best = {"lr": chosen, "cfg": cfg, "encoder": encoder, "history": history, "seconds": seconds, "held_out": losses}
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    record |= {"command": " ".join(["python", "scripts/train_builtin_tcr.py", *sys.argv[1:]]),
               "config": best["cfg"].to_dict(), "chosen_lr": best["lr"], "held_out_fraction": HELD_OUT,
               "held_out_rows": len(held_idx), "training_rows": len(train_idx),
               "sweep_steps": args.sweep_steps,
               "candidates": [{"lr": c["lr"], "held_out": c["held_out"], "seconds": round(c["seconds"], 1)}
                              for c in candidates], "final_held_out": best["held_out"],
               "seconds": round(best["seconds"], 1), "machine": f"{platform.machine()}, "
               f"{torch.get_num_threads()} threads, torch {torch.__version__}"}
    history = best["history"]
    best["encoder"].save(out, tokenizer, meta={"objective": best["cfg"].pretrain.objective, "bundled": "builtin-tcr",
                                               "corpus_size": len(train_idx), "steps": history[-1]["step"],
                                               "final_loss": history[-1]["loss"], "seconds": best["seconds"],
                                               "columns": COLUMNS})
    pd.DataFrame(history).to_csv(out / "pretrain_history.csv", index=False)
    (out / "provenance.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"saved {out} ({size / 1e6:.1f} MB); chosen lr {best['lr']:g}")


if __name__ == "__main__":
    main()
