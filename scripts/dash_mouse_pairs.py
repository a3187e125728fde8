"""Write the paired mouse α/β development table used in issue 27's notes: the Dash et al. (2017) receptors
(``../shared/data/tcr/dash_mouse_paired.csv.gz``, tcrdist3's example data, MIT) as binders of their epitope, each
also paired with another epitope drawn at random as a non-binder (the "swapped" negatives of the MIRA table), with
a random 70/30 ``set`` column (seed 0; rows, not receptors, are split, so this split is easy) and a peptide
sequence per epitope name in ``peptide``.

    python scripts/dash_mouse_pairs.py [SOURCE] paired.csv

SOURCE defaults to the bundled copy (``seqssl.data.builtin``: ``dash_mouse_paired``).
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

# one peptide sequence per epitope name of the file, as the literature names them; not checked against the paper
# here: only their identity matters to these tables (the k-mer × peptide crossing, the per-peptide groups)
PEPTIDES = {"PA": "SSLENFRAYV", "PB1": "SSYRRPVGI", "NP": "ASNENMETM", "M45": "HGIRNASFI", "M38": "SSPPMFRV",
            "F2": "LSLRNPILV", "m139": "TVYGFCLL"}


def pairs_table(receptors: pd.DataFrame) -> pd.DataFrame:
    """Binders and swapped-epitope non-binders, shuffled, with the ``set`` and ``peptide`` columns."""
    rng = np.random.default_rng(0)
    binders = receptors[["v_a_gene", "cdr3_a_aa", "v_b_gene", "cdr3_b_aa", "epitope"]].assign(label=1)
    swapped = binders.copy()
    epitopes = binders["epitope"].unique()
    swapped["epitope"] = [rng.choice([e for e in epitopes if e != own]) for own in binders["epitope"]]
    swapped["label"] = 0
    table = pd.concat([binders, swapped]).sample(frac=1, random_state=0)
    table["set"] = np.where(rng.random(len(table)) < 0.3, "test", "train")
    table["peptide"] = table["epitope"].map(PEPTIDES)
    return table


def main(source: str, out: str) -> None:
    table = pairs_table(pd.read_csv(source))
    table.to_csv(out, index=False)
    print(f"{out}: {len(table)} rows, {int((table['set'] == 'test').sum())} test")


if __name__ == "__main__":
    if len(sys.argv) == 2:
        from seqssl.data.builtin import builtin_path
        main(str(builtin_path("dash_mouse_paired")), sys.argv[1])
    else:
        main(*sys.argv[1:3])
