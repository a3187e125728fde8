"""Command line: thin typer commands over :mod:`seqssl.api`. Bad input exits 2 with one line."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_components import COMMAND_KINDS, command_with_settings, given_settings, plugins_named
from .cli_help import describe_defaults
from .cli_options import (
    Alphabet,
    Arms,
    AtomFeaturesBoth,
    BatchSize,
    BlockRows,
    BondAnglesBoth,
    BothMaxSteps,
    CacheDir,
    ClusterColumn,
    ClusterThreshold,
    Columns,
    ConfigFile,
    CrossvalGroupColumn,
    CrossvalModes,
    CrossvalResume,
    CrossvalSplit,
    Data,
    Device,
    EmitSlurm,
    EncoderLr,
    Epochs,
    Executor,
    FinetuneBlockRows,
    FinetuneMaxSteps,
    FinetuneSplit,
    FinetuneStream,
    FocalAlpha,
    FocalGamma,
    Folds,
    GroupMetric,
    HeadDropout,
    HeadHidden,
    Init,
    InvalidSmiles,
    Jobs,
    KeepColumns,
    LabelColumn,
    LabelFractions,
    ListParts,
    Loss,
    Lr,
    MaxLength,
    MaxSteps,
    NegativeTypeColumn,
    Objective,
    ObjectiveWeights,
    OnBadRows,
    Organism,
    Out,
    Overwrite,
    Part,
    Plugin,
    Pooling,
    PositiveLabel,
    Positives,
    Precision,
    PretrainColumns,
    PretrainData,
    PretrainEpochs,
    PretrainLabel,
    PretrainLr,
    PretrainMaxSteps,
    PrimaryMetric,
    Quiet,
    RayAddress,
    RemoveDuplicates,
    Repeats,
    Search,
    Seed,
    Select,
    Slurm,
    SplitColumn,
    Stream,
    StreamJobs,
    StreamResume,
    TargetColumn,
    Task,
    TestFraction,
    Threads,
    TokenClasses,
    TokenLabels,
    TooLong,
    Tracking,
    TrustRemoteCode,
    Unknown,
    UnknownVGenes,
    ValidationColumn,
    ValRows,
    VGeneColumns,
    View,
    _cluster,
    _cols,
    _common,
    _labelled,
    _optim,
    _transfer,
    _v_genes,
)
from .config import load_config, nested
from .deprecated import renamed_keys_as_lines
from .errors import InputError, TrainingStopped
from .interrupts import on_interrupt
from .resume import resume_note

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Self-supervised pretraining of sequence encoders, measured honestly.")


def _version(value: bool) -> None:
    if value:
        from . import __version__
        typer.echo(f"seqssl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Self-supervised pretraining of sequence encoders, measured honestly."""

