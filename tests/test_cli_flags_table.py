"""Every flag of ``pretrain``, ``finetune``, ``crossval`` (and ``demo``) through the real CLI, one table row each:
the argv is parsed by the typer app (``seqssl.cli.main``), the command builds its configuration, and the run
itself is replaced by a stub that records what the command handed it (the resolved ``Config``, the ``resume``
flag, the ``--list-parts``/``--part``/``--emit-slurm`` arguments) and stops. Each row compares the resolved value
with the expected one, and first checks that the same command without the flag resolves to something else, so a
flag mapped to the wrong key, or not at all, fails its row."""
from __future__ import annotations

import copy
import dataclasses
import functools
import shlex

import pytest
import typer

from seqssl.cli import app, main

# (command, flag, value, where the value lands, expected resolved value).
# flag: the option, after any other tokens the row needs (``--max-steps 9 --pretrain-max-steps``); value None: a
# boolean flag. where: a dotted Config attribute, ``run:NAME`` (a keyword the command passes to seqssl.api's run)
# or ``jobs:NAME`` (a keyword of seqssl.evaluate.jobs.jobs_command).
ROWS = [
    # pretrain
    ("pretrain", "--data", "corpus.csv", "data.path", "corpus.csv"),
    ("pretrain", "--columns", "cdr3_a,cdr3_b", "data.columns", ["cdr3_a", "cdr3_b"]),
    ("pretrain", "--objective", "mlm", "pretrain.objective", "mlm"),
    ("pretrain", "--objective-weights", "mlm=1,simclr=0.5", "pretrain.weights", {"mlm": 1.0, "simclr": 0.5}),
    ("pretrain", "--out", "enc-dir", "out", "enc-dir"),
    ("pretrain", "--epochs", "3", "pretrain.epochs", 3),
    ("pretrain", "--max-steps", "9", "pretrain.max_steps", 9),
    ("pretrain", "--batch-size", "48", "pretrain.batch_size", 48),
    ("pretrain", "--lr", "0.0042", "pretrain.lr", 0.0042),
    ("pretrain", "--seed", "17", "seed", 17),
    ("pretrain", "--device", "cpu", "device", "cpu"),
    ("pretrain", "--precision", "bf16", "precision", "bf16"),
    ("pretrain", "--alphabet", "text", "data.alphabet", "text"),
    ("pretrain", "--unknown-residues", "map-to-x", "data.unknown_residues", "map-to-x"),
    ("pretrain", "--pooling", "mean", "model.pooling", "mean"),
    ("pretrain", "--max-length", "40", "model.max_length", 40),
    ("pretrain", "--init", "base-model", "pretrain.init", "base-model"),
    ("pretrain", "--temperature", "0.37", "pretrain.temperature", 0.37),
    ("pretrain", "--hard-negative-beta", "0.5", "pretrain.hard_negative_beta", 0.5),
    ("pretrain", "--debias-tau-plus", "0.1", "pretrain.debias_tau_plus", 0.1),
    ("pretrain", "--mask-tokens", "3", "pretrain.mask_tokens", 3),
    ("pretrain", "--checkpoint-every", "7", "pretrain.checkpoint_every", 7),
    ("pretrain", "--chunk-size", "16", "pretrain.chunk_size", 16),
    ("pretrain", "--max-tokens", "500", "pretrain.max_tokens", 500),
    ("pretrain", "--positives", "label", "pretrain.positives", "label"),
    ("pretrain", "--view", "crop", "pretrain.view", "crop"),
    ("pretrain", "--pretrain-label-column", "epitope", "data.pretrain_label_column", "epitope"),
    ("pretrain", "--negative-column", "hard_negative", "data.negative_column", "hard_negative"),
    ("pretrain", "--distance", "euclidean", "pretrain.distance", "euclidean"),
    ("pretrain", "--too-long", "truncate", "data.too_long", "truncate"),
    ("pretrain", "--v-gene-columns", "v_a_gene,v_b_gene", "data.v_gene_columns", ["v_a_gene", "v_b_gene"]),
    ("pretrain", "--unknown-v-genes", "skip", "data.unknown_v_genes", "skip"),
    ("pretrain", "--organism", "mouse", "data.organism", "mouse"),
    ("pretrain", "--stream", None, "data.stream", True),
    ("pretrain", "--cache-dir", "tok-cache", "data.cache_dir", "tok-cache"),
    ("pretrain", "--resume", None, "run:resume", True),
    ("pretrain", "--tracking", "tensorboard,mlflow", "tracking", ["tensorboard", "mlflow"]),
    ("pretrain", "--quiet", None, "quiet", True),
    ("pretrain", "--trust-remote-code", None, "model.trust_remote_code", True),
    ("pretrain", "--plugin", "json", "plugins", ["json"]),
    ("pretrain", "--overwrite", None, "overwrite", True),
    # finetune
    ("finetune", "--data", "labelled.csv", "data.path", "labelled.csv"),
    ("finetune", "--columns", "cdr3_b_aa,peptide", "data.columns", ["cdr3_b_aa", "peptide"]),
    ("finetune", "--label-column", "binds", "data.label_column", "binds"),
    ("finetune", "--task", "regression", "data.task", "regression"),
    ("finetune", "--encoder", "enc-dir", "finetune.encoder", "enc-dir"),
    ("finetune", "--mode", "probe", "finetune.mode", "probe"),
    ("finetune", "--out", "model-dir", "out", "model-dir"),
    ("finetune", "--epochs", "3", "finetune.epochs", 3),
    ("finetune", "--max-steps", "9", "finetune.max_steps", 9),
    ("finetune", "--batch-size", "48", "finetune.batch_size", 48),
    ("finetune", "--lr", "0.0042", "finetune.lr", 0.0042),
    ("finetune", "--seed", "17", "seed", 17),
    ("finetune", "--device", "cpu", "device", "cpu"),
    ("finetune", "--precision", "bf16", "precision", "bf16"),
    ("finetune", "--alphabet", "smiles", "data.alphabet", "smiles"),
    ("finetune", "--unknown-residues", "map-to-x", "data.unknown_residues", "map-to-x"),
    ("finetune", "--pooling", "mean", "model.pooling", "mean"),
    ("finetune", "--max-length", "40", "model.max_length", 40),
    ("finetune", "--group-column", "donor", "data.group_column", "donor"),
    ("finetune", "--token-labels", "labels.fasta", "data.token_labels", "labels.fasta"),
    ("finetune", "--token-classes", "HEC", "data.token_classes", "HEC"),
    ("finetune", "--too-long", "truncate", "data.too_long", "truncate"),
    ("finetune", "--split-column", "set", "data.split_column", "set"),
    ("finetune", "--validation-column", "is_valid", "data.validation_column", "is_valid"),
    ("finetune", "--cluster-threshold", "edit:1", "crossval.cluster_threshold", "edit:1"),
    ("finetune", "--cluster-column", "cdr3_b_aa", "crossval.cluster_column", "cdr3_b_aa"),
    ("finetune", "--tracking", "mlflow", "tracking", ["mlflow"]),
    ("finetune", "--target-column", "protein_name", "data.target_column", "protein_name"),
    ("finetune", "--loss", "focal", "finetune.loss", "focal"),
    ("finetune", "--focal-alpha", "0.25", "finetune.focal_alpha", 0.25),
    ("finetune", "--focal-gamma", "1.5", "finetune.focal_gamma", 1.5),
    ("finetune", "--invalid-smiles", "skip", "data.invalid_smiles", "skip"),
    ("finetune", "--encoder-lr", "1e-5", "finetune.encoder_lr", 1e-5),
    ("finetune", "--select", "last", "finetune.select", "last"),
    ("finetune", "--positive-label", "-1", "data.positive_label", "-1"),
    ("finetune", "--v-gene-columns", "v_b_gene", "data.v_gene_columns", ["v_b_gene"]),
    ("finetune", "--unknown-v-genes", "skip", "data.unknown_v_genes", "skip"),
    ("finetune", "--organism", "mouse", "data.organism", "mouse"),
    ("finetune", "--merge", None, "finetune.merge", True),
    ("finetune", "--head", "classifier", "finetune.head", "classifier"),
    ("finetune", "--quiet", None, "quiet", True),
    ("finetune", "--trust-remote-code", None, "model.trust_remote_code", True),
    ("finetune", "--plugin", "json", "plugins", ["json"]),
    ("finetune", "--head-hidden", "96", "finetune.head_hidden", 96),
    ("finetune", "--head-dropout", "0.3", "finetune.head_dropout", 0.3),
    ("finetune", "--overwrite", None, "overwrite", True),
    ("finetune", "--resume", None, "run:resume", True),
    ("finetune", "--stream", None, "data.stream", True),
    ("finetune", "--split", "scaffold", "crossval.split", "scaffold"),
    ("finetune", "--block-rows", "500", "data.block_rows", 500),
    ("finetune", "--jobs", "2", "data.jobs", 2),
    ("finetune", "--val-rows", "300", "finetune.val_rows", 300),
    ("finetune", "--test-fraction", "0.1", "finetune.test_fraction", 0.1),
    ("finetune", "--cache-dir", "tok-cache", "data.cache_dir", "tok-cache"),
    # crossval
    ("crossval", "--data", "labelled.csv", "data.path", "labelled.csv"),
    ("crossval", "--columns", "cdr3_b_aa,peptide", "data.columns", ["cdr3_b_aa", "peptide"]),
    ("crossval", "--label-column", "binds", "data.label_column", "binds"),
    ("crossval", "--task", "multiclass", "data.task", "multiclass"),
    ("crossval", "--arms", "kmer,knn", "crossval.arms", ["kmer", "knn"]),
    ("crossval", "--init", "base-model", "pretrain.init", "base-model"),
    ("crossval", "--objective-weights", "mlm=2", "pretrain.weights", {"mlm": 2.0}),
    ("crossval", "--folds", "3", "crossval.folds", 3),
    ("crossval", "--label-fractions", "0.25,1", "crossval.label_fractions", [0.25, 1.0]),
    ("crossval", "--group-column", "donor", "data.group_column", "donor"),
    ("crossval", "--split", "random", "crossval.split", "random"),
    ("crossval", "--split-column", "set", "data.split_column", "set"),
    ("crossval", "--validation-column", "is_valid", "data.validation_column", "is_valid"),
    ("crossval", "--cluster-threshold", "identity:0.3", "crossval.cluster_threshold", "identity:0.3"),
    ("crossval", "--cluster-column", "sequence", "crossval.cluster_column", "sequence"),
    ("crossval", "--token-labels", "labels.fasta", "data.token_labels", "labels.fasta"),
    ("crossval", "--token-classes", "HEC", "data.token_classes", "HEC"),
    ("crossval", "--too-long", "truncate", "data.too_long", "truncate"),
    ("crossval", "--pretrain-data", "a.csv,b.csv", "data.pretrain_data", ["a.csv", "b.csv"]),
    ("crossval", "--pretrain-columns", "cdr3_b_aa", "data.pretrain_columns", ["cdr3_b_aa"]),
    ("crossval", "--negative-type-column", "neg_type", "data.negative_type_column", "neg_type"),
    ("crossval", "--mode", "probe", "finetune.mode", "probe"),  # one mode: also the finetune section's
    ("crossval", "--mode", "probe", "crossval.modes", ["probe"]),
    ("crossval", "--mode", "probe,knn", "crossval.modes", ["probe", "knn"]),
    ("crossval", "--group-metric", "peptide", "data.group_metric", "peptide"),
    ("crossval", "--primary-metric", "auroc_per_group", "crossval.primary_metric", "auroc_per_group"),
    ("crossval", "--out", "cv-dir", "out", "cv-dir"),
    ("crossval", "--epochs", "3", "finetune.epochs", 3),
    ("crossval", "--max-steps", "9", "pretrain.max_steps", 9),  # both stages
    ("crossval", "--max-steps", "9", "finetune.max_steps", 9),
    ("crossval", "--pretrain-max-steps", "5", "pretrain.max_steps", 5),
    ("crossval", "--finetune-max-steps", "6", "finetune.max_steps", 6),
    ("crossval", "--max-steps 9 --pretrain-max-steps", "5", "pretrain.max_steps", 5),  # a stage's own flag wins
    ("crossval", "--max-steps 9 --pretrain-max-steps", "5", "finetune.max_steps", 9),
    ("crossval", "--max-steps 9 --finetune-max-steps", "6", "finetune.max_steps", 6),
    ("crossval", "--max-steps 9 --finetune-max-steps", "6", "pretrain.max_steps", 9),
    ("crossval", "--batch-size", "48", "finetune.batch_size", 48),
    ("crossval", "--lr", "0.0042", "finetune.lr", 0.0042),
    ("crossval", "--pretrain-epochs", "2", "pretrain.epochs", 2),
    ("crossval", "--pretrain-lr", "0.0031", "pretrain.lr", 0.0031),
    ("crossval", "--seed", "17", "seed", 17),
    ("crossval", "--device", "cpu", "device", "cpu"),
    ("crossval", "--precision", "bf16", "precision", "bf16"),
    ("crossval", "--alphabet", "smiles", "data.alphabet", "smiles"),
    ("crossval", "--unknown-residues", "map-to-x", "data.unknown_residues", "map-to-x"),
    ("crossval", "--pooling", "mean", "model.pooling", "mean"),
    ("crossval", "--max-length", "40", "model.max_length", 40),
    ("crossval", "--positives", "neighbours", "pretrain.positives", "neighbours"),
    ("crossval", "--view", "blosum", "pretrain.view", "blosum"),
    ("crossval", "--pretrain-label-column", "epitope", "data.pretrain_label_column", "epitope"),
    ("crossval", "--quiet", None, "quiet", True),
    ("crossval", "--trust-remote-code", None, "model.trust_remote_code", True),
    ("crossval", "--plugin", "json", "plugins", ["json"]),
    ("crossval", "--atom-features", "simple", "crossval.gcn.atom_features", "simple"),  # both graph arms
    ("crossval", "--atom-features", "simple", "crossval.gat.atom_features", "simple"),
    ("crossval", "--head-hidden", "96", "finetune.head_hidden", 96),
    ("crossval", "--head-dropout", "0.3", "finetune.head_dropout", 0.3),
    ("crossval", "--target-column", "protein_name", "data.target_column", "protein_name"),
    ("crossval", "--loss", "focal", "finetune.loss", "focal"),
    ("crossval", "--focal-alpha", "0.75", "finetune.focal_alpha", 0.75),
    ("crossval", "--focal-gamma", "0.5", "finetune.focal_gamma", 0.5),
    ("crossval", "--invalid-smiles", "skip", "data.invalid_smiles", "skip"),
    ("crossval", "--encoder-lr", "2e-4", "finetune.encoder_lr", 2e-4),
    ("crossval", "--select", "last", "finetune.select", "last"),
    ("crossval", "--positive-label", "yes", "data.positive_label", "yes"),
    ("crossval", "--v-gene-columns", "v_b_gene", "data.v_gene_columns", ["v_b_gene"]),
    ("crossval", "--unknown-v-genes", "skip", "data.unknown_v_genes", "skip"),
    ("crossval", "--organism", "mouse", "data.organism", "mouse"),
    ("crossval", "--remove-duplicates", None, "crossval.remove_duplicates", True),
    ("crossval", "--bond-angles", None, "crossval.gcn.bond_angles", True),
    ("crossval", "--bond-angles", None, "crossval.gat.bond_angles", True),
    ("crossval", "--jobs", "2", "crossval.jobs", 2),
    ("crossval", "--threads", "3", "threads", 3),
    ("crossval", "--repeats", "3", "finetune.repeats", 3),
    ("crossval", "--search", "lr=1e-4,3e-4,epochs=10", "finetune.search", {"lr": [1e-4, 3e-4], "epochs": [10]}),
    ("crossval", "--overwrite", None, "overwrite", True),
    ("crossval", "--resume", None, "run:resume", True),
    ("crossval", "--list-parts", None, "jobs:list_parts", True),
    ("crossval", "--part", "fold1:kmer", "jobs:part", "fold1:kmer"),
    ("crossval", "--emit-slurm", "parts.sh", "jobs:emit_slurm", "parts.sh"),
    ("crossval", "--emit-slurm parts.sh --slurm", "cpus=4,mem=8G", "jobs:slurm", "cpus=4,mem=8G"),
    ("crossval", "--executor", "ray", "crossval.executor", "ray"),
    ("crossval", "--ray-address", "auto", "crossval.ray_address", "auto"),
    # demo (its own defaults first: bundled data, 200 pretraining steps, jobs 0)
    ("demo", "--quick", None, "pretrain.max_steps", 30),
    ("demo", "--quick", None, "crossval.folds", 3),
    ("demo", "--out", "demo-dir", "out", "demo-dir"),
    ("demo", "--seed", "17", "seed", 17),
    ("demo", "--device", "cpu", "device", "cpu"),
    ("demo", "--quiet", None, "quiet", True),
    ("demo", "--threads", "3", "threads", 3),
    ("demo", "--overwrite", None, "overwrite", True),
    ("demo", "--jobs", "1", "crossval.jobs", 1),
]
NOT_IN_TABLE = {"--help", "--config"}  # --config FILE: the YAML layer (tests/test_combined_objectives.py & co.)


