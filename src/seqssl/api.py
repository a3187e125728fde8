"""The Python API: every CLI command is a thin shell over these functions, and these functions are thin
shells over the package (data → model → objective → train → transfer → evaluate)."""
from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config
from .data.dataset import EncodedDataset, encode_table, sequences_of
from .data.formats import default_columns
from .data.formats.readers import read_table, require_columns
from .data.formats.table import SequenceTable
from .data.splits import Split
from .data.tokenizers import SequenceTokenizer
from .data.tokenizers.alphabets import fit_smiles_tokenizer
from .data.v_genes import expand_columns
from .errors import InputError, Problems
from .io import atomic_write_text, claim_output, output_directory, table_output, versions, write_table
from .lengths import length_limit, size_to_data
from .models.encoder import SequenceEncoder, check_inputs, check_segments, embed_dataset, load_encoder
from .output_rows import embedding_table, input_frame, raise_bad_rows, with_input_columns, with_skipped_v_genes
from .resume import check_resume
from .runs import recorded
from .runtime import configure_process, resolve_device, seed_everything
from .tasks.labelled import LabelledData, carve, fixed_split, load_labelled, named_test_sets
from .tasks.labelled_stream import StreamedLabelled
from .tracking import Tracker
from .transfer.resumed import keep_earlier_best, resume_point, stop_after_keeping