@app.command()
def pretrain(data: Data = None, columns: Columns = None, objective: Objective = None,
             objective_weights: ObjectiveWeights = None, out: Out = None,
             config: ConfigFile = None, epochs: Epochs = None, max_steps: MaxSteps = None,
             batch_size: BatchSize = None, lr: Lr = None, seed: Seed = None, device: Device = None,
             precision: Precision = None, alphabet: Alphabet = None, unknown_residues: Unknown = None,
             pooling: Pooling = None, max_length: MaxLength = None, init: Init = None,
             trust_remote_code: TrustRemoteCode = False, plugin: Plugin = None,
             temperature: Annotated[Optional[float], typer.Option(help="NT-Xent temperature.")] = None,
             hard_negative_beta: Annotated[Optional[float], typer.Option(
                 help="simclr, infonce, moco: weight each negative by e^(β·similarity/t), β ≥ 0 (Robinson et al. "
                      "2021); 0: off.")] = None,
             debias_tau_plus: Annotated[Optional[float], typer.Option(
                 help="simclr, infonce, moco: assumed share of false negatives among the negatives, in [0, 1) "
                      "(Chuang et al. 2020); 0: off.")] = None,
             mask_tokens: Annotated[Optional[int], typer.Option(help="Tokens masked per view (k).")] = None,
             checkpoint_every: Annotated[Optional[int], typer.Option(help="Checkpoint every N steps.")] = None,
             chunk_size: Annotated[Optional[int], typer.Option(help="Bound memory: N rows at a time, "
                                                               "--batch-size stays the exact batch (contrastive: "
                                                               "GradCache; token objectives: accumulation "
                                                               "normalised per predicted token).")] = None,
             max_tokens: Annotated[Optional[int], typer.Option(help="Batches bounded by padded tokens (rows × "
                                                               "longest) instead of rows: few long proteins or "
                                                               "many short ones per step; --batch-size then caps "
                                                               "the rows.")] = None,
             positives: Positives = None, view: View = None, pretrain_label_column: PretrainLabel = None,
             negative_column: Annotated[Optional[str], typer.Option(
                 help="infonce, simclr: corpus column of one explicit negative per row (a hard negative every "
                      "anchor of the batch is contrasted with).")] = None,
             distance: Annotated[Optional[str], typer.Option(
                 help="cosine | euclidean: the d of the N-way losses' exp(-d/t) and of the triplet loss.")] = None,
             too_long: TooLong = None, v_gene_columns: VGeneColumns = None, unknown_v_genes: UnknownVGenes = None,
             organism: Organism = None,
             stream: Annotated[bool, typer.Option("--stream", help="Corpora larger than memory: tokenise once into "
                                                  "a memory-mapped Arrow cache, read batches from disk (no "
                                                  "deduplication).")] = False,
             cache_dir: Annotated[Optional[str], typer.Option(help="--stream: cache of tokenised corpora "
                                                              "(default $SEQSSL_CACHE or ~/.cache/seqssl).")] = None,
             resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out. "
                                                  + resume_note())] = False,
             tracking: Tracking = None, quiet: Quiet = False, overwrite: Overwrite = False):
    """Pretrain an encoder with a self-supervised objective and save it (transformers format)."""
    from .api import pretrain as run
    flat = {**_common(data, columns, out, seed, device, precision, alphabet, unknown_residues, pooling, quiet,
                       max_length),
            **_optim("pretrain", epochs, max_steps, batch_size, lr), "pretrain.objective": objective,
            "pretrain.weights": objective_weights, **_v_genes(v_gene_columns, unknown_v_genes, organism),
            "pretrain.init": init, "model.trust_remote_code": True if trust_remote_code else None,
            "plugins": plugin or None, "pretrain.temperature": temperature, "pretrain.mask_tokens": mask_tokens,
            "pretrain.hard_negative_beta": hard_negative_beta, "pretrain.debias_tau_plus": debias_tau_plus,
            "pretrain.checkpoint_every": checkpoint_every, "pretrain.chunk_size": chunk_size,
            "pretrain.max_tokens": max_tokens,
            "pretrain.positives": positives,
            "pretrain.view": view, "data.pretrain_label_column": pretrain_label_column, "data.too_long": too_long,
            "data.negative_column": negative_column, "pretrain.distance": distance,
            "data.stream": True if stream else None, "data.cache_dir": cache_dir,
            "tracking": _cols(tracking), "overwrite": True if overwrite else None}
    cfg = load_config(config, given_settings(nested(flat)))
    on_interrupt(f"the checkpoints in {Path(cfg.out or '.') / 'checkpoints'} (if one was written)")
    path = run(cfg, resume=resume)
    from .train.distributed import finish, is_main
    if is_main():  # under torchrun, rank 0 reports
        run_id = _run_id(path)
        typer.echo(f"encoder saved to {path} (loads with transformers.AutoModel.from_pretrained); run {run_id}")
    finish()


