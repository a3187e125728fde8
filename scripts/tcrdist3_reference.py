"""Write ``tests/data/tcrdist3_reference.json``: tcrdist3's own TCRdist matrices on a sample of receptors, which
``tests/test_tcrdist.py`` holds seqssl's implementation (:mod:`seqssl.transfer.tcrdist`) equal to.

Run it in an environment with ``tcrdist3==0.3`` (MIT; it pins its own pandas and numba, so not seqssl's):

    python -m venv /tmp/tcrvenv && /tmp/tcrvenv/bin/pip install tcrdist3==0.3
    /tmp/tcrvenv/bin/python scripts/tcrdist3_reference.py ../shared/data/tcr/dash_mouse_paired.csv.gz \\
        src/seqssl/data/builtin/mira_binding_demo.csv.gz tests/data/tcrdist3_reference.json

Samples: 40 mouse α/β receptors of Dash et al. (2017) (tcrdist3's own example data, MIT), and 40 human β chains
of the bundled ImmuneCODE MIRA pairs (``seqssl.data.builtin``), both drawn with seed 0 among rows whose V genes
tcrdist3 knows; the CDR3 lengths vary, so the gap rule is exercised.
"""
from __future__ import annotations

import json
import sys

import pandas as pd
from tcrdist.repertoire import TCRrep


def sample(frame: pd.DataFrame, columns: list[str], n: int = 40) -> pd.DataFrame:
    frame = frame.dropna(subset=columns).drop_duplicates(subset=columns)
    return frame.sample(n, random_state=0)[columns].reset_index(drop=True)


def matrices(frame: pd.DataFrame, organism: str, chains: list[str]) -> dict:
    rep = TCRrep(cell_df=frame.assign(count=1), organism=organism, chains=chains,
                 db_file="alphabeta_gammadelta_db.tsv", deduplicate=False, compute_distances=True)
    out = {"organism": organism, "rows": rep.clone_df.drop(columns=["count"], errors="ignore")
           .filter(regex="^(v_|cdr3)").to_dict(orient="list")}
    for chain in chains:
        out[f"pw_{chain}"] = getattr(rep, f"pw_{chain}").tolist()
    return out


def main(mouse_path: str, human_path: str, out_path: str) -> None:
    mouse = sample(pd.read_csv(mouse_path), ["v_a_gene", "cdr3_a_aa", "v_b_gene", "cdr3_b_aa"])
    human = sample(pd.read_csv(human_path), ["v_b_gene", "cdr3_b_aa"])
    result = {"tcrdist3": "0.3", "mouse": matrices(mouse, "mouse", ["alpha", "beta"]),
              "human": matrices(human, "human", ["beta"])}
    with open(out_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