def with_frame(cfg: Config, data) -> Config:
    """``cfg`` reading ``data`` (a pandas DataFrame) in place of ``cfg.data.path``: the frame is written once,
    atomically, to ``OUT/data.parquet`` (the run's record of what it read; errors name its rows), and a copy of
    ``cfg`` points there. ``data=None`` leaves ``cfg`` as it is."""
    if data is None:
        return cfg
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data= takes a pandas DataFrame, got {type(data).__name__}",
                         fix="pass a DataFrame, or set cfg.data.path to a file")
    out = output_directory(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "data.parquet"
    write_table(data.reset_index(drop=True), path)
    return replace(cfg, data=replace(cfg.data, path=str(path)))


def pretrain(cfg: Config, resume: bool = False, data=None) -> Path:
    """Pretrain an encoder on ``cfg.data.path`` (+ ``cfg.data.pretrain_data``), or on ``data`` (a DataFrame),
    and save it to ``cfg.out``; the run is recorded in the run registry (:func:`seqssl.runs.recorded`).

    Checkpoints go to ``cfg.out/checkpoints`` (every ``pretrain.checkpoint_every`` steps, at the end and
    on SIGINT/SIGTERM); ``resume`` continues from the newest one with identical results on CPU."""
    with recorded("pretrain", cfg):
        return _pretrain(cfg, resume, data)


def _pretrain(cfg: Config, resume: bool, data) -> Path:
    from .objectives import objective_class
    from .train.distributed import init_from_env, is_main
    from .train.pretrain import build_pretrained_encoder, corpus_files, initial_model, pretraining_corpus
    claim_output(cfg.out, resume=resume, overwrite=cfg.overwrite)
    cfg = with_frame(cfg, data)
    out = output_directory(cfg.out)
    objective = objective_class(cfg.pretrain.objective)  # a misspelt objective fails before anything is written
    if cfg.data.negative_column and not objective.takes_negatives:
        raise InputError(f"objective '{cfg.pretrain.objective}' does not read explicit negatives (--negative-column)",
                         fix="use infonce or simclr (or a sum with one), or drop --negative-column")
    configure_process(cfg.threads, cfg.quiet)
    device = resolve_device(cfg.device)
    _, world_size = init_from_env(device)  # torchrun: one process per device, rank 0 writes
    main = is_main()
    problems = Problems()  # every problem found before training, raised together
    initial, own_tokenizer = problems.must(lambda: initial_model(cfg))  # --init: continued pretraining
    if initial is not None:
        problems.check(lambda: check_segments(initial, len(corpus_files(cfg)[0][1]), cfg.pretrain.init))
        check_inputs(initial, corpus_files(cfg)[0][1], cfg.pretrain.init)
    corpus, tokenizer = problems.must(lambda: pretraining_corpus(cfg, own_tokenizer))
    problems.raise_all()
    if resume:  # before anything is written: a refused resume leaves the run as it was
        check_resume(out / "config.yaml", cfg.to_dict())
    earlier = earlier_seconds(out) if resume else 0.0
    start = time.time()
    if main:
        atomic_write_text(out / "config.yaml", cfg.to_yaml())
    tracker = Tracker(out, cfg.tracking, f"pretrain {cfg.pretrain.objective}", cfg.to_dict()) \
        if cfg.tracking and main else None
    encoder, history = build_pretrained_encoder(
        corpus, cfg, tokenizer, device=device, seed=cfg.seed, checkpoint_dir=out / "checkpoints", resume=resume,
        on_log=None if tracker is None else (lambda record: tracker.log(record, record["step"], "pretrain/")),
        encoder=initial)
    if tracker is not None:
        tracker.close({"seconds": time.time() - start, "corpus_size": len(corpus)})
    if main:
        last = history[-1] if history else {}
        encoder.save(out, tokenizer, meta={"objective": cfg.pretrain.objective, "init": cfg.pretrain.init,
                                           "corpus_size": len(corpus), "steps": last.get("step"),
                                           "final_loss": last.get("loss"),
                                           "seconds": earlier + time.time() - start, "config": cfg.to_dict(),
                                           "processes": world_size})
        atomic_write_text(out / "pretrain_history.csv", pd.DataFrame(history).to_csv(index=False))
    return out


def earlier_seconds(out: Path) -> float:
    """The seconds a resumed pretraining run had already spent: a finished run's total (its seqssl.json), else
    the training seconds its newest checkpoint recorded (0 when neither says)."""
    from .train.checkpoint import latest_checkpoint
    meta = out / "seqssl.json"
    if meta.exists():
        return float(json.loads(meta.read_text()).get("seconds") or 0.0)
    found = latest_checkpoint(out / "checkpoints")
    history = json.loads((found / "state.json").read_text()).get("history") if found is not None else None
    return float(history[-1].get("seconds", 0.0)) if history else 0.0


def embed(data, encoder: str | Path, columns: list[str] | None = None, out: str | Path | None = None, *,
          batch_size: int = 512, device: str = "auto", id_column: str | None = None, max_length: int | None = None,
          too_long: str = "error", pooling: str | None = None, v_gene_columns: list[str] | None = None,
          organism: str = "human", on_bad_rows: str = "error", unknown_residues: str = "error",
          keep_columns: bool | list[str] = True, trust_remote_code: bool = False, stream: bool = False,
          resume: bool = False, block_rows: int = 65_536):
    """Pooled embeddings (encoder in eval mode) of every row, as a NumPy array ``(rows, hidden)``.

    ``data``: a list of sequences, a pandas DataFrame or Series, or a file (any format ``--data`` reads);
    ``encoder``: a seqssl encoder directory or a local ``transformers`` model directory (its own tokenizer);
    ``columns``: one or more sequence columns (several: one segment each, ``[CLS] a [SEP] b [SEP] c [SEP]``).
    With ``out``, also written (CSV, TSV or Parquet by its suffix): ``id``, the input's columns
    (``keep_columns``: all, the named ones, or none), then ``emb_0..emb_{H-1}``; the path is returned instead.
    ``v_gene_columns``: IMGT V gene columns whose CDR1/CDR2 (``organism``'s) go before their CDR3, as in training with
    ``--v-gene-columns`` (unknown genes are an error).
    Inputs may be as long as the encoder allows (``max_length`` may lower it); longer ones are an error, or cut
    with ``too_long="truncate"``. ``on_bad_rows``: ``error`` names every bad row (the first 20) in one report;
    ``skip`` embeds the others and gives each bad row empty values and its reason (``error``).
    ``unknown_residues``: ``map-to-x`` reads unknown residues as ``X``. ``stream``: a file larger than memory,
    embedded ``block_rows`` rows at a time into a Parquet ``out`` (``resume`` continues a killed run; rows without an
    id column are numbered by their place in the file)::

        vectors = seqssl.embed(["CASSLGQAYEQYF", "CASSPDRGEQYF"], encoder="encoders/simclr")
    """
    if on_bad_rows not in ("error", "skip"):
        raise InputError(f"unknown --on-bad-rows '{on_bad_rows}'", fix="use error or skip")
    out_path = None if out is None else table_output(out)
    loaded, tokenizer = load_encoder(encoder, pooling, unknown_residues, trust_remote_code)
    if hasattr(tokenizer, "unknown"):
        tokenizer.unknown = unknown_residues
    settings = dict(encoder=encoder, columns=columns, batch_size=batch_size, device=device, id_column=id_column,
                    max_length=max_length, too_long=too_long, v_gene_columns=v_gene_columns, organism=organism,
                    on_bad_rows=on_bad_rows)
    if stream:
        from .streamed_output import streamed_rows

        def block_rows_of(table, first: int) -> pd.DataFrame:
            vectors, bad, table = embedded(loaded, tokenizer, data, table, **settings)
            rows = embedding_table(vectors, table.frame, data, id_column, bad, keep_columns)
            if not (id_column or "id" in table.frame.columns):  # numbered by their place in the file
                rows["id"] = (np.arange(len(rows)) + first).astype(str)
            return rows
        return streamed_rows(data, out_path, block_rows, resume, block_rows_of)
    vectors, bad, table = embedded(loaded, tokenizer, data, read_table(as_frame(data)), **settings)
    if out_path is None:
        return vectors
    write_table(embedding_table(vectors, table.frame, data, id_column, bad, keep_columns), out_path)
    return out_path


def embedded(loaded, tokenizer, data, table, *, encoder, columns, batch_size, device, id_column, max_length,
             too_long, v_gene_columns, organism, on_bad_rows) -> tuple[np.ndarray, list, SequenceTable]:
    """``(vectors (NaN for bad rows), the bad rows, the table with any CDR columns added)`` of one table."""
    if id_column:
        require_columns(table, [id_column])
    columns = list(columns or ([] if isinstance(data, (str, Path)) else [table.frame.columns[0]]))
    columns = default_columns(data, columns) if isinstance(data, (str, Path)) else columns
    if v_gene_columns:
        from .data.v_genes import add_cdr_columns, ordered_columns
        table = add_cdr_columns(table, v_gene_columns, organism=organism)[0]
        columns = ordered_columns(columns, v_gene_columns)
    check_segments(loaded, len(columns), encoder)
    check_inputs(loaded, columns, encoder)
    own = loaded.max_tokens
    bad: list = []
    encoded = encode_table(table, columns, tokenizer, min(max_length or own, own), too_long, bad)
    if bad and on_bad_rows == "error":
        raise_bad_rows(bad)
    good = np.setdiff1d(np.arange(len(table)), [i for i, _ in bad])
    vectors = np.full((len(table), loaded.hidden_size), np.nan, dtype=np.float32)
    vectors[good] = embed_dataset(loaded, encoded, resolve_device(device), batch_size)
    return vectors, bad, table


def as_frame(data):
    """What the API accepts for data (a list of sequences, a Series, a DataFrame, a path) in the form
    :func:`~seqssl.data.formats.readers.read_table` reads: a sequence list becomes a one-column ``sequence`` frame."""
    if isinstance(data, (str, Path, pd.DataFrame)):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name or "sequence")
    return pd.DataFrame({"sequence": [str(s) for s in data]})