class Stopped(Exception):
    """Raised by the stubs: the command got as far as handing its resolved settings over."""


@functools.cache
def config_defaults() -> dict:
    from seqssl.config import Config
    return Config().to_dict()


def cached_default_of(key: str):
    """:func:`seqssl.cli_help.default_of` from one ``Config().to_dict()`` (it builds one per option, 60% of a
    call's time; the --help texts it sets are the same)."""
    value = config_defaults()
    for part in key.split("."):
        value = value[part]
    return copy.deepcopy(value)


_get_command = typer.main.get_command


@functools.cache
def click_command(typer_app):
    """The click command typer builds from the app, built once (typer rebuilds it on every call: most of the
    rest of a call's time); click parses each call afresh all the same."""
    return _get_command(typer_app)


def resolve(argv: list[str], monkeypatch) -> dict:
    """Run ``seqssl ARGV`` through the real CLI with the run replaced by a recorder; what it recorded."""
    import seqssl.api
    import seqssl.cli_help
    import seqssl.evaluate.jobs
    seen: dict = {}
    monkeypatch.setattr(seqssl.cli_help, "default_of", cached_default_of)
    monkeypatch.setattr(typer.main, "get_command", click_command)

    def run(cfg, **kwargs):
        seen.update(cfg=cfg, run=kwargs)
        raise Stopped

    def jobs_command(cfg, **kwargs):
        seen.update(cfg=cfg, jobs=kwargs)
        raise Stopped

    for name in ("pretrain", "finetune", "crossval"):
        monkeypatch.setattr(seqssl.api, name, run)
    monkeypatch.setattr(seqssl.evaluate.jobs, "jobs_command", jobs_command)
    with pytest.raises(Stopped):
        main(argv)
    return seen


