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
from .data.dataset import encode_table, read_labels, sequences_of
from .data.readers import expand_paths, read_table, require_columns
from .data.splits import carve_validation, default_split
from .data.tokenizers import SequenceTokenizer
from .errors import InputError
from .io import atomic_write_text, versions
from .models.encoder import SequenceEncoder, embed_dataset, load_encoder
from .objectives import build_objective
from .runtime import resolve_device, seed_everything, set_threads
from .train.loop import run_pretraining


def _fasta_default(columns: list[str], path: str) -> list[str]:
    lower = path.lower().removesuffix(".gz")
    if not columns and lower.endswith((".fasta", ".fa", ".faa", ".fas")):
        return ["sequence"]
    if not columns and lower.endswith(".txt"):
        return ["text"]
    if not columns:
        raise InputError("no sequence column given", path=path, fix="pass --columns COL[,COL]")
    return columns


def corpus_tokenizer(cfg: Config, files: list[tuple[str, list[str]]]):
    """Character tokenizer for protein; for ``--alphabet text`` a BPE tokenizer trained on the corpus."""
    if cfg.data.alphabet != "text":
        return SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
    from .data.bpe import BPETokenizer
    texts = [s for f, columns in files for row in sequences_of(read_table(f), columns) for s in row]
    return BPETokenizer.train(texts, cfg.data.bpe_vocab_size)


def build_pretrained_encoder(corpus: Corpus, cfg: Config, tokenizer: SequenceTokenizer, *,
                             device: torch.device, seed: int, desc: str = "pretrain",
                             checkpoint_dir: Path | None = None, resume: bool = False):
    """Random-init an encoder with ``seed`` and train it with ``cfg.pretrain.objective``."""
    seed_everything(seed)
    encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size)
    objective = build_objective(cfg.pretrain.objective, encoder, cfg.pretrain, tokenizer.vocab_size)
    groups = corpus.group_codes() if corpus.labels is not None else None
    history = run_pretraining(objective, corpus.encoded, cfg.pretrain, device=device, precision=cfg.precision,
                              seed=seed, progress=not cfg.quiet, desc=desc, groups=groups,
                              checkpoint_dir=checkpoint_dir, resume=resume)
    return encoder.cpu(), history


def pretrain(cfg: Config, resume: bool = False) -> Path:
    """Pretrain an encoder on ``cfg.data.path`` (+ ``cfg.data.pretrain_data``) and save it to ``cfg.out``.

    Checkpoints go to ``cfg.out/checkpoints`` (every ``pretrain.checkpoint_every`` steps, at the end and
    on SIGINT/SIGTERM); ``resume`` continues from the newest one with identical results on CPU."""
    if not cfg.out:
        raise InputError("no output directory", fix="pass --out DIR")
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    paths = ([cfg.data.path] if cfg.data.path else []) + list(cfg.data.pretrain_data)
    if not paths:
        raise InputError("no pretraining data", fix="pass --data PATH")
    files = []
    for path in paths:
        columns = _fasta_default(cfg.data.columns if path == cfg.data.path else
                                 (cfg.data.pretrain_columns or cfg.data.columns[:1]), path)
        files += [(f, columns) for f in expand_paths(path)]
    tokenizer = corpus_tokenizer(cfg, files)
    # neighbouring chunks are cut to chunk_length, so whole documents may exceed the model's maximum
    max_length = None if cfg.pretrain.positives == "neighbours" else cfg.model.max_length
    if cfg.pretrain.positives == "neighbours" and cfg.pretrain.chunk_length > cfg.model.max_length - 2:
        raise InputError(f"pretrain.chunk_length {cfg.pretrain.chunk_length} exceeds model.max_length - 2",
                         fix="lower --chunk-length or raise model.max_length")
    parts = [load_corpus(f, columns, tokenizer, max_length, cfg.data.pretrain_label_column, cfg.data.too_long)
             for f, columns in files]
    corpus = Corpus.concat(parts).deduplicated()
    start = time.time()
    out = Path(cfg.out)
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    encoder, history = build_pretrained_encoder(corpus, cfg, tokenizer, device=device, seed=cfg.seed,
                                                checkpoint_dir=out / "checkpoints", resume=resume)
    encoder.save(out, tokenizer, meta={"objective": cfg.pretrain.objective, "corpus_size": len(corpus),
                                       "seconds": time.time() - start, "config": cfg.to_dict()})
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
    labels are in ``encodings.labels``. ``tokenizer``: an encoder's own (default: from ``--alphabet``)."""
    if not cfg.data.path:
        raise InputError("no labelled data", fix="pass --data PATH")
    if not cfg.data.label_column:
        raise InputError("no label column", fix="pass --label-column COL")
    table = read_table(cfg.data.path)
    columns = _fasta_default(cfg.data.columns, cfg.data.path)
    if cfg.data.task == "pair-classification" and len(columns) != 2:
        raise InputError(f"pair-classification needs two --columns, got {columns}",
                         fix="pass --columns A,B or use --task classification")
    if tokenizer is None:
        if cfg.data.alphabet == "text":
            raise InputError("labelled text needs the BPE tokenizer of a pretrained encoder",
                             fix="pretrain with --alphabet text, then pass --encoder DIR")
        tokenizer = SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
    rows = sequences_of(table, columns)
    labels = read_labels(table, cfg.data.label_column, cfg.data.task)
    encoded = encode_table(table, columns, tokenizer, cfg.model.max_length, cfg.data.too_long)
    encoded.labels = labels
    return table, rows, encoded, tokenizer