def predict(model: str | Path, data, *, columns: list[str] | None = None, out: str | Path | None = None,
            batch_size: int = 512, device: str = "auto", keep_columns: bool | list[str] = True,
            on_bad_rows: str = "error", unknown_residues: str | None = None,
            trust_remote_code: bool = False, stream: bool = False, resume: bool = False,
            block_rows: int = 65_536) -> pd.DataFrame | Path:
    """Apply a fine-tuned model directory (``seqssl finetune``'s ``--out``) to new rows; returns a DataFrame.

    ``data``: a file or a DataFrame with the columns the model was trained on (``columns`` may rename them, in
    the same order); read and validated as ``finetune`` reads (file, line and column named on bad input).
    One row per input with ``y_score`` (classification: probability of label 1; regression: the value;
    multiclass: ``y_pred`` and ``p_CLASS`` per class; multilabel: one row per target), or per residue for
    token tasks (``position``, ``y_pred``). ``keep_columns``: every input column comes first (``True``; a
    DataFrame keeps its index), the named ones only (a list), or none (``False``). ``on_bad_rows``: ``error``
    names every bad row (the first 20) in one report; ``skip`` scores the good rows and gives each bad one an
    empty score and its reason in ``error``. ``unknown_residues``: ``map-to-x`` reads residues the model does
    not know as ``X`` (default: as the model was trained). With ``out`` the table is also written (CSV, TSV or
    Parquet, by its suffix). ``trust_remote_code``: a model fine-tuned from one that ships its own code runs it.
    ``stream``: a file larger than memory, read and scored ``block_rows`` rows at a time into a Parquet ``out``
    (:mod:`seqssl.streamed_output`; each block kept as it is done, so ``resume`` continues a killed run); the
    path is returned instead of the table::

        scores = seqssl.predict("models/binding", new_pairs_dataframe)
    """
    if on_bad_rows not in ("error", "skip"):
        raise InputError(f"unknown --on-bad-rows '{on_bad_rows}'", fix="use error or skip")
    out_path = None if out is None else table_output(out)
    predictor = loaded_predictor(model, device, unknown_residues, trust_remote_code)
    if stream:
        from .streamed_output import streamed_rows
        def block_rows_of(table, first: int) -> pd.DataFrame:
            rows = predicted_rows(predictor, data, table, columns, on_bad_rows, keep_columns)
            return rows.assign(row=rows["row"].to_numpy() + first)  # numbered by their place in the file
        return streamed_rows(data, out_path, block_rows, resume, block_rows_of)
    rows = predicted_rows(predictor, data, read_table(as_frame(data)), columns, on_bad_rows, keep_columns)
    if out_path is not None:
        write_table(rows, out_path)
    return rows