@app.command()
def finetune(data: Data = None, columns: Columns = None, label_column: LabelColumn = None, task: Task = None,
             encoder: Annotated[Optional[str], typer.Option(help="Encoder directory, or none.")] = None,
             trust_remote_code: TrustRemoteCode = False, head_hidden: HeadHidden = None,
             head_dropout: HeadDropout = None, plugin: Plugin = None,
             mode: Annotated[Optional[str],
                             typer.Option(help="full | probe (frozen encoder + linear model) | probe-mlp (frozen "
                                          "encoder + MLP head: --head-hidden, --head-dropout) | lora | knn | "
                                          "per-value (full, one output per value of the last column, e.g. "
                                          "each peptide) | probe+kmer (frozen embedding + k-mers, one linear "
                                          "model) | prototype (class means in the frozen embedding, per value "
                                          "of the last column) | gcn | gat (a graph network on the molecules, "
                                          "no encoder; --alphabet smiles)")] = None,
             out: Out = None,
             config: ConfigFile = None, epochs: Epochs = None, max_steps: MaxSteps = None,
             batch_size: BatchSize = None, lr: Lr = None, seed: Seed = None, device: Device = None,
             precision: Precision = None, alphabet: Alphabet = None, unknown_residues: Unknown = None,
             pooling: Pooling = None, max_length: MaxLength = None,
             group_column: Annotated[Optional[str], typer.Option()] = None,
             token_labels: TokenLabels = None, token_classes: TokenClasses = None, too_long: TooLong = None,
             split_column: SplitColumn = None, validation_column: ValidationColumn = None,
             cluster_threshold: ClusterThreshold = None, cluster_column: ClusterColumn = None,
             tracking: Tracking = None, target_column: TargetColumn = None, loss: Loss = None,
             focal_alpha: FocalAlpha = None, focal_gamma: FocalGamma = None, invalid_smiles: InvalidSmiles = None,
             encoder_lr: EncoderLr = None, select: Select = None, positive_label: PositiveLabel = None,
             v_gene_columns: VGeneColumns = None, unknown_v_genes: UnknownVGenes = None, organism: Organism = None,
             merge: Annotated[bool, typer.Option("--merge", help="lora: kept for old scripts; the merged encoder "
                                                 "is always saved now (seqssl predict reads it).")] = False,
             head: Annotated[Optional[str], typer.Option(help="mlp | classifier (transformers' head shape on the "
                                                         "first token; also writes classifier/ for "
                                                         "AutoModelForSequenceClassification).")] = None,
             split: FinetuneSplit = None, stream: FinetuneStream = False, block_rows: FinetuneBlockRows = None,
             jobs: StreamJobs = None,
             val_rows: ValRows = None, test_fraction: TestFraction = None, cache_dir: CacheDir = None,
             quiet: Quiet = False, overwrite: Overwrite = False,
             resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted fine-tuning from the best "
                                                  "model it kept, for the epochs left. " + resume_note())] = False):
    """Fine-tune an encoder on labelled data (validation split for early stopping) and save it; apply it to new
    rows with `seqssl predict --model OUT`."""
    from .api import finetune as run
    flat = {**_common(data, columns, out, seed, device, precision, alphabet, unknown_residues, pooling, quiet,
                       max_length),
            **_optim("finetune", epochs, max_steps, batch_size, lr),
            **_labelled(token_labels, token_classes, too_long, split_column, validation_column),
            **_transfer(target_column, loss, focal_alpha, focal_gamma, invalid_smiles, encoder_lr, select,
                         positive_label),
            **_cluster(cluster_threshold, cluster_column),
            **_v_genes(v_gene_columns, unknown_v_genes, organism),
            "data.label_column": label_column,
            "data.task": task, "finetune.encoder": encoder, "finetune.mode": mode,
            "model.trust_remote_code": True if trust_remote_code else None,
            "finetune.head_hidden": head_hidden, "finetune.head_dropout": head_dropout, "plugins": plugin or None,
            "data.group_column": group_column, "tracking": _cols(tracking), "finetune.merge": True if merge else None,
            "finetune.head": head, "overwrite": True if overwrite else None,
            "data.stream": True if stream else None, "data.block_rows": block_rows, "data.jobs": jobs,
            "finetune.val_rows": val_rows, "crossval.split": split, "finetune.test_fraction": test_fraction,
            "data.cache_dir": cache_dir}
    cfg = load_config(config, given_settings(nested(flat)))
    on_interrupt(f"nothing in {cfg.out} (no epoch had finished)", None)
    saved_to = run(cfg, resume=resume)
    typer.echo(f"fine-tuned model saved to {saved_to}; run {_run_id(saved_to)}")


