"""``--arms model:PATH``: a model the user already has (a seqssl encoder directory, or any local
``transformers`` model with its own tokenizer: ESM-2, ProtBert, a ChemBERTa-style RoBERTa) transferred in
every mode on the same folds as the other arms.

The labelled rows are re-tokenised once per run by the model's own tokenizer
(:class:`~seqssl.data.tokenizers.model_tokenizer.ModelTokenizer`); labels, groups and row order are those of the run's
data, so the arm's scores line up with every other arm's. The model is not pretrained per fold, so the
pretraining-leakage accounting of the other encoder arms does not apply to it: what it saw before is its
authors' to state (the report says so).
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import replace
from pathlib import Path

from ...data.dataset import EncodedDataset, encode_table
from ...errors import InputError
from ...models.encoder import check_inputs, check_segments, load_encoder
from .base import RunContext
from .encoders import EncoderArm

PREFIX = "model:"
LOADED = "loaded model"  # where own_run keeps the model it loaded


def readable_name(path: Path) -> str:
    """The directory's name (``esm2_t6_8M``), as the arm's name in tables."""
    return path.resolve().name


def config_hash(path: Path) -> str | None:
    """SHA-256 of the model's ``config.json``: which model this was, short of hashing every weight."""
    config = path / "config.json"
    return hashlib.sha256(config.read_bytes()).hexdigest() if config.exists() else None


class ModelArm(EncoderArm):
    """The model in ``path`` with its own tokenizer; named after its directory."""

    def __init__(self, path: str, name: str | None = None):
        from ...models.bundled import BUNDLED, model_directory
        self.path = model_directory(path)
        if path in BUNDLED:  # model:builtin-tcr is named so in the tables, not after its package directory
            name = name or path
        if not self.path.is_dir():
            raise InputError(f"model directory '{path}' not found", fix="--arms model:PATH takes a directory "
                             "written by `seqssl pretrain` or by transformers' save_pretrained")
        self.name = name or readable_name(self.path)

    def check(self, task):
        if not task.per_token:
            return
        from ...data.tokenizers.model_tokenizer import ModelTokenizer
        if (self.path / "seqssl_tokenizer.json").exists():
            return
        if not ModelTokenizer.from_directory(self.path).per_residue:
            raise InputError(f"{PREFIX}{self.path}: its tokenizer does not read one token per residue, so "
                             f"per-residue labels cannot be placed on its tokens", fix="use a residue-level model")

    def loaded(self, run: RunContext) -> tuple:
        """``(model, its tokenizer, the run's rows in its tokens)``, loaded and tokenised once per run (the
        up-front checks do it first: a model with too few segments, or a tokenizer that cannot read the data,
        is refused before any fold)."""
        key = ("model", str(self.path))
        if key not in run.cache:
            encoder, tokenizer = load_encoder(self.path, run.cfg.model.loaded_pooling, run.cfg.data.unknown_residues,
                                              run.cfg.model.trust_remote_code)
            check_segments(encoder, len(run.data.columns), self.path)
            check_inputs(encoder, run.data.columns, self.name)
            run.cache[key] = (encoder, tokenizer, own_encoding(run, tokenizer, encoder.max_tokens, self.name))
        return run.cache[key]

    def check_run(self, run, modes):
        return [lambda: self.loaded(run), *super().check_run(run, modes)]

    def own_run(self, run: RunContext) -> RunContext:
        """``run`` as this model sees it: the same rows, labels and folds, tokenised by the model's own
        tokenizer and as long as it allows."""
        encoder, tokenizer, encoded = self.loaded(run)
        cfg = copy.deepcopy(run.cfg)
        cfg.model.max_length = encoder.max_tokens
        data = copy.copy(run.data)
        data.tokenizer, data.encoded = tokenizer, encoded
        return replace(run, cfg=cfg, data=data, cache={LOADED: encoder})

    def encoder(self, run, fold):
        """A copy of the loaded model (``run`` is :meth:`own_run`'s)."""
        return copy.deepcopy(run.cache[LOADED]), {"model": self.provenance()}

    def prepare(self, run, fold):
        return super().prepare(self.own_run(run), fold)

    def fit(self, run, fold, unit, state):
        return super().fit(self.own_run(run), fold, unit, state)

    def provenance(self) -> dict:
        return {"path": str(self.path.resolve()), "config_sha256": config_hash(self.path),
                "pretraining_leakage": "not accounted: an external model's pretraining data is its authors'"}


def own_encoding(run: RunContext, tokenizer, max_tokens: int, name: str) -> EncodedDataset:
    """The run's rows tokenised by ``tokenizer``, with the run's labels, groups and metadata."""
    data = run.data
    encoded = encode_table(data.table, data.columns, tokenizer, max_tokens, run.cfg.data.too_long)
    original = data.encoded
    if original.token_labels is not None and not all(
            len(a) == len(b) for a, b in zip(encoded.input_ids, original.input_ids)):
        raise InputError(f"arm {name}: its tokenizer does not place one token per residue with one leading "
                         "special token, so per-residue labels cannot be aligned", fix="use a residue-level model")
    return EncodedDataset(encoded.input_ids, encoded.token_type_ids, original.labels,
                          {**original.meta, **encoded.meta}, original.token_labels, original.group_keys,
                          original.rows)
