"""Train the bundled paired-chain TCR encoder (``model:builtin-tcr-ab``) and write it with its provenance into
``src/seqssl/models/builtin/tcr_ab/``. Needs ``pip install 'seqssl[synthetic]'`` (OLGA, GPL-3.0) for the corpus.

    python scripts/train_builtin_tcr_ab.py [--n 100000] [--lrs 0.003,0.001] [--sweep-steps 200] [--steps N]
                                           [--work runs/tcr_ab] [--resume]

1. The corpus: :func:`seqssl.models.bundled.paired_training_corpus`: ``--n`` human and ``--n`` mouse α/β rows
   sampled from OLGA's recombination models (CDR1/CDR2 from the V genes), and the bundled real background β chains
   as β-only rows; every row holding a CDR3 of the bundled labelled sets (MIRA, Dash et al.) removed. Written
   once to ``--work`` (Parquet) with its SHA-256, and read back from there by later runs.
2. A seeded 5% of each part is held out. Each candidate learning rate trains ``configs/tcr_ab_builtin.yaml`` for
   ``--sweep-steps`` (its schedule compressed to that length) and is scored by its combined loss (MLM + SimCLR,
   eval mode, fixed draws) on the held-out rows.
3. The best learning rate trains for the config's ``max_steps``, checkpointing into ``--work/final`` (a killed or
   interrupted run continues with ``--resume``, across sessions), and is saved with ``provenance.json`` (command,
   config, corpus hashes and counts, the candidates' held-out losses, the final held-out loss, wall time,
   machine) and ``pretrain_history.csv`` (the training curve).
No labelled sequence takes part in any choice.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_builtin_tcr import held_out_loss, report  # noqa: E402  (the same held-out measure as builtin-tcr)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tcr_ab_builtin.yaml"
HELD_OUT = 0.05


def corpus(work: Path, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The two corpus parts, drawn once and kept in ``work`` (OLGA's draws take minutes)."""
    from seqssl.io import atomic_write_text
    from seqssl.models.bundled import paired_training_corpus
    paths = work / f"corpus_paired_n{n}_s{seed}.parquet", work / f"corpus_beta_n{n}_s{seed}.parquet"
    record_path = work / f"corpus_n{n}_s{seed}.json"
    if not record_path.exists():
        paired, beta, record = paired_training_corpus(n, seed)
        for frame, path in zip((paired, beta), paths):
            frame.to_parquet(path, index=False)
        atomic_write_text(record_path, json.dumps(record, indent=1))
    record = json.loads(record_path.read_text())
    paired, beta = pd.read_parquet(paths[0]), pd.read_parquet(paths[1])
    record["sha256"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    record["corpus_csv_sha256"] = csv_hashes(paired, beta)
    return paired, beta, record


def csv_hashes(paired: pd.DataFrame, beta: pd.DataFrame) -> dict:
    """SHA-256 of each part as CSV text (``seqssl.models.bundled.corpus_sha256``: independent of the Parquet
    writer's version, so a rebuilt corpus can be checked anywhere)."""
    from seqssl.models.bundled import corpus_sha256
    return {"paired": corpus_sha256(paired), "beta_only": corpus_sha256(beta)}


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * HELD_OUT))
    return np.sort(order[cut:]), np.sort(order[:cut])


def encoded(paired: pd.DataFrame, beta: pd.DataFrame, tokenizer, max_length: int):
    """Paired rows as six columns, β-only rows as three (the encoder's layouts place them)."""
    from seqssl.data.dataset import EncodedDataset, encode_table
    from seqssl.data.formats.table import table_from_frame
    from seqssl.models.bundled import BETA_COLUMNS, PAIRED_COLUMNS
    parts = [encode_table(table_from_frame(frame.reset_index(drop=True)), columns, tokenizer, max_length)
             for frame, columns in ((paired, PAIRED_COLUMNS), (beta, BETA_COLUMNS))]
    return EncodedDataset.concat(parts)