def loaded_predictor(model: str | Path, device: str, unknown_residues: str | None, trust_remote_code: bool) -> tuple:
    """``(fitted model, its manifest, its tokenizer)`` of a fine-tuned model directory, loaded once."""
    from .models.encoder import load_encoder_tokenizer, remote_code_trusted
    from .transfer.saved import load_fitted
    with remote_code_trusted(trust_remote_code):  # a fine-tuned custom-code model runs its code only if asked
        fitted, manifest = load_fitted(model, resolve_device(device))
    unknown = unknown_residues or manifest["unknown_residues"]
    tokenizer = load_encoder_tokenizer(Path(model) / "encoder", unknown)
    if hasattr(tokenizer, "unknown"):
        tokenizer.unknown = unknown
    return fitted, manifest, tokenizer


def predicted_rows(predictor: tuple, data, table, columns: list[str] | None, on_bad_rows: str,
                   keep_columns: bool | list[str]) -> pd.DataFrame:
    """The prediction rows of ``table`` (the input as read; ``data``: the input as given, for a DataFrame's own
    columns and index) by a :func:`loaded_predictor`, bad rows raised or kept with their reason."""
    fitted, manifest, tokenizer = predictor
    v_genes = manifest.get("v_genes")
    n_input = len(table)
    kept = np.arange(n_input)  # the input rows the table holds
    if v_genes:  # trained with --v-gene-columns: the new rows give V genes, their CDR1/CDR2 are looked up
        from .data.v_genes import add_cdr_columns
        table, kept, _ = add_cdr_columns(table, v_genes["columns"], organism=v_genes["organism"],
                                         unknown=v_genes["unknown"])
    columns = list(columns or manifest["columns"])
    if len(columns) != len(manifest["columns"]):
        raise InputError(f"the model reads {len(manifest['columns'])} sequence column(s) {manifest['columns']}, "
                         f"got {columns}", fix="pass as many --columns as the model was trained on")
    bad: list = []
    if fitted.mode.encoder_free:  # a graph network: a row is good when RDKit parses its molecule
        encoded = molecule_rows(table, columns, bad)
    else:
        encoded = encode_table(table, columns, tokenizer, manifest["max_length"], manifest["too_long"], bad)
    if bad and on_bad_rows == "error":
        raise_bad_rows(bad)
    good = np.setdiff1d(np.arange(len(table)), [i for i, _ in bad])
    encoded.meta = {**encoded.meta, **{k: manifest[k] for k in ("classes", "targets") if k in manifest}}
    if len(columns) >= 2:  # what a per-value head reads: each row's value of the last column (e.g. its peptide)
        encoded.group_keys = table.frame[columns[-1]].astype(str).str.strip().to_numpy()[good]
    fitted.task.unlabelled(encoded)
    scores = fitted.score(encoded)
    rows = fitted.task.prediction_rows(encoded, good, 0, "", scores)
    rows = rows.drop(columns=[c for c in ("fold", "arm", "y_true") if c in rows.columns])
    if bad:
        rows = pd.concat([rows, pd.DataFrame({"row": [i for i, _ in bad], "error": [e.problem for _, e in bad]})])
        rows = rows.sort_values("row", kind="stable").reset_index(drop=True)
    rows = with_input_columns(rows, input_frame(data, table.frame, kept), keep_columns, ("id", *columns))
    return with_skipped_v_genes(rows, kept, n_input, data)