BARE: dict[str, dict] = {}


def bare(command: str, monkeypatch) -> dict:
    """What ``seqssl COMMAND`` with no flag resolves to (once per command)."""
    if command not in BARE:
        BARE[command] = resolve([command], monkeypatch)
    return BARE[command]


def value_at(seen: dict, where: str):
    if where.startswith(("run:", "jobs:")):
        part, key = where.split(":")
        return seen.get(part, {}).get(key, False if key in ("resume", "list_parts") else None)
    value = seen["cfg"]
    for attr in where.split("."):  # a component's settings: a section's options (crossval.gcn.hidden)
        if isinstance(value, dict):
            value = value.get(attr)
        elif dataclasses.is_dataclass(value) and attr not in {f.name for f in dataclasses.fields(value)}:
            value = value.options.get(attr, {})
        else:
            value = getattr(value, attr)
    return value


@pytest.mark.parametrize("command, flag, value, where, expected", ROWS,
                         ids=[f"{c} {f} {v or ''} -> {w}".strip() for c, f, v, w, _ in ROWS])
def test_flag_resolves_to_its_config_value(command, flag, value, where, expected, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the demo's default --out and any relative path stay in the test's directory
    tokens = shlex.split(flag)
    given = [command, *tokens, *([] if value is None else [value])]
    # the bare command resolves to something else: this row can fail
    assert value_at(bare(command, monkeypatch), where) != expected
    got = value_at(resolve(given, monkeypatch), where)
    assert got == expected
    assert type(got) is type(expected)  # 3 not 3.0, [0.25, 1.0] not "0.25,1"


def test_the_table_covers_every_flag_of_the_commands():
    """A flag added to one of these commands without a row here fails."""
    command = typer.main.get_command(app)
    covered = {(c, shlex.split(f)[-1]) for c, f, *_ in ROWS}
    missing = [(name, opt) for name in ("pretrain", "finetune", "crossval", "demo")
               for param in command.commands[name].params for opt in param.opts
               if opt.startswith("--") and opt not in NOT_IN_TABLE and (name, opt) not in covered]
    assert not missing, missing