def train_candidate(lr: float, steps: int | None, train, held_out, tokenizer, checkpoint_dir=None, resume=False):
    from seqssl.config import load_config
    from seqssl.models.bundled import PAIRED_LAYOUTS
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.runtime import seed_everything
    from seqssl.train.loop import run_pretraining
    overrides: dict = {"pretrain": {"lr": lr}}
    if steps is not None:
        overrides["pretrain"]["max_steps"] = steps
    cfg = load_config(str(CONFIG), overrides)
    seed_everything(cfg.seed)
    encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size, cfg.model.segments)
    encoder.set_layouts(PAIRED_LAYOUTS)
    objective = build_objective(cfg.pretrain.objective, encoder, cfg.pretrain, tokenizer.vocab_size)
    start = time.time()
    history = run_pretraining(objective, train, cfg.pretrain, device=torch.device("cpu"), seed=cfg.seed,
                              desc=f"lr {lr:g}", checkpoint_dir=checkpoint_dir, resume=resume)
    seconds = time.time() - start
    losses = held_out_loss(objective, held_out, cfg.pretrain.batch_size)
    return cfg, encoder, history, seconds, losses


def sweep(args, train, held_out, tokenizer, work: Path) -> list[dict]:
    """Each candidate's short run, remembered in ``work`` so that a resumed run does not repeat it."""
    path = work / f"sweep_n{args.n}_s{args.seed}_{args.lrs}_{args.sweep_steps}.json"
    if path.exists():
        return json.loads(path.read_text())
    candidates = []
    for lr in (float(x) for x in args.lrs.split(",")):
        _, _, _, seconds, losses = train_candidate(lr, args.sweep_steps, train, held_out, tokenizer)
        report(f"candidate lr {lr:g}, {args.sweep_steps} steps", losses, seconds)
        candidates.append({"lr": lr, "held_out": losses, "seconds": round(seconds, 1)})
    path.write_text(json.dumps(candidates, indent=1))
    return candidates


def save(out: Path, tokenizer, cfg, encoder, history, record: dict) -> None:
    from seqssl.models.bundled import PAIRED_COLUMNS
    if out.exists():
        shutil.rmtree(out)
    inputs = {"columns": PAIRED_COLUMNS, "v_gene_columns": ["v_a_gene", "v_b_gene"]}
    encoder.save(out, tokenizer, meta={"objective": cfg.pretrain.objective, "bundled": "builtin-tcr-ab",
                                       "corpus_size": record["training_rows"], "steps": history[-1]["step"],
                                       "final_loss": history[-1]["loss"], "seconds": record["seconds"],
                                       "columns": PAIRED_COLUMNS, "inputs": inputs})
    pd.DataFrame(history).to_csv(out / "pretrain_history.csv", index=False)
    (out / "provenance.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    with open(out / "README.md", "a") as card:
        card.write(training_card(json.loads((out / "provenance.json").read_text())))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"saved {out} ({size / 1e6:.1f} MB)")


