"""The options the commands share (typer ``Annotated`` aliases) and the helpers that turn their values into
config keys; :mod:`seqssl.cli` holds the commands."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import component_names
from .resume import resume_note

Data = Annotated[Optional[str], typer.Option("--data", help="CSV/TSV (.gz ok), FASTA or Parquet file.")]
Columns = Annotated[Optional[str], typer.Option("--columns", help="Sequence column(s), COL or COL_A,COL_B[,...] "
                                                 "(one segment each).")]
Out = Annotated[Optional[str], typer.Option("--out", help="Output directory.")]
ConfigFile = Annotated[Optional[Path], typer.Option("--config", help="YAML config; flags override it.")]
Epochs = Annotated[Optional[int], typer.Option("--epochs", help="Epochs (fine-tuning: the early-stopping cap).")]
MaxSteps = Annotated[Optional[int], typer.Option("--max-steps", help="Stop after N optimiser steps (smoke runs).")]
BothMaxSteps = Annotated[Optional[int], typer.Option(
    "--max-steps", help="Cap both stages at N optimiser steps (smoke runs); --pretrain-max-steps and "
    "--finetune-max-steps cap one stage.")]
PretrainMaxSteps = Annotated[Optional[int], typer.Option(help="Pretraining steps per fold.")]
PretrainEpochs = Annotated[Optional[int], typer.Option(help="Pretraining epochs per fold.")]
PretrainLr = Annotated[Optional[float], typer.Option(help="Pretraining learning rate.")]
FinetuneMaxSteps = Annotated[Optional[int], typer.Option(help="Fine-tuning step cap.")]
BatchSize = Annotated[Optional[int], typer.Option("--batch-size")]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")]
Seed = Annotated[Optional[int], typer.Option("--seed")]
Device = Annotated[Optional[str], typer.Option("--device", help="auto | cpu | cuda")]
Precision = Annotated[Optional[str], typer.Option("--precision", help="fp32 | bf16")]
Alphabet = Annotated[Optional[str], typer.Option("--alphabet", help="protein | text | smiles")]
Unknown = Annotated[Optional[str], typer.Option("--unknown-residues", help="error | map-to-x")]
LabelColumn = Annotated[Optional[str], typer.Option("--label-column")]
PositiveLabel = Annotated[Optional[str], typer.Option(help="Binary labels other than 0/1: the value meaning 1 "
                                                      "(e.g. 1 for labels -1/1).")]
TASK_CHOICES = " | ".join(component_names("task"))  # the registries' names, from options.json (no torch)
Task = Annotated[Optional[str], typer.Option("--task", help=TASK_CHOICES)]
TargetColumn = Annotated[Optional[str], typer.Option("--target-column", help="multilabel, long layout (BELKA): "
                                                     "column naming each row's target; --label-column holds 0/1.")]
Loss = Annotated[Optional[str], typer.Option("--loss", help="Classification loss: bce | focal.")]
FocalAlpha = Annotated[Optional[float], typer.Option("--focal-alpha", help="Focal loss: weight of positives.")]
FocalGamma = Annotated[Optional[float], typer.Option("--focal-gamma", help="Focal loss: focusing parameter.")]
EncoderLr = Annotated[Optional[float], typer.Option("--encoder-lr", help="Fine-tuning: the encoder's learning rate "
                                                  "(default --lr); lower than the head's for few labels.")]
Select = Annotated[Optional[str], typer.Option("--select", help="best (early stopping on validation) | last (a fixed "
                                               "budget of --epochs, for validation sets too small to trust).")]
InvalidSmiles = Annotated[Optional[str], typer.Option("--invalid-smiles", help="Molecules RDKit cannot parse: "
                                                      "error | skip (counted in the report).")]
VGeneColumns = Annotated[Optional[str], typer.Option("--v-gene-columns", help="IMGT V gene column(s), e.g. "
                                                     "v_b_gene (TRBV5-1*01 or TRBV5-1): each adds COL_cdr1 and "
                                                     "COL_cdr2 (human and mouse TRA, TRB, TRG, TRD).")]
UnknownVGenes = Annotated[Optional[str], typer.Option("--unknown-v-genes", help="V gene names not in the IMGT table, "
                                                      "or missing: error | skip (rows dropped and counted).")]
Organism = Annotated[Optional[str], typer.Option("--organism", help="Whose IMGT V genes: human | mouse.")]
TokenLabels = Annotated[Optional[str], typer.Option("--token-labels", help="token-classification: label FASTA "
                                                    "matched to --data records by id ('.' = unlabelled).")]
TokenClasses = Annotated[Optional[str], typer.Option("--token-classes", help="Fixed label characters, e.g. "
                                                     "123456789 (default: those found).")]
TooLong = Annotated[Optional[str], typer.Option("--too-long", help="error | truncate (sequences, and their "
                                                "per-residue labels, beyond model.max_length).")]
SplitColumn = Annotated[Optional[str], typer.Option("--split-column", help="Fixed split: column of train / test "
                                                    "(optional valid) values.")]
ValidationColumn = Annotated[Optional[str], typer.Option("--validation-column", help="With --split-column: rows "
                                                         "marked true here are the validation split.")]
ClusterThreshold = Annotated[Optional[str], typer.Option("--cluster-threshold", help="--split cluster (finetune: "
                                                         "its validation split): edit:K (no pair across within K "
                                                         "edits, e.g. edit:1 for CDR3s) or identity:F (none at >= F "
                                                         "identity, e.g. identity:0.3 for proteins).")]
ClusterColumn = Annotated[Optional[str], typer.Option("--cluster-column", help="--split cluster: the column "
                                                      "clustered (default: the first sequence column).")]
OBJECTIVE_CHOICES = " | ".join(component_names("objective"))
ARM_CHOICES = ", ".join(component_names("arm"))  # besides every objective and model:PATH
Objective = Annotated[Optional[str], typer.Option("--objective", help=f"Pretraining objective: {OBJECTIVE_CHOICES}, "
                                                  "or a sum of them such as mlm+simclr.")]
ObjectiveWeights = Annotated[Optional[str], typer.Option(help="A sum of objectives: each part's loss weight, e.g. "
                                                         "mlm=1,simclr=0.5 (default 1 each).")]
Pooling = Annotated[Optional[str], typer.Option("--pooling", help="cls | mean")]
MaxLength = Annotated[Optional[int], typer.Option("--max-length", help="Model's maximum tokens per input, "
                                                  "[CLS] and [SEP] included (default: a loaded encoder's own, else the "
                                                  "data's longest, 64 to 1024).")]
HeadHidden = Annotated[Optional[int], typer.Option(help="Hidden width of the MLP head (full, lora, probe-mlp).")]
HeadDropout = Annotated[Optional[float], typer.Option(help="Dropout of the MLP head, in [0, 1).")]
Plugin = Annotated[Optional[list[str]], typer.Option(
    "--plugin", help="Import MODULE (a dotted name or a .py file) first: the objectives, arms, tasks and modes it "
    "registers become names like the built-in ones (repeatable; also SEQSSL_PLUGINS and entry points).")]
# predict and embed: a file larger than memory, block by block (seqssl.streamed_output)
Stream = Annotated[bool, typer.Option("--stream", help="A file larger than memory: read and scored --block-rows rows "
                                      "at a time into a Parquet --out, each block kept as it is done.")]
BlockRows = Annotated[int, typer.Option(min=1, help="--stream: rows per block (a row group of the output).")]
StreamResume = Annotated[bool, typer.Option("--resume", help="--stream: go on from the blocks a killed run kept "
                                            "(OUT.parts/).")]
# finetune: labelled data larger than memory (seqssl.tasks.labelled_stream)
FinetuneStream = Annotated[bool, typer.Option("--stream", help="Labelled files larger than memory: checked and "
                                              "tokenised once, block by block, into a memory-mapped Arrow cache, "
                                              "then trained on batch by batch (modes full, lora, probe-mlp).")]
FinetuneBlockRows = Annotated[Optional[int], typer.Option(
    "--block-rows", help="--stream: rows read, checked and tokenised together (default 65536).")]
StreamJobs = Annotated[Optional[int], typer.Option(
    "--jobs", help="--stream: worker processes reading blocks (RDKit checks, tokenising) side by side.")]
ValRows = Annotated[Optional[int], typer.Option(
    "--val-rows", help="--stream: early stopping scores a sample of at most this many validation rows "
    "(default 10000).")]
TestFraction = Annotated[Optional[float], typer.Option(
    "--test-fraction", help="--stream without --split-column: the share of groups (hash of --group-column, the "
    "scaffold, or the sequence) held out as a test set.")]
FinetuneSplit = Annotated[Optional[str], typer.Option(
    "--split", help="How validation (and test) rows are chosen: stratified | grouped (--group-column) | scaffold | "
    "cluster | column (--split-column) | random.")]
CacheDir = Annotated[Optional[str], typer.Option(
    "--cache-dir", help="--stream: cache of tokenised files (default $SEQSSL_CACHE or ~/.cache/seqssl).")]
TrustRemoteCode = Annotated[bool, typer.Option(
    "--trust-remote-code", help="Let a loaded model (--encoder, --init, model:PATH) run the Python code it ships "
    "(MolFormer and other custom architectures). Off by default: that code runs with your permissions, so "
    "only for a model directory whose code you trust.")]
Init = Annotated[Optional[str], typer.Option("--init", help="Continued pretraining: start from this model directory "
                                            "(seqssl or transformers, with its own tokenizer) instead of a random "
                                            "encoder.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
OnBadRows = Annotated[str, typer.Option(
    "--on-bad-rows", help="error: name every bad row (the first 20) and stop | skip: write the good rows' results "
    "and each bad row with empty values and its reason (column error).")]
KeepColumns = Annotated[str, typer.Option(
    "--keep-columns", help="The input columns written before the results: all, none, or COL,COL.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="--out holds an earlier run: empty it first (without "
                                         "this, or --resume where the command has it, such a run is refused).")]
Threads = Annotated[Optional[int], typer.Option(
    "--threads", help="torch threads in all (default: every core; on a machine shared with other jobs, fewer may "
    "be faster).")]
Jobs = Annotated[Optional[int], typer.Option(
    "--jobs", help="Processes running (fold, arm) parts side by side, each with threads/N torch threads; "
    "0: one per core (CPU). Small encoders cannot use several cores in one process; several parts can.")]
Tracking = Annotated[Optional[str], typer.Option("--tracking", help="tensorboard and/or mlflow (comma-separated).")]
# crossval's parts as cluster jobs (seqssl.evaluate.jobs)
ListParts = Annotated[bool, typer.Option("--list-parts", help="Print the run's (fold, arm) part ids, one a line, "
                                         "in the order --jobs hands them out, after checking the run; run nothing.")]
Part = Annotated[Optional[str], typer.Option("--part", help="Run only part ID (from --list-parts) into the shared "
                                             "--out; a complete part is skipped. --resume then gathers the parts.")]
EmitSlurm = Annotated[Optional[str], typer.Option(
    "--emit-slurm", help="Write FILE: a SLURM array script (one task per part) with a gather job; submit with "
    "`bash FILE`. The run's config is written to FILE.config.yaml.")]
Slurm = Annotated[Optional[str], typer.Option(
    "--slurm", help="--emit-slurm resources per part: cpus=4,mem=16G,time=04:00:00,gpus=0,partition=,max_parallel=0 "
    "(these defaults).")]
Executor = Annotated[Optional[str], typer.Option(
    "--executor", help="local (this machine; --jobs processes) | ray (each part a Ray task; pip install "
    "'seqssl\\[ray]').")]
RayAddress = Annotated[Optional[str], typer.Option(
    "--ray-address", help="--executor ray: the Ray cluster to join (e.g. ray://head:10001, or auto); default: "
    "a local Ray on this machine's cores.")]
Positives = Annotated[Optional[str], typer.Option(help="augment | label | neighbours | smiles")]
View = Annotated[Optional[str], typer.Option(help="mask | substitute | blosum | crop | dropout")]
PretrainLabel = Annotated[Optional[str], typer.Option(help="Corpus column whose shared values are positives.")]


# crossval's own options
Arms = Annotated[Optional[str], typer.Option(
    help=f"Comma-separated: {ARM_CHOICES}, an objective ({OBJECTIVE_CHOICES}), a sum of objectives (mlm+simclr), "
    "or model:PATH (a seqssl or transformers model directory).")]
Folds = Annotated[Optional[int], typer.Option(help="Number of folds.")]
LabelFractions = Annotated[Optional[str], typer.Option(
    help="Learning curve: shares of each training fold's labels, e.g. 0.1,0.3,1.")]
CrossvalGroupColumn = Annotated[Optional[str], typer.Option(help="No group on both sides of a split.")]
CrossvalSplit = Annotated[Optional[str], typer.Option(help="random | stratified | grouped | scaffold | cluster | "
                                                     "column")]
PretrainData = Annotated[Optional[str], typer.Option(help="Unlabelled corpus file(s), comma-separated.")]
PretrainColumns = Annotated[Optional[str], typer.Option(help="Column(s) of the corpus.")]
NegativeTypeColumn = Annotated[Optional[str], typer.Option(help="Also report metrics per negative type.")]
CrossvalModes = Annotated[Optional[str], typer.Option(
    help="full | probe (frozen encoder + linear model) | probe-mlp (frozen encoder + MLP head) | lora | knn (nearest "
    "neighbours in the frozen embedding) | per-value (full, one output per value of the last column) | probe+kmer "
    "(frozen embedding beside k-mer features, one linear model) | prototype (class means in the frozen embedding), "
    "or several, e.g. probe,full,lora,knn (each encoder pretrained once per fold)")]
GroupMetric = Annotated[Optional[str], typer.Option(
    "--group-metric", help="Also report metrics per value of this column, macro-averaged (default for two or more "
    "columns: the last, e.g. the peptide).")]
PrimaryMetric = Annotated[Optional[str], typer.Option(
    "--primary-metric", help="The metric comparisons use, e.g. auroc or auroc_per_group (default: the task's).")]
RemoveDuplicates = Annotated[bool, typer.Option(
    "--remove-duplicates", help="Drop test rows whose sequence (pair) is also a training row; counted in the report "
    "either way.")]
AtomFeaturesBoth = Annotated[Optional[str], typer.Option(
    help="gcn and gat arms both (kept for old scripts; one arm: --gcn-atom-features).")]
BondAnglesBoth = Annotated[bool, typer.Option(
    "--bond-angles", help="gcn and gat arms both (kept for old scripts; one arm: --gcn-bond-angles).")]
Repeats = Annotated[Optional[int], typer.Option(
    "--repeats", min=1, help="Fine-tune each (fold, arm, mode) N times with N seeds shared by every arm; each fold's "
    "value is the mean, a fixed split's ± the std over repeats.")]
Search = Annotated[Optional[str], typer.Option(
    "--search", help="Fine-tuning settings chosen per fold on the validation split only, e.g. "
    "lr=1e-4,3e-4,1e-3,epochs=10,30 or lora.rank=4,8 (every combination).")]
CrossvalResume = Annotated[bool, typer.Option(
    "--resume", help="Keep the finished folds and arms in --out; continue a cut-off pretraining. " + resume_note())]


def _cols(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def _common(data, columns, out, seed, device, precision, alphabet, unknown, pooling, quiet, max_length=None) -> dict:
    return {"model.max_length": max_length, "data.path": data, "data.columns": _cols(columns), "out": out,
            "seed": seed, "device": device, "precision": precision, "data.alphabet": alphabet,
            "data.unknown_residues": unknown, "model.pooling": pooling, "quiet": True if quiet else None}


def _cluster(cluster_threshold, cluster_column) -> dict:
    return {"crossval.cluster_threshold": cluster_threshold, "crossval.cluster_column": cluster_column}


def _labelled(token_labels, token_classes, too_long, split_column, validation_column) -> dict:
    return {"data.token_labels": token_labels, "data.token_classes": token_classes, "data.too_long": too_long,
            "data.split_column": split_column, "data.validation_column": validation_column}


def _transfer(target_column, loss, focal_alpha, focal_gamma, invalid_smiles, encoder_lr, select,
              positive_label=None) -> dict:
    return {"data.target_column": target_column, "finetune.loss": loss, "finetune.focal_alpha": focal_alpha,
            "finetune.focal_gamma": focal_gamma, "data.invalid_smiles": invalid_smiles,
            "finetune.encoder_lr": encoder_lr, "finetune.select": select, "data.positive_label": positive_label}


def _v_genes(v_gene_columns, unknown_v_genes, organism) -> dict:
    return {"data.v_gene_columns": _cols(v_gene_columns), "data.unknown_v_genes": unknown_v_genes,
            "data.organism": organism}


def _optim(section: str, epochs, max_steps, batch_size, lr) -> dict:
    return {f"{section}.epochs": epochs, f"{section}.max_steps": max_steps,
            f"{section}.batch_size": batch_size, f"{section}.lr": lr}
