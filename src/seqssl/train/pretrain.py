"""Pretraining from a config: the corpus files and their tokenizer, the corpus in memory or streamed from
disk, the objective around a fresh encoder, and the loop (:func:`~seqssl.train.loop.run_pretraining`)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..data.corpus import Corpus, load_corpus
from ..data.formats import default_columns
from ..data.formats.readers import expand_paths
from ..data.tokenizers.alphabets import corpus_tokenizer
from ..data.v_genes import expand_columns
from ..errors import InputError
from ..lengths import length_limit, size_to_data
from ..models.encoder import SequenceEncoder, check_segments
from ..objectives import build_objective
from ..runtime import seed_everything
from .distributed import is_main
from .loop import run_pretraining


def corpus_files(cfg) -> list[tuple[str, list[str]]]:
    """``(file, sequence columns)`` of ``--data`` and every ``--pretrain-data`` corpus (directories of shards
    expanded)."""
    paths = ([cfg.data.path] if cfg.data.path else []) + list(cfg.data.pretrain_data)
    if not paths:
        raise InputError("no pretraining data", fix="pass --data PATH")
    expand_columns(cfg.data)  # --v-gene-columns: their CDR1/CDR2 columns before their CDR3
    files = []
    for path in paths:
        columns = default_columns(path, cfg.data.columns if path == cfg.data.path else
                                  (cfg.data.pretrain_columns or cfg.data.columns[:1]))
        files += [(f, columns) for f in expand_paths(path)]
    return files


SENTENCE_PASSAGE_TOKENS = 130  # model.max_length for passages of sentences when none is set


def corpus_max_length(cfg) -> int | None:
    """The longest a corpus entry may be: the model's maximum, except for neighbouring chunks, which are
    cut to ``chunk_length`` from whole documents."""
    if cfg.pretrain.positives != "neighbours":
        return length_limit(cfg.model)
    if cfg.pretrain.chunk_unit == "sentences":  # passages of whole sentences, cut to the model's length
        cfg.model.max_length = cfg.model.max_length or SENTENCE_PASSAGE_TOKENS
        return None
    if cfg.model.max_length is None:  # the model reads chunks, not whole documents
        cfg.model.max_length = cfg.pretrain.chunk_length + 2
    if cfg.pretrain.chunk_length > cfg.model.max_length - 2:
        raise InputError(f"pretrain.chunk_length {cfg.pretrain.chunk_length} exceeds model.max_length - 2",
                         fix="lower --chunk-length or raise model.max_length")
    return None


def streamed_corpus(cfg, files: list[tuple[str, list[str]]], tokenizer, max_length: int | None):
    """``--stream``: the corpus tokenised once into a memory-mapped Arrow file (see :mod:`seqssl.data.stream`)."""
    from ..data.stream import ArrowCorpus, tokenize_to_arrow
    if cfg.pretrain.positives not in ("augment", "neighbours") or cfg.data.pretrain_label_column:
        raise InputError(f"--stream reads batches of sequences (augmented) or of documents (neighbouring chunks); "
                         f"positives '{cfg.pretrain.positives}'"
                         + (" and a label column" if cfg.data.pretrain_label_column else "") + " need the corpus "
                         "in memory", fix="drop --stream, or use --positives augment or neighbours without a label "
                         "column")
    if cfg.data.v_gene_columns:
        raise InputError("--stream reads sequence columns as they are in the files; it does not look up V genes",
                         fix="drop --stream, or add the CDR1/CDR2 columns to the files and name them in --columns")
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


def initial_model(cfg):
    """``(encoder, tokenizer)`` that ``pretrain.init`` names (weights and its own tokenizer), with
    ``model.max_length`` capped at what its position embeddings allow; ``(None, None)`` without one."""
    if not cfg.pretrain.init:
        return None, None
    from ..models.encoder import load_encoder
    encoder, tokenizer = load_encoder(cfg.pretrain.init, cfg.model.loaded_pooling, cfg.data.unknown_residues,
                                      cfg.model.trust_remote_code)
    cfg.model.max_length = min(cfg.model.max_length or encoder.max_tokens, encoder.max_tokens)
    return encoder, tokenizer


def pretraining_corpus(cfg, tokenizer=None):
    """``(corpus, tokenizer)`` of a ``seqssl pretrain`` run: in memory (deduplicated) or streamed.
    ``tokenizer``: an initial model's own (default: one for ``--alphabet``, fitted on the corpus if it must be)."""
    files = corpus_files(cfg)
    tokenizer = tokenizer or corpus_tokenizer(cfg.data, files, streamed=cfg.data.stream)
    max_length = corpus_max_length(cfg)
    if cfg.data.stream:
        if cfg.data.negative_column:
            raise InputError("--negative-column is read in memory; --stream does not carry it",
                             fix="drop --stream (or --negative-column)")
        corpus = streamed_corpus(cfg, files, tokenizer, max_length)
    else:
        parts = [load_corpus(f, columns, tokenizer, max_length, cfg.data.pretrain_label_column, cfg.data.too_long,
                             cfg.data) for f, columns in files]
        corpus = Corpus.concat(parts).deduplicated()
    size_to_data(cfg.model, corpus.lengths())
    return corpus, tokenizer


def build_pretrained_encoder(corpus, cfg, tokenizer, *, device: torch.device, seed: int, desc: str = "pretrain",
                             checkpoint_dir: Path | None = None, resume: bool = False, on_log=None, encoder=None):
    """Train ``encoder`` (default: the ``pretrain.init`` model, else a random encoder seeded with ``seed`` with a
    segment embedding per column of the corpus) with ``cfg.pretrain.objective``."""
    seed_everything(seed)
    if encoder is None and cfg.pretrain.init:
        encoder, _ = initial_model(cfg)
        seed_everything(seed)
    if encoder is None:
        encoder = SequenceEncoder.build(cfg.model, tokenizer.vocab_size, corpus.width())
    check_segments(encoder, corpus.width(), cfg.pretrain.init)
    objective = build_objective(cfg.pretrain.objective, encoder, cfg.pretrain, tokenizer.vocab_size)
    groups = corpus.group_codes() if corpus.labels is not None else None
    data = corpus.encoded if isinstance(corpus, Corpus) else corpus  # in memory, or streamed from Arrow
    history = run_pretraining(objective, data, cfg.pretrain, device=device, precision=cfg.precision,
                              seed=seed, progress=not cfg.quiet, desc=desc, groups=groups,
                              checkpoint_dir=checkpoint_dir, resume=resume, on_log=on_log,
                              tokenizer=tokenizer, max_length=cfg.model.max_length)
    encoder.extra_heads = objective.exported_heads()  # saved with the encoder (the MLM head: seqssl evaluate lm)
    return encoder.cpu(), history
