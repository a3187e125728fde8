"""Blood–brain-barrier penetration from SMILES (MoleculeNet BBBP, bundled): a SMILES encoder pretrained on
MOSES and continued per fold on that fold's training molecules, against no pretraining, Morgan fingerprints and
a graph network, on scaffold folds. Needs `pip install 'seqssl[molecules]'`.

    python examples/molecules_bbbp.py --out runs/example-bbbp            # about 30 minutes on 2 CPU cores
    python examples/molecules_bbbp.py --out runs/example-bbbp --quick
"""
import argparse
from pathlib import Path

import pandas as pd

import seqssl
from seqssl.data.builtin import builtin_path


def main(out: str, quick: bool) -> None:
    moses = pd.read_csv(builtin_path("moses"))
    base = seqssl.pretrain(seqssl.load_config(overrides={
        "data": {"columns": ["SMILES"], "alphabet": "smiles"}, "model": {"max_length": 256},
        "pretrain": {"objective": "mlm", "max_steps": 5 if quick else 1500, "batch_size": 128},
        "out": f"{out}/moses-mlm", "quiet": quick, "overwrite": True}),
        data=moses.iloc[:2000] if quick else moses)
    cfg = seqssl.load_config(Path(__file__).parents[1] / "configs" / "molecules_bbbp_models.yaml", overrides={
        "data": {"path": str(builtin_path("bbbp"))},
        "crossval": {"arms": ["none", "ecfp", "gcn", f"model:{base}", "mlm"], "folds": 2 if quick else 5,
                     "modes": ["probe"] if quick else ["probe", "full", "lora"]},
        "pretrain": {"init": str(base), "max_steps": 3 if quick else 200},
        "finetune": {"epochs": 1 if quick else 40}, "out": f"{out}/crossval", "quiet": quick, "overwrite": True})
    results = seqssl.crossval(cfg)
    for arm, body in results["arms"].items():
        print(f"{arm:24s} AUROC {body['mean']['auroc']:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/example-bbbp")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(args.out, args.quick)