def rewrite_card(out: Path, work: Path | None = None) -> None:
    """The card of a saved encoder written again (the generic part from ``seqssl.json`` and the weights, then
    :func:`training_card`)."""
    from transformers import AutoConfig

    from seqssl.models.card import model_card
    info = json.loads((out / "seqssl.json").read_text())
    config = AutoConfig.from_pretrained(str(out))
    from safetensors import safe_open
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        n_parameters = sum(int(np.prod(weights.get_slice(k).get_shape())) for k in weights.keys())
    card = model_card(out.name, info, config.model_type, n_parameters, config.hidden_size,
                      config.max_position_embeddings - 2)
    record = json.loads((out / "provenance.json").read_text())
    if "corpus_csv_sha256" not in record and work is not None:  # a run made before the CSV hashes were recorded
        n = int(record["human"]["drawn"])
        paired, beta = (pd.read_parquet(work / f"corpus_{part}_n{n}_s0.parquet") for part in ("paired", "beta"))
        record["corpus_csv_sha256"] = csv_hashes(paired, beta)
        (out / "provenance.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    (out / "README.md").write_text(card + training_card(record))
    print(f"rewrote {out / 'README.md'}")


def training_card(record: dict) -> str:
    """The model card's account of the corpus, the choices and the run (appended to the generic card)."""
    pre = record["config"]["pretrain"]
    model = record["config"]["model"]
    candidates = ", ".join(f"{c['lr']:g}: {c['held_out']['loss']:.3f}" for c in record["candidates"])
    return "\n".join([
        "", "## How it was trained", "",
        f"- **Corpus**: {record['paired_rows']:,} paired α/β rows sampled from OLGA's human and mouse models "
        f"({record['human']['drawn']:,} draws each; α and β drawn independently; CDR1/CDR2 from the V genes) and "
        f"{record['beta_only_rows']:,} real background β chains (the bundled ImmuneCODE sample, MIT) as β-only rows; "
        f"{record['rows_with_labelled_cdr3_removed']:,} rows holding a CDR3 of the bundled labelled sets (MIRA, Dash "
        f"et al.) removed; {record['held_out_rows']:,} rows (5%) held out. SHA-256 of the corpus files: "
        + ", ".join(f"`{k}` {v[:12]}…" for k, v in record["sha256"].items()) + ".",
        f"- **Model**: BERT, {model['num_layers']} layers × {model['hidden_size']} ({model['num_heads']} heads, "
        f"{model['segments']} segments: CDR1α, CDR2α, CDR3α, CDR1β, CDR2β, CDR3β, peptide); β-only inputs go to the β "
        "segments (`segment_layouts`). The size of SCEPTR (Nagano et al. 2025), fixed before training.",
        f"- **Objective**: `{pre['objective']}` (MLM at rate {pre['mlm_rate']} plus SimCLR on two views with "
        f"{pre['mask_tokens']} residues masked, temperature {pre['temperature']}), batch {pre['batch_size']}, "
        f"{pre['max_steps']:,} steps, AdamW, cosine schedule.",
        f"- **Learning rate** {record['chosen_lr']:g}, chosen by the held-out combined loss after "
        f"{record['sweep_steps']} steps per candidate ({candidates}); no labelled data took part in any choice.",
        f"- **Result**: held-out loss {record['final_held_out']['loss']:.3f} (MLM "
        f"{record['final_held_out'].get('mlm_loss', float('nan')):.3f}, SimCLR "
        f"{record['final_held_out'].get('simclr_loss', float('nan')):.3f}); the curve is `pretrain_history.csv`; "
        f"{record['seconds'] / 60:.0f} min of the last leg on {record['machine']}.",
        "- **Licences**: the weights are seqssl's (MIT). OLGA (GPL-3.0) generated training sequences and is not part "
        "of them; the background β are MIT (tcrdist3's ImmuneCODE sample).",
        f"- Rebuilt by `{record['command']}` (`pip install 'seqssl[synthetic]'`).", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="rows drawn per species (human, mouse)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lrs", default="0.003,0.001")
    parser.add_argument("--sweep-steps", type=int, default=200, help="steps of each candidate's short run")
    parser.add_argument("--steps", type=int, default=None, help="override pretrain.max_steps")
    parser.add_argument("--work", default=str(ROOT / "runs" / "tcr_ab"), help="corpus, sweep and checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue the final run from its last checkpoint")
    parser.add_argument("--out", default=str(ROOT / "src" / "seqssl" / "models" / "builtin" / "tcr_ab"))
    parser.add_argument("--card-only", action="store_true", help="rewrite --out's model card from its seqssl.json "
                        "and provenance.json (no training)")
    args = parser.parse_args()
    if args.card_only:
        rewrite_card(Path(args.out), Path(args.work))
        return
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.runtime import configure_process
    configure_process(None, False)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    paired, beta, record = corpus(work, args.n, args.seed)
    tokenizer = SequenceTokenizer("protein")
    (p_train, p_held), (b_train, b_held) = split(len(paired)), split(len(beta))
    train = encoded(paired.iloc[p_train], beta.iloc[b_train], tokenizer, 96)
    held_out = encoded(paired.iloc[p_held], beta.iloc[b_held], tokenizer, 96)
    print(f"corpus: {len(paired)} paired + {len(beta)} β-only rows; training {len(train)}, held out {len(held_out)}",
          flush=True)
    candidates = sweep(args, train, held_out, tokenizer, work)
    chosen = min(candidates, key=lambda c: c["held_out"]["loss"])["lr"]
    final = work / f"final_n{args.n}_s{args.seed}_lr{chosen:g}"  # a resume continues this corpus's run only
    cfg, encoder, history, seconds, losses = train_candidate(chosen, args.steps, train, held_out, tokenizer,
                                                             final, args.resume)
    report(f"final lr {chosen:g}", losses, seconds)
    record |= {"command": " ".join(["python", "scripts/train_builtin_tcr_ab.py", *sys.argv[1:]]),
               "config": cfg.to_dict(), "chosen_lr": chosen, "held_out_fraction": HELD_OUT,
               "held_out_rows": len(held_out), "training_rows": len(train), "sweep_steps": args.sweep_steps,
               "candidates": candidates, "final_held_out": losses, "seconds": round(seconds, 1),
               "seconds_note": "wall time of the last (possibly resumed) leg of the final run",
               "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"}
    save(Path(args.out), tokenizer, cfg, encoder, history, record)


if __name__ == "__main__":
    main()