def first_given(*values):
    """The first value that is not None (a stage's own flag before the flag that sets both stages)."""
    return next((v for v in values if v is not None), None)


def _run_id(out) -> str:
    """The id the run registry gave the run written to ``out`` (its run.json)."""
    import json
    return json.loads((Path(out) / "run.json").read_text())["id"]


@app.command()
def crossval(data: Data = None, columns: Columns = None, label_column: LabelColumn = None, task: Task = None,
             arms: Arms = None, init: Init = None, objective_weights: ObjectiveWeights = None,
             trust_remote_code: TrustRemoteCode = False, head_hidden: HeadHidden = None,
             head_dropout: HeadDropout = None, plugin: Plugin = None, folds: Folds = None,
             label_fractions: LabelFractions = None, group_column: CrossvalGroupColumn = None,
             split: CrossvalSplit = None, split_column: SplitColumn = None, validation_column: ValidationColumn = None,
             cluster_threshold: ClusterThreshold = None, cluster_column: ClusterColumn = None,
             token_labels: TokenLabels = None, token_classes: TokenClasses = None, too_long: TooLong = None,
             pretrain_data: PretrainData = None, pretrain_columns: PretrainColumns = None,
             negative_type_column: NegativeTypeColumn = None, mode: CrossvalModes = None,
             group_metric: GroupMetric = None, primary_metric: PrimaryMetric = None, out: Out = None,
             config: ConfigFile = None, epochs: Epochs = None, max_steps: BothMaxSteps = None,
             pretrain_max_steps: PretrainMaxSteps = None, finetune_max_steps: FinetuneMaxSteps = None,
             batch_size: BatchSize = None, lr: Lr = None, pretrain_epochs: PretrainEpochs = None,
             pretrain_lr: PretrainLr = None, seed: Seed = None, device: Device = None, precision: Precision = None,
             alphabet: Alphabet = None, unknown_residues: Unknown = None, pooling: Pooling = None,
             max_length: MaxLength = None, positives: Positives = None, view: View = None,
             pretrain_label_column: PretrainLabel = None, quiet: Quiet = False, target_column: TargetColumn = None,
             loss: Loss = None, focal_alpha: FocalAlpha = None, focal_gamma: FocalGamma = None,
             invalid_smiles: InvalidSmiles = None, encoder_lr: EncoderLr = None, select: Select = None,
             positive_label: PositiveLabel = None, v_gene_columns: VGeneColumns = None,
             unknown_v_genes: UnknownVGenes = None, organism: Organism = None,
             remove_duplicates: RemoveDuplicates = False, atom_features: AtomFeaturesBoth = None,
             bond_angles: BondAnglesBoth = False, jobs: Jobs = None, threads: Threads = None, repeats: Repeats = None,
             search: Search = None, overwrite: Overwrite = False, resume: CrossvalResume = False,
             list_parts: ListParts = False, part: Part = None, emit_slurm: EmitSlurm = None, slurm: Slurm = None,
             executor: Executor = None, ray_address: RayAddress = None):
    """Cross-validate pretraining arms against no pretraining and k-mers; write results and report."""
    from .api import crossval as run
    from .report import print_summary
    flat = {**_common(data, columns, out, seed, device, precision, alphabet, unknown_residues, pooling, quiet,
                       max_length),
            **_optim("finetune", epochs, None, batch_size, lr),
            **_labelled(token_labels, token_classes, too_long, split_column, validation_column),
            **_transfer(target_column, loss, focal_alpha, focal_gamma, invalid_smiles, encoder_lr, select,
                         positive_label),
            **_v_genes(v_gene_columns, unknown_v_genes, organism),
            "crossval.bond_angles": True if bond_angles else None, "crossval.atom_features": atom_features,
            "crossval.remove_duplicates": True if remove_duplicates else None, "crossval.jobs": jobs,
            "crossval.executor": executor, "crossval.ray_address": ray_address,
            "finetune.repeats": repeats, "finetune.search": search, "overwrite": True if overwrite else None,
            "threads": threads,
            "data.label_column": label_column, "data.task": task, "crossval.arms": _cols(arms), "crossval.folds": folds,
            "pretrain.init": init, "pretrain.weights": objective_weights,
            "model.trust_remote_code": True if trust_remote_code else None,
            "finetune.head_hidden": head_hidden, "finetune.head_dropout": head_dropout,
            "plugins": plugin or None,
            "crossval.label_fractions": _cols(label_fractions),
            "data.group_column": group_column, "crossval.split": split, **_cluster(cluster_threshold, cluster_column),
            "data.pretrain_data": _cols(pretrain_data), "data.pretrain_columns": _cols(pretrain_columns),
            "data.negative_type_column": negative_type_column, "crossval.modes": _cols(mode),
            "data.group_metric": group_metric, "crossval.primary_metric": primary_metric,
            "finetune.mode": mode if mode and "," not in mode else None,
            "pretrain.epochs": pretrain_epochs, "pretrain.lr": pretrain_lr,
            "pretrain.max_steps": first_given(pretrain_max_steps, max_steps),
            "finetune.max_steps": first_given(finetune_max_steps, max_steps), "pretrain.positives": positives,
            "pretrain.view": view, "data.pretrain_label_column": pretrain_label_column}
    cfg = load_config(config, given_settings(nested(flat)))
    on_interrupt(f"the finished (fold, arm) parts in {Path(cfg.out or '.') / 'parts'}")
    if list_parts or part is not None or emit_slurm is not None:
        from .evaluate.jobs import jobs_command
        for line in jobs_command(cfg, list_parts=list_parts, part=part, emit_slurm=emit_slurm, slurm=slurm):
            typer.echo(line)
        return
    results = run(cfg, resume=resume)
    assert cfg.out is not None  # run_crossval refuses to start without --out
    print_summary(results)
    typer.echo(f"results: {Path(cfg.out) / 'results.json'}, report: {Path(cfg.out) / 'report.md'} "
               f"(and report.html); run {results['run_id']}")