def molecule_rows(table, columns: list[str], bad: list) -> EncodedDataset:
    """The rows whose molecule (first column) RDKit parses, as an :class:`EncodedDataset` of their sequences only
    (``rows``; no tokens: a graph model reads molecules); each other row is appended to ``bad`` with its error."""
    from .data.molecules import parse_smiles
    rows = sequences_of(table, columns)
    good = []
    for i, row in enumerate(rows):
        try:
            parse_smiles(row[0], where={"path": table.path, "line": table.line_of(i), "column": columns[0]})
        except InputError as err:
            bad.append((i, err))
            continue
        good.append(row)
    empty = np.zeros(0, dtype=np.int64)
    return EncodedDataset([empty] * len(good), [empty] * len(good), rows=good)


def labelled_data(cfg: Config, tokenizer=None) -> LabelledData:
    """``cfg.data.path`` read and validated for ``cfg.data.task`` (:func:`seqssl.tasks.labelled.load_labelled`);
    molecules are checked in RDKit for ``--alphabet smiles`` or molecule arms."""
    from .evaluate.arms import reads_molecules, resolve_arms
    return load_labelled(cfg, tokenizer, molecular=reads_molecules(cfg.data, resolve_arms(cfg.crossval.arms)))


def finetune_data(cfg: Config, tokenizer=None) -> LabelledData | StreamedLabelled:
    """What ``finetune`` reads: :func:`labelled_data`, or with ``--stream`` the labelled cache
    (:func:`~seqssl.tasks.labelled_stream.load_streamed`)."""
    if not cfg.data.stream:
        return labelled_data(cfg, tokenizer)
    from .tasks.labelled_stream import load_streamed
    from .transfer.modes import get_mode
    return load_streamed(cfg, tokenizer, molecular=cfg.data.alphabet == "smiles",
                         graphs=get_mode(cfg.finetune.mode).encoder_free)


def labelled_table(cfg: Config, tokenizer=None):
    """``(table, string rows, encodings, tokenizer)`` of :func:`labelled_data`: labels are in
    ``encodings.labels``, or for ``token-classification`` in ``encodings.token_labels`` with the class
    characters in ``encodings.meta["classes"]``."""
    data = labelled_data(cfg, tokenizer)
    return data.table, data.rows, data.encoded, data.tokenizer


def finetune_split(cfg: Config, data: LabelledData | StreamedLabelled) -> Split:
    """The rows ``finetune`` fits, validates on and (with a split column) tests on; streamed: see
    :func:`~seqssl.tasks.labelled_stream.streamed_split`."""
    if isinstance(data, StreamedLabelled):
        from .tasks.labelled_stream import streamed_split
        return streamed_split(data.encoded, cfg.finetune.val_fraction, cfg.finetune.val_rows, cfg.seed)
    if cfg.finetune.test_fraction:
        raise InputError("--test-fraction holds groups out by hash while streaming", fix="add --stream, or mark "
                         "test rows in --split-column")
    fixed = fixed_split(cfg, data) if cfg.data.split_column or cfg.crossval.split == "column" else None
    if fixed is None:
        return carve(data, np.arange(len(data)), cfg.finetune.val_fraction, cfg.seed)
    if fixed.val is None:
        return carve(data, fixed.train, cfg.finetune.val_fraction, cfg.seed)._replace(test=fixed.test)
    return fixed


STREAM_COUNTS = ("n_validation_rows", "invalid_smiles_skipped", "truncated_rows")  # finetune --stream's metrics.json


def finetune(cfg: Config, data=None, resume: bool = False) -> Path:
    """Fine-tune an encoder (``cfg.finetune.encoder``: a directory or ``none``) on the labelled file (or ``data``,
    a DataFrame) with a validation split for early stopping; save model, head and metrics. With
    ``--split-column``, train on its train rows and also score its test rows. The run is recorded in the run
    registry (:func:`seqssl.runs.recorded`) with its validation and test metrics.

    Interrupted (SIGINT, SIGTERM) after its first epoch, it saves the best model so far as a complete model
    directory (``metrics.json``: ``interrupted_by``) and then raises the interrupt; ``resume`` continues from that
    model for the epochs left (its weights and head; the optimiser, schedule and early-stopping counters start
    afresh, so the result is not bit for bit an uninterrupted run's)."""
    with recorded("finetune", cfg) as run:
        out = _finetune(cfg, data, resume)
        saved = json.loads((out / "metrics.json").read_text())
        run["metrics"] = {f"{prefix}_{k}": v for part, prefix in (("validation", "val"), ("test", "test"))
                          for k, v in saved.get(part, {}).items() if isinstance(v, float)}
        run["primary_metric"] = saved.get("primary_metric")
        return out


