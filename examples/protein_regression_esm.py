"""Protein fitness regression with a protein language model you have downloaded (e.g. ESM-2 8M:
config.json, model.safetensors and its tokenizer files in one directory): the model as it is, in probe, full and
LoRA mode, against the k-mer baseline on FLIP's GB1 low-vs-high split, scored by Spearman's ρ.

    python examples/protein_regression_esm.py --model ~/models/esm2_t6_8M_UR50D --out runs/example-gb1
    python examples/protein_regression_esm.py --model DIR --out runs/example-gb1 --quick
"""
import argparse

import seqssl
from seqssl.data.builtin import builtin_path


def main(model: str, out: str, quick: bool) -> None:
    cfg = seqssl.load_config(overrides={
        "data": {"path": str(builtin_path("flip_gb1_low_vs_high")), "columns": ["sequence"],
                 "label_column": "target", "task": "regression", "split_column": "set",
                 "validation_column": "validation", "too_long": "truncate"},
        "finetune": {"epochs": 1 if quick else 30, "max_steps": 2 if quick else None},
        "crossval": {"arms": ["kmer", f"model:{model}"], "modes": ["probe", "full", "lora"], "split": "column"},
        "out": out, "quiet": quick, "overwrite": True})
    results = seqssl.crossval(cfg)
    for arm, body in results["arms"].items():
        print(f"{arm:30s} Spearman {body['mean']['spearman']:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a local transformers (or seqssl) model directory")
    parser.add_argument("--out", default="runs/example-gb1")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(args.model, args.out, args.quick)