@app.command()
def embed(encoder: Annotated[str, typer.Option(help="Encoder directory.")],
          data: Data = None, columns: Columns = None,
          out: Annotated[str, typer.Option(
              help="Output file: .parquet, .csv or .tsv (by its suffix).")] = "embeddings.parquet",
          id_column: Annotated[Optional[str], typer.Option(help="Column used as id.")] = None,
          device: Annotated[str, typer.Option()] = "auto",
          batch_size: Annotated[int, typer.Option(min=1)] = 512, max_length: MaxLength = None,
          too_long: Annotated[str, typer.Option("--too-long", help="error | truncate (inputs longer than the "
                                                "encoder's maximum, or --max-length)")] = "error",
          v_gene_columns: VGeneColumns = None,
          organism: Annotated[str, typer.Option(help="Whose IMGT V genes: human | mouse.")] = "human",
          pooling: Pooling = None, unknown_residues: Annotated[str, typer.Option(
              "--unknown-residues", help="error | map-to-x (residues the encoder does not know).")] = "error",
          on_bad_rows: OnBadRows = "error", keep_columns: KeepColumns = "all",
          trust_remote_code: TrustRemoteCode = False,
          stream: Stream = False, block_rows: BlockRows = 65_536, resume: StreamResume = False):
    """Write pooled embeddings (id, the input's columns, emb_0..emb_{H-1}) of every row."""
    from .api import embed as run
    if data is None:
        raise InputError("no input data", fix="pass --data PATH")
    written = run(data, encoder, _cols(columns) or [], out, batch_size=batch_size, device=device, id_column=id_column,
                  max_length=max_length, too_long=too_long, v_gene_columns=_cols(v_gene_columns), organism=organism,
                  pooling=pooling, unknown_residues=unknown_residues, on_bad_rows=on_bad_rows,
                  keep_columns=_keep(keep_columns), trust_remote_code=trust_remote_code, stream=stream,
                  resume=resume, block_rows=block_rows)
    typer.echo(f"embeddings written to {written}")