def _finetune(cfg: Config, data, resume: bool = False) -> Path:
    from .interrupts import keep_best_on_interrupt
    from .transfer.hf_export import export_sequence_classifier, exportable
    from .transfer.modes import get_mode
    from .transfer.saved import write_manifest
    claim_output(cfg.out, resume=resume, overwrite=cfg.overwrite)
    cfg = with_frame(cfg, data)
    out = output_directory(cfg.out)
    configure_process(cfg.threads, cfg.quiet)
    device = resolve_device(cfg.device)
    encoder, data = encoder_and_data(cfg)
    split, encoded = finetune_split(cfg, data), data.encoded
    assert split.val is not None  # finetune_split always has validation rows (early stopping)
    start, earlier, finetune_cfg = None, {}, cfg.finetune
    if resume:  # before anything is written: a refused resume leaves the run as it was
        start, earlier, finetune_cfg = resume_point(cfg, out, device)
    kept = copy.deepcopy(start)
    with keep_best_on_interrupt():
        fitted = get_mode(cfg.finetune.mode).configured(cfg).fit(
            encoder, encoded.subset(split.train), encoded.subset(split.val), finetune_cfg, data.task, device=device,
            precision=cfg.precision, seed=cfg.seed, progress=not cfg.quiet, desc="finetune", start=start)
    if earlier:
        keep_earlier_best(fitted, kept, earlier, cfg.finetune)
        fitted.details.update(resumed_after_epochs=earlier["epochs_run"],
                              epochs_run=earlier["epochs_run"] + fitted.details.get("epochs_run", 0))
    named = named_test_sets(cfg, data, split.test) if isinstance(data, LabelledData) else {}
    parts = [("validation", split.val), ("test", split.test), *((f"test:{k}", idx) for k, idx in named.items())]
    evaluation = {name: data.task.metrics(encoded.subset(idx).targets(), fitted.score(encoded.subset(idx)))
                  for name, idx in parts if idx is not None}
    extra = {k: encoded.meta[k] for k in ("classes", "targets") if k in encoded.meta}
    fitted.save(out, data.tokenizer, {"finetuned_on": cfg.data.path, "base_encoder": cfg.finetune.encoder,
                                      "metrics": evaluation, **extra},
                merge=cfg.finetune.merge)
    write_manifest(out, cfg, data.columns, fitted, extra, evaluation, cfg.model.max_length)
    if exportable(fitted):  # finetune.head classifier: also a transformers sequence-classification model
        export_sequence_classifier(fitted, out, data.tokenizer, extra.get("classes") or extra.get("targets"))
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    sizes = {"n_fit": int(len(split.train)), "n_validation": int(len(split.val)),
             "n_test": None if split.test is None else int(len(split.test)),
             **{k: encoded.meta[k] for k in STREAM_COUNTS if k in encoded.meta}}
    atomic_write_text(out / "metrics.json", json.dumps({**evaluation, **extra, **sizes, **fitted.details,
                                                        "primary_metric": data.task.primary_metric,
                                                        "versions": versions()}, indent=1))
    if fitted.details.get("interrupted_by"):
        stop_after_keeping(fitted.details, out, data.task.primary_metric)
    if cfg.tracking:
        tracker = Tracker(out, cfg.tracking, "finetune", cfg.to_dict())
        for record in fitted.details.get("history", []):
            tracker.log(record, record["epoch"], "finetune/")
        tracker.close({f"{part}/{k}": v for part, metrics in evaluation.items() for k, v in metrics.items()})
    return out


