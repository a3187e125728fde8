"""``seqssl corpus synthetic``: a repertoire of T-cell receptors sampled from OLGA's generative V(D)J
recombination models (Sethna et al. 2019, "OLGA: fast computation of generation probabilities of B- and T-cell
receptor amino acid sequences and motifs", Bioinformatics 35:2974; the models are those IGoR inferred, Marcou et
al. 2018), for pretraining without real repertoires (SCEPTR released a variant trained on such data alone).

Each row holds one productive rearrangement per chain asked for, the chains drawn independently (OLGA models
single chains: the pairing is random, as in the synthetic-only SCEPTR variant): ``v_a_gene, j_a_gene, cdr3_a_aa``
and ``v_b_gene, j_b_gene, cdr3_b_aa``, with each V gene's CDR1 and CDR2 from seqssl's vendored IMGT table
(``v_a_gene_cdr1``, ``v_a_gene_cdr2``, ...: the columns ``--v-gene-columns`` would add). Rows whose V allele has no
complete CDR1/CDR2 in the table (pseudogenes, partial alleles) are dropped and counted. OLGA (GPL-3.0) is an
optional extra (``pip install 'seqssl[synthetic]'``) imported only here; what it generates is data, written with
a card naming the model, the seed and the counts."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..extras import require
from ..io import atomic_write_text, write_table
from .v_genes import check_organism, find_cdrs

CHAINS = {"alpha": ("a", "VJ"), "beta": ("b", "VDJ")}  # chain → (column letter, OLGA model kind)


@dataclass
class ChainSampler:
    """One OLGA model: draws productive CDR3s with their V and J alleles."""

    name: str
    generate: object
    v_names: list[str]
    j_names: list[str]

    def draw(self) -> tuple[str, str, str]:
        _, cdr3, v, j = self.generate()  # type: ignore[operator]
        return self.v_names[v], self.j_names[j], cdr3


def chain_sampler(species: str, chain: str) -> ChainSampler:
    """OLGA's default model of ``species``'s ``chain`` (``human_T_beta``, ``mouse_T_alpha``, ...)."""
    require("olga", "seqssl corpus synthetic")
    import olga.load_model as load_model
    import olga.sequence_generation as generation
    name = f"{species}_T_{chain}"
    folder = Path(load_model.__file__).parent / "default_models" / name
    kind = CHAINS[chain][1]
    genomic = getattr(load_model, f"GenomicData{kind}")()
    genomic.load_igor_genomic_data(str(folder / "model_params.txt"), str(folder / "V_gene_CDR3_anchors.csv"),
                                   str(folder / "J_gene_CDR3_anchors.csv"))
    model = getattr(load_model, f"GenerativeModel{kind}")()
    model.load_and_process_igor_model(str(folder / "model_marginals.txt"))
    sampler = getattr(generation, f"SequenceGeneration{kind}")(model, genomic)
    return ChainSampler(name, sampler.gen_rnd_prod_CDR3, [g[0] for g in genomic.genV], [g[0] for g in genomic.genJ])


def synthetic_repertoire(species: str, chains: list[str], n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """``n`` rows of independently drawn chains with the V genes' CDR1/CDR2, and what the card reports."""
    check_organism(species)
    unknown = [c for c in chains if c not in CHAINS]
    if unknown or not chains:
        raise InputError(f"unknown chains {unknown or chains}", fix="use --chains alpha,beta (or one of them)")
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    np.random.seed(seed)  # OLGA draws from NumPy's global generator
    columns: dict[str, list] = {}
    dropped: dict[str, int] = {}
    for chain in chains:
        letter, sampler = CHAINS[chain][0], chain_sampler(species, chain)
        draws = [sampler.draw() for _ in range(n)]
        columns |= {f"v_{letter}_gene": [d[0] for d in draws], f"j_{letter}_gene": [d[1] for d in draws],
                    f"cdr3_{letter}_aa": [d[2] for d in draws]}
        loops = [find_cdrs(d[0], species) for d in draws]
        columns[f"v_{letter}_gene_cdr1"] = [None if lp is None else lp[0] for lp in loops]
        columns[f"v_{letter}_gene_cdr2"] = [None if lp is None else lp[1] for lp in loops]
        dropped[chain] = sum(lp is None for lp in loops)
    frame = pd.DataFrame(columns)
    complete = frame.notna().all(axis=1)
    frame = frame[complete].reset_index(drop=True).assign(source="synthetic")
    return frame, {"drawn": n, "kept": int(len(frame)), "dropped_without_imgt_cdr1_cdr2": dropped}