def finetune(cfg: Config) -> Path:
    """Fine-tune an encoder (``cfg.finetune.encoder``-style: a directory or ``none``) on the whole
    labelled file with a validation split for early stopping; save model, head and metrics."""
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
    stratify = cfg.data.task != "regression"
    if cfg.data.group_column:
        require_columns(table, [cfg.data.group_column])
    groups = table.frame[cfg.data.group_column].astype(str).to_numpy() if cfg.data.group_column else None
    fit_idx, val_idx = carve_validation(np.arange(len(encoded)), encoded.labels, groups,
                                        cfg.finetune.val_fraction, cfg.seed, stratify)
    model, info = fine_tune(encoder, encoded.subset(fit_idx), encoded.subset(val_idx), cfg.finetune,
                            cfg.data.task, device=device, precision=cfg.precision, seed=cfg.seed,
                            progress=not cfg.quiet)
    scores = predict(model, encoded.subset(val_idx), cfg.data.task, device)
    metrics = task_metrics(cfg.data.task, encoded.labels[val_idx], scores)
    out = Path(cfg.out)
    model.encoder.save(out / "encoder", tokenizer, meta={"finetuned_on": cfg.data.path})
    save_file({k: v.contiguous().cpu() for k, v in model.head.state_dict().items()}, str(out / "head.safetensors"))
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    atomic_write_text(out / "metrics.json", json.dumps({"validation": metrics, **info, "versions": versions()},
                                                       indent=1))
    return out


def encoder_for(cfg: Config):
    """(encoder, tokenizer) named by ``cfg.finetune.encoder``: a saved directory (with its own
    tokenizer), or ``none``: a random encoder built with ``cfg.seed`` and the ``--alphabet`` tokenizer."""
    source = cfg.finetune.encoder
    if source in (None, "", "none"):
        if cfg.data.alphabet == "text":
            raise InputError("--encoder none has no BPE vocabulary for text", fix="pass --encoder DIR")
        tokenizer = SequenceTokenizer(cfg.data.alphabet, cfg.data.unknown_residues)
        seed_everything(cfg.seed)
        return SequenceEncoder.build(cfg.model, tokenizer.vocab_size), tokenizer
    return load_encoder(source)


def crossval(cfg: Config) -> dict:
    """Cross-validate every arm on the same folds; write results.json, predictions.csv and report.md."""
    from .evaluate.crossval import run_crossval
    return run_crossval(cfg)


def default_split_for(cfg: Config) -> str:
    return cfg.crossval.split or default_split(cfg.data.task, cfg.data.group_column is not None)