def encoder_and_data(cfg: Config) -> tuple[SequenceEncoder, LabelledData | StreamedLabelled]:
    """The encoder ``finetune`` trains and the labelled data read for it: a saved encoder's own tokenizer and
    maximum length (``--max-length`` may lower it); for ``none``, a random encoder (seeded with
    ``cfg.seed``) sized to the data's longest input unless ``--max-length`` is given, with a segment
    embedding per sequence column."""
    from .transfer.modes import get_mode
    problems = Problems()  # every problem found before training, raised together
    mode = problems.check(lambda: get_mode(cfg.finetune.mode).configured(cfg))
    if mode is not None and mode.encoder_free:  # refused before an encoder or a row is read
        problems.check(lambda: check_graph_mode(cfg, mode.name))
        problems.raise_all()
    if cfg.data.stream and mode is not None and not mode.streams:  # refused before the file is read
        problems.add(InputError(f"--mode {mode.name} fits every training row at once; --stream reads them batch "
                                "by batch", fix="use --mode full, lora or probe-mlp, or drop --stream"))
        problems.raise_all()
    if cfg.finetune.encoder not in (None, "", "none"):
        encoder, tokenizer = load_encoder(cfg.finetune.encoder, trust_remote_code=cfg.model.trust_remote_code)
        own = encoder.backbone.config.max_position_embeddings - 2
        cfg.model.max_length = min(cfg.model.max_length or own, own)
        expand_columns(cfg.data)
        problems.check(lambda: check_segments(encoder, len(cfg.data.columns), cfg.finetune.encoder))
        check_inputs(encoder, cfg.data.columns, cfg.finetune.encoder)
        data = problems.must(lambda: finetune_data(cfg, tokenizer))
    else:
        data = problems.must(lambda: finetune_data(cfg))
        size_to_data(cfg.model, data.encoded.lengths())
        seed_everything(cfg.seed)
        encoder = SequenceEncoder.build(cfg.model, data.tokenizer.vocab_size, len(data.columns))
    if mode is not None:
        problems.check(lambda: mode.check(data.task, data.encoded))
    problems.raise_all()
    return encoder, data



def check_graph_mode(cfg: Config, name: str) -> None:
    """``--mode gcn|gat`` reads SMILES as graphs and trains the network from scratch."""
    if cfg.data.alphabet != "smiles":
        raise InputError(f"--mode {name} reads molecules as graphs", fix="pass --alphabet smiles")
    if cfg.finetune.encoder not in (None, "", "none"):
        raise InputError(f"--mode {name} trains a graph network from scratch; it reads no encoder",
                         fix="drop --encoder (or use a sequence --mode: full, lora, probe, ...)")


def encoder_for(cfg: Config):
    """(encoder, tokenizer) named by ``cfg.finetune.encoder``: a saved directory (with its own
    tokenizer), or ``none``: a random encoder built with ``cfg.seed`` and the ``--alphabet`` tokenizer
    (for ``smiles``, fitted on the labelled table's sequence columns)."""
    source = cfg.finetune.encoder
    if source not in (None, "", "none"):
        return load_encoder(source, trust_remote_code=cfg.model.trust_remote_code)
    if cfg.data.alphabet == "text":
        raise InputError("--encoder none has no BPE vocabulary for text", fix="pass --encoder DIR")
    if cfg.data.alphabet == "smiles":
        if not cfg.data.path:
            raise InputError("no labelled data", fix="pass --data PATH")
        tokenizer = fit_smiles_tokenizer(
            [(read_table(cfg.data.path), default_columns(cfg.data.path, cfg.data.columns))])
    else:
        tokenizer = SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
    seed_everything(cfg.seed)
    model = replace(cfg.model, max_length=length_limit(cfg.model))  # unsized: the longest inputs allowed
    return SequenceEncoder.build(model, tokenizer.vocab_size), tokenizer


def crossval(cfg: Config, resume: bool = False, data=None, command: str = "crossval") -> dict:
    """Cross-validate every arm on the same folds of ``cfg.data.path`` (or ``data``, a DataFrame); write
    results.json, predictions.csv and report.md; return results.json's dict (``seqssl.evaluate.schema.Results.of``
    reads it as typed objects). ``resume``: keep the finished (fold, arm) parts of a killed
    run in ``cfg.out`` (only arms may change)."""
    from .evaluate.crossval import run_crossval
    from .report import write_report
    with recorded(command, cfg) as run:
        claim_output(cfg.out, resume=resume, overwrite=cfg.overwrite)
        finished = run_crossval(with_frame(cfg, data), resume)
        write_report(finished.results, finished.out, finished.predictions, finished.maps)
        results, primary = finished.results, finished.results.primary_metric
        run.update(metrics={f"{arm}_{primary}": body.mean.get(primary) for arm, body in results.arms.items()},
                   primary_metric=primary, run_id=results.run_id)
        return results.to_dict()
