"""Write the bundled MIRA pairs with a fixed train/test column, for a ``--split column`` run (issue 26's
closing table): a quarter of the CDR3β sequences (with every row they occur in) are ``test``, the rest
``train``; the split is drawn with ``--seed`` and grouped by CDR3β, so no test receptor is seen in training.

    python scripts/mira_fixed_split.py --out mira_split.csv [--test-share 0.25] [--seed 0]
    seqssl crossval --data mira_split.csv --columns cdr3_b_aa,peptide --v-gene-columns v_b_gene \\
        --label-column label --negative-type-column neg_type --split column --split-column set \\
        --arms none,kmer,knn,model:builtin-tcr --mode full,knn,per-value \\
        --primary-metric auroc_per_group --repeats 3 --jobs 0 --out runs/mira-fixed
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from seqssl.data.builtin import builtin_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--test-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame = pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False)
    receptors = frame["cdr3_b_aa"].unique()
    rng = np.random.default_rng(args.seed)
    test = set(rng.choice(receptors, int(round(args.test_share * len(receptors))), replace=False))
    frame["set"] = np.where(frame["cdr3_b_aa"].isin(test), "test", "train")
    frame.to_csv(args.out, index=False)
    print(f"{args.out}: {len(frame)} rows, {int((frame['set'] == 'test').sum())} test rows "
          f"({len(test)} of {len(receptors)} CDR3β)")


if __name__ == "__main__":
    main()
