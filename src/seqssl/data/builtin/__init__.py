"""Bundled real data (see DATA.md for provenance and licence)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

BUILTIN = {
    "mira_binding": "mira_binding_demo.csv.gz",
    "background_cdr3b": "background_cdr3b_100k.csv.gz",
    "dash_mouse_paired": "dash_mouse_paired.csv.gz",  # Dash et al. 2017 paired α/β mouse receptors (positives)
    "mira_epitopes": "mira_epitopes",  # a directory of 29 shards, one per epitope group
    "flip_gb1_three_vs_rest": "flip_gb1_three_vs_rest.csv.gz",
    "flip_gb1_low_vs_high": "flip_gb1_low_vs_high.csv.gz",
    "flip_conservation_sequences": "flip_conservation_sequences.fasta.gz",
    "flip_conservation_labels": "flip_conservation_labels.fasta.gz",
    "moses": "moses_smiles_100k.csv.gz",
    "belka_sample": "belka_format_sample.csv.gz",
    "bbbp": "bbbp.csv.gz",  # MoleculeNet blood-brain barrier penetration: SMILES, binary label
    "imgt_v_genes": "imgt_tr_v_cdr1_cdr2.tsv",  # IMGT CDR1/CDR2 of human and mouse TR V alleles (seqssl.data.v_genes)
    "imgt_tcrdist": "imgt_tr_v_tcrdist.tsv",  # IMGT-gapped CDR1/CDR2/CDR2.5 of every V allele (seqssl.transfer.tcrdist)
}


def builtin_path(name: str) -> Path:
    """Filesystem path of a bundled file, e.g. ``builtin_path("mira_binding")``."""
    return Path(str(resources.files(__name__).joinpath(BUILTIN[name])))
