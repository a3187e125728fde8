"""The Python API: every CLI command is a thin shell over these functions."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import Config
from .data.corpus import Corpus, load_corpus
from .data.dataset import (BINARY_OUTPUT_TASKS, MULTILABEL_TASK, TOKEN_TASK, encode_table,
                           read_labels, sequences_of)
from .data.readers import expand_paths, read_table, require_columns
from .data.splits import carve_validation, column_split, default_split
from .data.tokenizers import SequenceTokenizer
from .errors import InputError
from .io import atomic_write_text, versions
from .models.encoder import SequenceEncoder, embed_dataset, load_encoder
from .objectives import build_objective
from .runtime import resolve_device, seed_everything, set_threads
from .train.distributed import init_from_env, is_main
from .train.loop import run_pretraining
from .tracking import Tracker


def _fasta_default(columns: list[str], path: str) -> list[str]:
    lower = path.lower().removesuffix(".gz")
    if not columns and lower.endswith((".fasta", ".fa", ".faa", ".fas")):
        return ["sequence"]
    if not columns and lower.endswith(".txt"):
        return ["text"]
    if not columns:
        raise InputError("no sequence column given", path=path, fix="pass --columns COL[,COL]")
    return columns


def fit_smiles_tokenizer(tables: list[tuple]):
    """A :class:`~seqssl.data.smiles.SmilesTokenizer` fitted on the ``(table, columns)`` pairs' SMILES
    (tokens outside it map to ``[UNK]``; characters that are not SMILES are reported by file, line and column)."""
    from .data.smiles import SmilesTokenizer
    located = ((s, {"path": table.path, "line": table.line_of(i), "column": c})
               for table, columns in tables for i, row in enumerate(sequences_of(table, columns))
               for c, s in zip(columns, row))
    return SmilesTokenizer.fit(located)


def corpus_tokenizer(cfg: Config, files: list[tuple[str, list[str]]], streamed: bool = False):
    """Character tokenizer for protein; for ``--alphabet text`` a BPE tokenizer trained on the corpus,
    for ``--alphabet smiles`` a SMILES vocabulary fitted on it (``streamed``: row by row from disk)."""
    if cfg.data.alphabet == "smiles" and streamed:
        from .data.smiles import SmilesTokenizer
        from .data.stream import rows_of
        return SmilesTokenizer.fit((s, {"path": f, "line": line, "column": c}) for f, columns in files
                                   for line, row in rows_of(f, columns) for c, s in zip(columns, row))
    if cfg.data.alphabet == "smiles":
        return fit_smiles_tokenizer([(read_table(f), columns) for f, columns in files])
    if cfg.data.alphabet == "text" and streamed:
        raise InputError("--stream does not train a BPE vocabulary (--alphabet text)",
                         fix="use --alphabet protein or smiles, or drop --stream")
    if cfg.data.alphabet != "text":
        return SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
    from .data.bpe import BPETokenizer
    texts = [s for f, columns in files for row in sequences_of(read_table(f), columns) for s in row]
    return BPETokenizer.train(texts, cfg.data.bpe_vocab_size)


def streamed_corpus(cfg: Config, files: list[tuple[str, list[str]]], tokenizer, max_length: int | None):
    """``--stream``: the corpus tokenised once into a memory-mapped Arrow file (see :mod:`seqssl.data.stream`)."""
    from .data.stream import ArrowCorpus, tokenize_to_arrow
    if cfg.pretrain.positives != "augment" or cfg.data.pretrain_label_column:
        raise InputError(f"--stream reads batches of augmented sequences; positives '{cfg.pretrain.positives}'"
                         + (" and a label column" if cfg.data.pretrain_label_column else "") + " need the corpus "
                         "in memory", fix="drop --stream, or use --positives augment without a label column")
    if len({len(columns) for _, columns in files}) > 1:
        raise InputError("--stream: every file must give the same number of sequence columns")
    def tokenize():
        return tokenize_to_arrow(files, tokenizer, max_length, cfg.data.too_long, cfg.data.cache_dir,
                                 progress=not cfg.quiet and is_main())
    if torch.distributed.is_initialized():  # torchrun: rank 0 writes the cache, the others then read it
        if is_main():
            tokenize()
        torch.distributed.barrier()
    return ArrowCorpus(tokenize())


def build_pretrained_encoder(corpus: Corpus, cfg: Config, tokenizer: SequenceTokenizer, *,
                             device: torch.device, seed: int, desc: str = "pretrain",
                             checkpoint_dir: Path | None = None, resume: bool = False, on_log=None):
    """Random-init an encoder with ``seed`` and train it with ``cfg.pretrain.objective``."""
    seed_everything(seed)
    encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size)
    objective = build_objective(cfg.pretrain.objective, encoder, cfg.pretrain, tokenizer.vocab_size)
    groups = corpus.group_codes() if corpus.labels is not None else None
    data = corpus.encoded if isinstance(corpus, Corpus) else corpus  # in memory, or streamed from Arrow
    history = run_pretraining(objective, data, cfg.pretrain, device=device, precision=cfg.precision,
                              seed=seed, progress=not cfg.quiet, desc=desc, groups=groups,
                              checkpoint_dir=checkpoint_dir, resume=resume, on_log=on_log,
                              tokenizer=tokenizer, max_length=cfg.model.max_length)
    return encoder.cpu(), history


def pretrain(cfg: Config, resume: bool = False) -> Path:
    """Pretrain an encoder on ``cfg.data.path`` (+ ``cfg.data.pretrain_data``) and save it to ``cfg.out``.

    Checkpoints go to ``cfg.out/checkpoints`` (every ``pretrain.checkpoint_every`` steps, at the end and
    on SIGINT/SIGTERM); ``resume`` continues from the newest one with identical results on CPU."""
    if not cfg.out:
        raise InputError("no output directory", fix="pass --out DIR")
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    _, world_size = init_from_env(device)  # torchrun: one process per device, rank 0 writes
    main = is_main()
    paths = ([cfg.data.path] if cfg.data.path else []) + list(cfg.data.pretrain_data)
    if not paths:
        raise InputError("no pretraining data", fix="pass --data PATH")
    files = []
    for path in paths:
        columns = _fasta_default(cfg.data.columns if path == cfg.data.path else
                                 (cfg.data.pretrain_columns or cfg.data.columns[:1]), path)
        files += [(f, columns) for f in expand_paths(path)]
    tokenizer = corpus_tokenizer(cfg, files, streamed=cfg.data.stream)
    # neighbouring chunks are cut to chunk_length, so whole documents may exceed the model's maximum
    max_length = None if cfg.pretrain.positives == "neighbours" else cfg.model.max_length
    if cfg.pretrain.positives == "neighbours" and cfg.pretrain.chunk_length > cfg.model.max_length - 2:
        raise InputError(f"pretrain.chunk_length {cfg.pretrain.chunk_length} exceeds model.max_length - 2",
                         fix="lower --chunk-length or raise model.max_length")
    if cfg.data.stream:
        corpus = streamed_corpus(cfg, files, tokenizer, max_length)
    else:
        parts = [load_corpus(f, columns, tokenizer, max_length, cfg.data.pretrain_label_column, cfg.data.too_long)
                 for f, columns in files]
        corpus = Corpus.concat(parts).deduplicated()
    start = time.time()
    out = Path(cfg.out)
    if main:
        atomic_write_text(out / "config.yaml", cfg.to_yaml())
    tracker = Tracker(out, cfg.tracking, f"pretrain {cfg.pretrain.objective}", cfg.to_dict()) \
        if cfg.tracking and main else None
    encoder, history = build_pretrained_encoder(
        corpus, cfg, tokenizer, device=device, seed=cfg.seed, checkpoint_dir=out / "checkpoints", resume=resume,
        on_log=None if tracker is None else (lambda record: tracker.log(record, record["step"], "pretrain/")))
    if tracker is not None:
        tracker.close({"seconds": time.time() - start, "corpus_size": len(corpus)})
    if main:
        encoder.save(out, tokenizer, meta={"objective": cfg.pretrain.objective, "corpus_size": len(corpus),
                                           "seconds": time.time() - start, "config": cfg.to_dict(),
                                           "processes": world_size})
        atomic_write_text(out / "pretrain_history.csv", pd.DataFrame(history).to_csv(index=False))
    return out


def embed(encoder_dir: str, data: str, columns: list[str], out: str, *, batch_size: int = 512,
          device: str = "auto", id_column: str | None = None) -> Path:
    """Pooled embeddings (encoder in eval mode) of every row, written as Parquet: id + emb_0..emb_{H-1}."""
    encoder, tokenizer = load_encoder(encoder_dir)
    table = read_table(data)
    if id_column:
        require_columns(table, [id_column])
    columns = _fasta_default(columns, data)
    encoded = encode_table(table, columns, tokenizer, encoder.backbone.config.max_position_embeddings - 2)
    vectors = embed_dataset(encoder, encoded, resolve_device(device), batch_size)
    if id_column:
        ids = table.frame[id_column].astype(str).to_numpy()
    elif "id" in table.frame.columns:
        ids = table.frame["id"].astype(str).to_numpy()
    else:
        ids = np.arange(len(table)).astype(str)
    frame = pd.DataFrame(vectors, columns=[f"emb_{i}" for i in range(vectors.shape[1])])
    frame.insert(0, "id", ids)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(out_path)
    return out_path


def labelled_table(cfg: Config, tokenizer=None):
    """Read ``cfg.data.path`` and return (table, string rows, encodings, tokenizer), all validated;
    labels are in ``encodings.labels``, or for ``token-classification`` in ``encodings.token_labels``
    with the class characters in ``encodings.meta["classes"]``. ``tokenizer``: an encoder's own
    (default: from ``--alphabet``; for ``smiles``, fitted on this table's sequence columns)."""
    if not cfg.data.path:
        raise InputError("no labelled data", fix="pass --data PATH")
    token_task = cfg.data.task == TOKEN_TASK
    if not cfg.data.label_column and not (token_task and cfg.data.token_labels):
        raise InputError("no label column", fix="pass --label-column COL" + (
            " (one label character per residue) or --token-labels LABELS.fasta" if token_task else ""))
    table = read_table(cfg.data.path)
    columns = _fasta_default(cfg.data.columns, cfg.data.path)
    if cfg.data.task == "pair-classification" and len(columns) != 2:
        raise InputError(f"pair-classification needs two --columns, got {columns}",
                         fix="pass --columns A,B or use --task classification")
    if token_task and len(columns) != 1:
        raise InputError(f"token-classification labels the residues of one sequence column, got {columns}",
                         fix="pass one column in --columns")
    if tokenizer is None:
        if cfg.data.alphabet == "text":
            raise InputError("labelled text needs the BPE tokenizer of a pretrained encoder",
                             fix="pretrain with --alphabet text, then pass --encoder DIR")
        if cfg.data.alphabet == "smiles":
            tokenizer = fit_smiles_tokenizer([(table, columns)])
        else:
            tokenizer = SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
    if token_task:
        return _token_table(cfg, table, columns, tokenizer)
    if cfg.data.task == MULTILABEL_TASK:
        from .data.multilabel import multilabel_targets
        table, labels, targets = multilabel_targets(table, columns, [c.strip() for c in cfg.data.label_column.split(",")],
                                                    cfg.data.target_column)
    else:
        labels, targets = read_labels(table, cfg.data.label_column, cfg.data.task), None
    skipped = 0
    if _molecular(cfg):
        table, keep, skipped = valid_molecules(table, columns if cfg.data.alphabet == "smiles" else columns[:1],
                                               cfg.data.invalid_smiles)
        labels = labels[keep]
    rows = sequences_of(table, columns)
    encoded = encode_table(table, columns, tokenizer, cfg.model.max_length, cfg.data.too_long)
    encoded.labels = labels
    if targets is not None:
        encoded.meta = {**encoded.meta, "targets": targets}
    if _molecular(cfg):
        encoded.meta = {**encoded.meta, "invalid_smiles_skipped": skipped}
    return table, rows, encoded, tokenizer


def _molecular(cfg: Config) -> bool:
    """Whether the first column holds molecules (SMILES tokenizer, or graph / fingerprint arms)."""
    from .evaluate.arms import MOLECULE_ARMS
    return cfg.data.alphabet == "smiles" or any(a in MOLECULE_ARMS for a in cfg.crossval.arms)


def valid_molecules(table, columns: list[str], policy: str):
    """``(table, kept positions, number skipped)``: every SMILES must parse in RDKit; ``policy`` error
    names the file, line, column and RDKit's reason, ``skip`` drops those rows and counts them."""
    from .data.molecules import parse_smiles
    require_columns(table, columns)
    keep = []
    for i in range(len(table)):
        try:
            for c in columns:
                parse_smiles(str(table.frame[c].iloc[i]).strip(),
                             where={"path": table.path, "line": table.line_of(i), "column": c})
        except InputError:
            if policy != "skip":
                raise
            continue
        keep.append(i)
    keep = np.asarray(keep, dtype=np.int64)
    return table.subset(keep), keep, len(table) - len(keep)


def _token_table(cfg: Config, table, columns: list[str], tokenizer):
    """:func:`labelled_table` for per-residue labels (a label column, or ``--token-labels`` FASTA)."""
    from .data.token_labels import align_token_labels, labels_from_column, labels_from_fasta, token_classes
    if cfg.data.token_labels:
        table, labels = labels_from_fasta(table, cfg.data.token_labels)
    else:
        labels = labels_from_column(table, cfg.data.label_column)
    rows = sequences_of(table, columns)
    classes = token_classes(labels, cfg.data.token_classes)
    encoded = encode_table(table, columns, tokenizer, cfg.model.max_length, cfg.data.too_long)
    encoded.token_labels = align_token_labels(labels, [r[0] for r in rows], encoded.input_ids, classes)
    encoded.meta = {**encoded.meta, "classes": classes}
    return table, rows, encoded, tokenizer


def fold_labels(encoded) -> np.ndarray:
    """Per-example labels for splitting (token tasks have none: zeros, never stratified; multilabel:
    whether any target is positive)."""
    if encoded.labels is None:
        return np.zeros(len(encoded), dtype=np.float32)
    if encoded.labels.ndim == 2:
        from .data.multilabel import stratification_labels
        return stratification_labels(encoded.labels)
    return encoded.labels


def fixed_split(cfg: Config, table) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """``(train, test, validation or None)`` from ``--split-column`` when the split is ``column``."""
    split = default_split_for(cfg)
    if split != "column":
        if cfg.data.split_column:
            raise InputError(f"--split-column is used by --split column, not --split {split}",
                             fix="drop --split or pass --split column")
        return None
    if not cfg.data.split_column:
        raise InputError("--split column needs --split-column COL", fix="name the column holding train/test")
    return column_split(table, cfg.data.split_column, cfg.data.validation_column)


def finetune(cfg: Config) -> Path:
    """Fine-tune an encoder (``cfg.finetune.encoder``-style: a directory or ``none``) on the whole
    labelled file with a validation split for early stopping; save model, head and metrics. With
    ``--split-column``, train on its train rows and also score its test rows."""
    from safetensors.torch import save_file

    from .evaluate.metrics import task_metrics
    from .transfer.finetune import fine_tune, predict
    if not cfg.out:
        raise InputError("no output directory", fix="pass --out DIR")
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    encoder, tokenizer = encoder_for(cfg)
    cfg.model.max_length = min(cfg.model.max_length, encoder.backbone.config.max_position_embeddings - 2)
    table, rows, encoded, tokenizer = labelled_table(cfg, tokenizer)
    task = cfg.data.task
    stratify = task in BINARY_OUTPUT_TASKS
    if cfg.data.group_column:
        require_columns(table, [cfg.data.group_column])
    groups = table.frame[cfg.data.group_column].astype(str).to_numpy() if cfg.data.group_column else None
    labels = fold_labels(encoded)
    fixed = fixed_split(cfg, table) if cfg.data.split_column or cfg.crossval.split == "column" else None
    test_idx = None
    if fixed is None:
        fit_idx, val_idx = carve_validation(np.arange(len(encoded)), labels, groups,
                                            cfg.finetune.val_fraction, cfg.seed, stratify)
    elif fixed[2] is None:
        fit_idx, val_idx = carve_validation(fixed[0], labels, groups, cfg.finetune.val_fraction, cfg.seed, stratify)
        test_idx = fixed[1]
    else:
        fit_idx, test_idx, val_idx = fixed
    out = Path(cfg.out)
    extra = {"classes": encoded.meta["classes"]} if "classes" in encoded.meta else {}
    if cfg.finetune.mode == "probe":
        from .transfer.probe import fit_probe
        model, info = fit_probe(encoder, encoded.subset(fit_idx), encoded.subset(val_idx), task, device=device,
                                seed=cfg.seed)
        score = model.predict
    else:
        if cfg.finetune.mode == "lora":
            from .transfer.lora import with_lora
            encoder = with_lora(encoder, cfg.finetune)
        model, info = fine_tune(encoder, encoded.subset(fit_idx), encoded.subset(val_idx), cfg.finetune,
                                task, device=device, precision=cfg.precision, seed=cfg.seed,
                                progress=not cfg.quiet)
        score = lambda part: predict(model, part, task, device)  # noqa: E731
    evaluation = {}
    for name, idx in (("validation", val_idx), ("test", test_idx)):
        if idx is not None:
            part = encoded.subset(idx)
            evaluation[name] = task_metrics(task, part.targets(), score(part))
    if cfg.finetune.mode == "lora":
        from .transfer.lora import save_lora
        save_lora(model.encoder, out, tokenizer, cfg.finetune.merge,
                  meta={"finetuned_on": cfg.data.path, "base_encoder": cfg.finetune.encoder, **extra})
    else:
        model.encoder.save(out / "encoder", tokenizer, meta={"finetuned_on": cfg.data.path, **extra})
    if cfg.finetune.mode == "probe":
        model.save(out)  # probe.safetensors + probe.json; the encoder is the unchanged input encoder
    else:
        save_file({k: v.contiguous().cpu() for k, v in model.head.state_dict().items()},
                  str(out / "head.safetensors"))
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    sizes = {"n_fit": int(len(fit_idx)), "n_validation": int(len(val_idx)),
             "n_test": None if test_idx is None else int(len(test_idx))}
    atomic_write_text(out / "metrics.json", json.dumps({**evaluation, **extra, **sizes, **info,
                                                        "versions": versions()}, indent=1))
    if cfg.tracking:
        tracker = Tracker(out, cfg.tracking, "finetune", cfg.to_dict())
        for record in info.get("history", []):
            tracker.log(record, record["epoch"], "finetune/")
        tracker.close({f"{part}/{k}": v for part, metrics in evaluation.items() for k, v in metrics.items()})
    return out


def encoder_for(cfg: Config):
    """(encoder, tokenizer) named by ``cfg.finetune.encoder``: a saved directory (with its own
    tokenizer), or ``none``: a random encoder built with ``cfg.seed`` and the ``--alphabet`` tokenizer
    (for ``smiles``, fitted on the labelled table's sequence columns)."""
    source = cfg.finetune.encoder
    if source in (None, "", "none"):
        if cfg.data.alphabet == "text":
            raise InputError("--encoder none has no BPE vocabulary for text", fix="pass --encoder DIR")
        if cfg.data.alphabet == "smiles":
            if not cfg.data.path:
                raise InputError("no labelled data", fix="pass --data PATH")
            tokenizer = fit_smiles_tokenizer([(read_table(cfg.data.path),
                                               _fasta_default(cfg.data.columns, cfg.data.path))])
        else:
            tokenizer = SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
        seed_everything(cfg.seed)
        return SequenceEncoder.build(cfg.model, tokenizer.vocab_size), tokenizer
    return load_encoder(source)


def crossval(cfg: Config, resume: bool = False) -> dict:
    """Cross-validate every arm on the same folds; write results.json, predictions.csv and report.md.
    ``resume``: keep the finished (fold, arm) parts of a killed run in ``cfg.out`` (only arms may change)."""
    from .evaluate.crossval import run_crossval
    return run_crossval(cfg, resume)


def default_split_for(cfg: Config) -> str:
    return cfg.crossval.split or default_split(cfg.data.task, cfg.data.group_column is not None,
                                               cfg.data.split_column is not None)
