"""What ``seqssl COMMAND --help`` shows beyond the options' own help: each option's default, taken from the
config it falls back to (options default to ``None`` so that a ``--config`` file can set them, which would
otherwise leave the real default unsaid), and one or two examples per command.

Only :mod:`seqssl.config` is imported (no torch), so ``--help`` stays fast.
"""
from __future__ import annotations

import dataclasses

from .config import Config

# the config sections an option of each command falls back to, in lookup order
SECTIONS = {"pretrain": ("pretrain", "data", "model"), "finetune": ("finetune", "data", "model"),
            "crossval": ("crossval", "finetune", "data", "model", "pretrain"), "embed": ("data", "model"),
            "predict": (), "demo": ()}
# option names that are not a field of those sections
RENAMED = {"data": "data.path", "pretrain_epochs": "pretrain.epochs", "pretrain_lr": "pretrain.lr",
           "pretrain_max_steps": "pretrain.max_steps", "finetune_max_steps": "finetune.max_steps",
           "init": "pretrain.init", "encoder": "finetune.encoder", "unknown_residues": "data.unknown_residues"}
TOP_LEVEL = ("seed", "device", "precision", "threads", "out", "quiet")

EXAMPLES = {
    "pretrain": ["seqssl pretrain --data corpus.csv.gz --columns cdr3_b_aa --objective simclr --out enc/",
                 "seqssl pretrain --init ~/models/esm2_t6_8M_UR50D --data tcrs.csv --columns cdr3_b_aa "
                 "--objective mlm --out esm-tcr/"],
    "finetune": ["seqssl finetune --data labelled.csv --columns cdr3_b_aa,peptide --label-column label "
                 "--encoder enc/ --mode full --out ft/"],
    "predict": ["seqssl predict --model ft/ --data new.csv --out predictions.csv",
                "seqssl predict --model ft/ --data messy.csv --on-bad-rows skip --out predictions.parquet"],
    "crossval": ["seqssl crossval --data labelled.csv --columns cdr3_b_aa,peptide --label-column label "
                 "--arms none,kmer,simclr --pretrain-data corpus.csv.gz --pretrain-columns cdr3_b_aa --out cv/",
                 "seqssl crossval --data labelled.csv --columns sequence --label-column y --task regression "
                 "--arms kmer,model:~/models/esm2_t6_8M_UR50D --mode probe,lora --out cv-esm/",
                 "seqssl crossval --data pairs.csv --columns cdr3_a_aa,cdr3_b_aa,peptide --v-gene-columns "
                 "v_a_gene,v_b_gene --label-column label --split column --split-column set "
                 "--arms kmer,knn,tcrdist,none --primary-metric auroc_per_group --repeats 3 --search lr=3e-4,1e-3 "
                 "--out cv-pairs/"],
    "embed": ["seqssl embed --encoder enc/ --data labelled.csv --columns cdr3_b_aa --out emb.parquet"],
    "demo": ["seqssl demo --quick --out demo-out"],
}


def config_key(command: str, option: str) -> str | None:
    """The dotted config key ``option`` of ``command`` falls back to (None: none)."""
    if option in RENAMED:
        return RENAMED[option]
    if option in TOP_LEVEL:
        return option
    defaults = Config()
    for section in SECTIONS.get(command, ()):  # its own fields (not an old key a component took over)
        if option in {field.name for field in dataclasses.fields(getattr(defaults, section))}:
            return f"{section}.{option}"
    return None


def default_of(key: str):
    value = Config().to_dict()
    for part in key.split("."):
        value = value[part]
    return value


def describe_defaults(group) -> None:
    """Set ``show_default`` of every option of ``group``'s commands that defaults to None to its config
    default, ``KEY = VALUE``; add the command's examples to its epilog."""
    for name, command in group.commands.items():
        for param in command.params:
            key = config_key(name, param.name or "")
            if getattr(param, "default", 0) is None and key:
                value = default_of(key)
                param.show_default = f"{key} = {value if value not in (None, [], '') else 'unset'}"
        if name in EXAMPLES:
            command.epilog = "Examples:\n\n" + "\n\n".join(EXAMPLES[name])