def _keep(value: str) -> bool | list[str]:
    """``--keep-columns``: all → True, none → False, else the named columns."""
    return {"all": True, "none": False}.get(value.strip().lower(), _cols(value) or False)


@app.command()
def predict(model: Annotated[str, typer.Option("--model", help="A fine-tuned model directory (seqssl finetune "
                                               "--out).")],
            data: Data = None, columns: Annotated[Optional[str], typer.Option(
                help="The sequence column(s) of --data, in the model's order (default: the names it was trained "
                     "with).")] = None,
            out: Annotated[str, typer.Option(
                help="Output file: .csv, .tsv or .parquet (by its suffix).")] = "predictions.csv",
            device: Annotated[str, typer.Option()] = "auto", batch_size: Annotated[int, typer.Option(min=1)] = 512,
            unknown_residues: Annotated[Optional[str], typer.Option(
                "--unknown-residues", help="error | map-to-x (default: as the model was trained).")] = None,
            on_bad_rows: OnBadRows = "error", keep_columns: KeepColumns = "all",
            trust_remote_code: TrustRemoteCode = False,
            stream: Stream = False, block_rows: BlockRows = 65_536, resume: StreamResume = False):
    """Apply a fine-tuned model to new rows: one prediction per row (per residue for per-residue tasks), after the
    input's columns."""
    from .api import predict as run
    if data is None:
        raise InputError("no input data", fix="pass --data PATH")
    result = run(model, data, columns=_cols(columns), out=out, batch_size=batch_size, device=device,
                 on_bad_rows=on_bad_rows, unknown_residues=unknown_residues, keep_columns=_keep(keep_columns),
                 trust_remote_code=trust_remote_code, stream=stream, resume=resume, block_rows=block_rows)
    if isinstance(result, Path):  # streamed: the rows are on disk, not in memory
        import pyarrow.parquet as pq
        typer.echo(f"{pq.ParquetFile(result).metadata.num_rows} predictions written to {out} (streamed, "
                   f"{pq.ParquetFile(result).metadata.num_row_groups} blocks)")
        return
    skipped = int(result["error"].notna().sum()) if "error" in result.columns else 0
    typer.echo(f"{len(result)} predictions written to {out}" + (f" ({skipped} bad rows skipped: column error)"
                                                                if skipped else ""))