def with_background(frame: pd.DataFrame, counts: dict) -> tuple[pd.DataFrame, dict]:
    """The synthetic rows plus the bundled real background β chains (human ImmuneCODE, MIT; V genes with their
    IMGT CDR1/CDR2, rows without them left out), ``source`` telling them apart; other chains' columns empty."""
    from .builtin import builtin_path
    real = pd.read_csv(builtin_path("background_cdr3b"), dtype=str)[["v_b_gene", "j_b_gene", "cdr3_b_aa"]]
    loops = [find_cdrs(g, "human") for g in real["v_b_gene"]]
    real = real.assign(v_b_gene_cdr1=[None if lp is None else lp[0] for lp in loops],
                       v_b_gene_cdr2=[None if lp is None else lp[1] for lp in loops], source="background")
    real = real[real["v_b_gene_cdr1"].notna()]
    merged = pd.concat([frame, real[[c for c in real.columns if c in frame.columns]]], ignore_index=True)
    return merged, {**counts, "background_beta_rows": int(len(real))}


def write_corpus(frame: pd.DataFrame, counts: dict, out: Path, *, species: str, chains: list[str], seed: int,
                 command: str) -> Path:
    """The corpus (format by suffix) and its card ``OUT.card.md`` (+ ``OUT.card.json``): provenance, licence,
    counts."""
    from importlib import metadata

    from ..io import table_output
    path = table_output(out)
    write_table(frame, path)
    card = {"command": command, "generator": "OLGA", "olga_version": metadata.version("olga"),
            "models": [f"{species}_T_{c} (OLGA default, inferred by IGoR)" for c in chains], "seed": seed,
            "pairing": "chains drawn independently" if len(chains) > 1 else None, **counts,
            "columns": list(frame.columns), "cdr3_length_mean": {
                c: float(frame[f"cdr3_{CHAINS[c][0]}_aa"].str.len().mean()) for c in chains}}
    atomic_write_text(path.with_name(path.name + ".card.json"), json.dumps(card, indent=1))
    atomic_write_text(path.with_name(path.name + ".card.md"), card_text(card, path.name))
    return path


def card_text(card: dict, name: str) -> str:
    """The corpus card as Markdown."""
    lines = [f"# {name}", "", f"A synthetic T-cell receptor repertoire: {card['kept']:,} rows ({card['drawn']:,} "
             f"drawn; without IMGT CDR1/CDR2: {card['dropped_without_imgt_cdr1_cdr2']}).", "",
             f"- generator: OLGA {card['olga_version']} (Sethna et al. 2019, GPL-3.0), models "
             + ", ".join(card["models"]), f"- seed: {card['seed']}; chains: {card['pairing'] or 'one'}",
             f"- columns: {', '.join(card['columns'])}", f"- made by: `{card['command']}`", "",
             "The sequences are model draws, not observed receptors; no labelled or test sequence can be among "
             "them except by chance (remove a fold's test sequences as `crossval` does for any corpus)."]
    if card.get("background_beta_rows") and card["pairing"]:
        lines += ["", f"{card['background_beta_rows']:,} rows are real background β chains (`source` = background) "
                  "with the α columns empty: pretraining on both chains refuses them (an empty sequence), or "
                  "leaves them out with `--unknown-v-genes skip`; read them as β-only rows (`--columns cdr3_b_aa "
                  "--v-gene-columns v_b_gene` on the rows of that source), as `scripts/train_builtin_tcr_ab.py` "
                  "does for `builtin-tcr-ab`."]
    return "\n".join(lines) + "\n"