corpus_app = typer.Typer(help="Build pretraining corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("synthetic")
def corpus_synthetic(
        species: Annotated[str, typer.Option(help="human | mouse (OLGA's models)")] = "human",
        chains: Annotated[str, typer.Option(help="alpha,beta (drawn independently), or one of them")] = "alpha,beta",
        n: Annotated[int, typer.Option("--n", min=1, help="Rows drawn per chain.")] = 100_000,
        seed: Annotated[int, typer.Option(help="OLGA's random seed.")] = 0,
        background: Annotated[bool, typer.Option(help="Add the bundled real background β chains (human β only).")]
        = True,
        out: Annotated[str, typer.Option(help="Output file: .parquet, .csv or .tsv.")] = "synthetic.parquet"):
    """A synthetic TCR repertoire from OLGA's V(D)J recombination models (pip install 'seqssl\\[synthetic]'), with
    V/J genes, CDR1/CDR2 from the IMGT table and a card; pretrain on it with --v-gene-columns or its CDR columns."""
    import shlex

    from .data.synthetic import synthetic_repertoire, with_background, write_corpus
    from .io import table_output
    table_output(out)  # a wrong suffix is refused before the draws
    chosen = _cols(chains) or []
    frame, counts = synthetic_repertoire(species, chosen, n, seed)
    if background and species == "human" and "beta" in chosen:
        frame, counts = with_background(frame, counts)
    written = write_corpus(frame, counts, Path(out), species=species, chains=chosen, seed=seed,
                           command=shlex.join(["seqssl", *sys.argv[1:]]))
    typer.echo(f"{len(frame)} rows written to {written} (card: {written}.card.md)")


runs_app = typer.Typer(help="The run registry.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def runs_list(last: Annotated[int, typer.Option(help="Show the last N runs.")] = 20):
    """Table of recorded runs (finished, failed and interrupted; from the command line and from Python): id,
    command, status, objective/arms, mode, data, output directory, key metric, wall time, peak memory, date."""
    from rich.console import Console
    from rich.markup import escape  # arm names such as simclr[probe] are not rich markup
    from rich.table import Table

    from .runs import list_runs
    table = Table(title="seqssl runs")
    for col in ("id", "command", "status", "objective", "mode", "data", "out", "metric", "wall s", "peak MB", "date"):
        table.add_column(col, no_wrap=col in ("id", "date"))
    for r in list_runs()[-last:]:
        metric = ", ".join(f"{k}={v:.3f}" for k, v in list(r["metrics"].items())[:3] if isinstance(v, float))
        table.add_row(r["id"], r["command"], r.get("status", "finished"), escape(str(r["objective"])),
                      escape(str(r.get("mode") or "—")), escape(Path(str(r["data"])).name),
                      escape(str(r.get("out") or "—")), escape(metric),
                      f"{r['wall_seconds']:.0f}", f"{r['peak_memory_mb']:.0f}", r["date"][:19])
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")]):
    """Everything recorded about one run, as JSON."""
    import json

    from .runs import find_run
    typer.echo(json.dumps(find_run(run_id), indent=1))


config_app = typer.Typer(help="Inspect configurations.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(config: ConfigFile = None):
    """Print the resolved configuration (defaults, then --config FILE) as YAML."""
    typer.echo(load_config(config).to_yaml().rstrip())


evaluate_app = typer.Typer(help="Evaluate a saved encoder.", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")


@evaluate_app.command("lm")
def lm(encoder: Annotated[str, typer.Option(help="Encoder directory with an MLM head (seqssl mlm, adversarial-mlm, "
                                               "or a transformers masked-LM model).")],
       data: Annotated[str, typer.Option(help="Held-out sequences (any format --data reads).")],
       columns: Columns = None,
       mask_rate: Annotated[float, typer.Option(help="Share of each sequence's residues replaced by [MASK] (at "
                                                     "least one).")] = 0.15,
       seed: Annotated[int, typer.Option(help="Seed of the masked positions (the same for every encoder).")] = 0,
       device: Annotated[str, typer.Option()] = "auto",
       batch_size: Annotated[int, typer.Option(min=1)] = 128,
       trust_remote_code: TrustRemoteCode = False,
       out: Annotated[Optional[str], typer.Option(help="Also write the figures as JSON.")] = None):
    """Masked-token accuracy and perplexity on held-out sequences (seed 001's Table 1): one `name: value` a line."""
    import json

    from .evaluate.lm import evaluate_lm
    from .io import atomic_write_text
    result = evaluate_lm(encoder, data, _cols(columns), mask_rate, seed, device, batch_size, trust_remote_code)
    for key in ("sequences", "masked_tokens", "mask_rate", "masked_accuracy", "cross_entropy", "perplexity"):
        value = result[key]
        typer.echo(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    if out:
        atomic_write_text(out, json.dumps(result, indent=1))


@evaluate_app.command("retrieval")
def retrieval(encoder: Annotated[str, typer.Option(help="Encoder directory.")],
              data: Annotated[str, typer.Option(help="Table with query and key columns.")],
              query_column: Annotated[str, typer.Option()], key_column: Annotated[str, typer.Option()],
              k: Annotated[str, typer.Option(help="Comma-separated k values.")] = "1,5,100",
              device: Annotated[str, typer.Option()] = "auto",
              out: Annotated[Optional[str], typer.Option(help="Also write the figures as JSON.")] = None):
    """Top-k retrieval: fraction of queries whose own key ranks in the top k by cosine similarity."""
    import json

    from .evaluate.retrieval import evaluate_retrieval
    from .io import atomic_write_text
    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--k takes integers, got '{k}'", fix="e.g. --k 1,5,100") from None
    result = evaluate_retrieval(encoder, data, query_column, key_column, ks, device)
    for x in ks:
        typer.echo(f"top-{x}: {result[f'top_{x}']:.3f}  (random {result[f'random_top_{x}']:.3f}, best query-blind "
                   f"{result[f'frequency_top_{x}']:.3f}, {result['n_queries']} queries, "
                   f"{result['n_candidates']} distinct keys)")
    if out:
        atomic_write_text(out, json.dumps(result, indent=1))


@app.command()
def demo(quick: Annotated[bool, typer.Option("--quick", help="Smoke-sized run (~2 minutes).")] = False,
         out: Annotated[str, typer.Option(help="Output directory.")] = "demo-out",
         config: ConfigFile = None, seed: Seed = None, device: Device = None, quiet: Quiet = False,
         threads: Threads = None, overwrite: Overwrite = False,
         jobs: Annotated[Optional[int], typer.Option(
             "--jobs", help="Processes running (fold, arm) parts side by side, sharing the threads (default 0: one "
             "per core of a CPU run; 1: one process).")] = None):
    """SimCLR vs no pretraining vs k-mers on bundled TCR–peptide binding data, 5-fold grouped CV."""
    from .api import crossval as run
    from .demo import demo_config
    from .report import print_summary
    start = time.time()
    cfg = demo_config(quick, str(config) if config else None,
                      nested({"out": out, "seed": seed, "device": device, "quiet": True if quiet else None,
                              "threads": threads, "crossval.jobs": jobs, "overwrite": True if overwrite else None}))
    on_interrupt(f"the finished (fold, arm) parts in {Path(out) / 'parts'}",
                 ["crossval", "--config", str(Path(out) / "config.yaml"), "--resume"])
    results = run(cfg, command="demo")
    print_summary(results)
    typer.echo(f"run {results['run_id']}; wall time {time.time() - start:.0f} s; results: "
               f"{Path(out) / 'results.json'}, report: {Path(out) / 'report.md'} (and report.html), encoders: "
               f"{Path(out) / 'encoders'}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: InputError → one line on stderr and exit code 2 (no traceback); SIGINT → 130 and SIGTERM →
    143, each with one line saying what was kept and how to resume (:mod:`seqssl.interrupts`)."""
    import signal

    from .interrupts import EXIT_CODES, Terminated, interrupt_line, sigterm_raises
    argv = list(sys.argv[1:] if argv is None else argv)
    on_interrupt("nothing", None)  # until the command says what it keeps (an earlier call's note never carries over)
    renamed_keys_as_lines()
    try:
        with sigterm_raises():
            if argv and argv[0] in COMMAND_KINDS:  # their components' settings are flags: plugins first
                from .plugins import load_plugins
                load_plugins(plugins_named(argv))
            command = command_with_settings(app)
            describe_defaults(command)
            returned = command.main(args=argv, standalone_mode=False, prog_name="seqssl")
            if returned == EXIT_CODES[signal.SIGINT]:  # typer turns a KeyboardInterrupt into this return value
                raise KeyboardInterrupt
    except TrainingStopped as err:
        typer.echo(f"stopped: {err}", err=True)
        sys.exit(err.exit_code)
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo(interrupt_line(signal.SIGINT, argv), err=True)
        sys.exit(EXIT_CODES[signal.SIGINT])
    except Terminated:
        typer.echo(interrupt_line(signal.SIGTERM, argv), err=True)
        sys.exit(EXIT_CODES[signal.SIGTERM])
    except SystemExit:
        raise
    except Exception as err:  # click usage errors (typer ≥ 0.20 raises them from its own copy of click)
        usage, abort = _click_exceptions()
        if isinstance(err, usage):
            err.show()
            sys.exit(2)
        if isinstance(err, abort):
            typer.echo(interrupt_line(signal.SIGINT, argv), err=True)
            sys.exit(EXIT_CODES[signal.SIGINT])
        raise


def _click_exceptions() -> tuple[tuple, tuple]:
    """(usage-error classes, abort classes) of click and of typer's vendored click, where present."""
    import importlib
    usage, abort = [], []
    for name in ("click.exceptions", "typer._click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        usage.append(module.ClickException)
        abort += [module.Abort] if hasattr(module, "Abort") else []
    return tuple(usage), tuple(abort)
