"""A transformer encoder built from a Hugging Face ``transformers`` config, plus pooling.

Saved with ``save_pretrained`` (safetensors) together with the tokenizer and ``seqssl.json``, so
``transformers.AutoModel.from_pretrained(directory)`` loads the backbone directly.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.tokenizers import SequenceTokenizer, load_tokenizer
from ..data.vocab import CLS_ID, MASK_ID, PAD_ID, SEP_ID
from ..errors import InputError
from ..io import make_readable
from ..lengths import length_limit

POOLINGS = ("cls", "mean")
SEQSSL_META = "seqssl.json"


def transformers_config(cfg: ModelConfig, vocab_size: int) -> Any:
    """A BERT- or ESM-style ``transformers`` config of the requested size."""
    common: dict[str, Any] = dict(vocab_size=vocab_size, hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
                  num_attention_heads=cfg.num_heads, intermediate_size=cfg.intermediate_size,
                  hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.attention_dropout,
                  max_position_embeddings=length_limit(cfg) + 2, pad_token_id=PAD_ID)
    if cfg.hidden_size % cfg.num_heads:
        raise InputError(f"hidden_size {cfg.hidden_size} is not divisible by num_heads {cfg.num_heads}",
                         fix="change model.hidden_size or model.num_heads")
    if cfg.architecture == "bert":
        from transformers import BertConfig
        config: Any = BertConfig(type_vocab_size=2, **common)
    elif cfg.architecture == "esm":
        from transformers import EsmConfig
        config = EsmConfig(mask_token_id=MASK_ID, position_embedding_type="absolute", token_dropout=False,
                           **common)
    else:
        raise InputError(f"unknown architecture '{cfg.architecture}'", fix="use bert or esm")
    config._attn_implementation = cfg.attention
    return config


class SequenceEncoder(nn.Module):
    """Backbone (any ``transformers`` encoder) + pooling over tokens.

    ``pooling="cls"`` takes the first token; ``"mean"`` averages real residue positions only
    (padding, ``[CLS]`` and ``[SEP]`` excluded; ``[MASK]`` positions count as residues).
    """

    # declared for the type checker (nn.Module.__getattr__ would type them Tensor | Module): the backbone is
    # any transformers model (.config, .save_pretrained, .get_input_embeddings), input_map a buffer
    backbone: Any
    input_map: torch.Tensor | None

    def __init__(self, backbone: nn.Module, pooling: str = "cls", input_map: torch.Tensor | None = None,
                 source_tokenizer=None):
        super().__init__()
        if pooling not in POOLINGS:
            raise InputError(f"unknown pooling '{pooling}'", fix=f"use one of {POOLINGS}")
        self.backbone, self.pooling = backbone, pooling
        self.uses_segments = getattr(backbone.config, "type_vocab_size", 0) > 1
        # a model trained with another vocabulary (a user's ESM-2): seqssl's ids → the model's ids
        self.register_buffer("input_map", input_map, persistent=False)
        self.source_tokenizer = source_tokenizer

    @property
    def hidden_size(self) -> int:
        return self.backbone.config.hidden_size

    @classmethod
    def build(cls, cfg: ModelConfig, vocab_size: int) -> SequenceEncoder:
        from transformers import AutoModel
        backbone = AutoModel.from_config(transformers_config(cfg, vocab_size), add_pooling_layer=False)
        return cls(backbone, cfg.pooling)

    def token_states(self, input_ids, attention_mask, token_type_ids=None, inputs_embeds=None):
        kwargs = {"attention_mask": attention_mask}
        if self.uses_segments and token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        if inputs_embeds is not None:
            kwargs["inputs_embeds"] = inputs_embeds
        else:
            kwargs["input_ids"] = input_ids if self.input_map is None else self.input_map[input_ids]
        return self.backbone(**kwargs).last_hidden_state

    def pool(self, states: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        if self.pooling == "cls":
            return states[:, 0]
        keep = attention_mask.bool() & (input_ids != CLS_ID) & (input_ids != SEP_ID) & (input_ids != PAD_ID)
        weights = keep.to(states.dtype).unsqueeze(-1)
        return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        """Pooled embedding, shape ``(batch, hidden)``."""
        states = self.token_states(input_ids, attention_mask, token_type_ids)
        return self.pool(states, input_ids, attention_mask)

    def save(self, directory: str | Path, tokenizer: SequenceTokenizer, meta: dict | None = None) -> None:
        """``save_pretrained`` (safetensors) + tokenizer + ``seqssl.json``, written into ``directory``."""
        from transformers.utils import logging as hf_logging
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        hf_logging.disable_progress_bar()  # one tiny shard: its bar is noise
        self.backbone.save_pretrained(str(directory), safe_serialization=True)
        hf_logging.enable_progress_bar()
        tokenizer.save(directory)
        info = {"pooling": self.pooling, "alphabet": tokenizer.alphabet, **(meta or {})}
        if self.input_map is not None:  # the model's own tokenizer, so AutoTokenizer matches the weights
            info["input_map"] = self.input_map.tolist()
            if self.source_tokenizer is not None:
                self.source_tokenizer.save_pretrained(str(directory))
        (directory / SEQSSL_META).write_text(json.dumps(info, indent=1, default=str))
        make_readable(directory)  # transformers' safetensors weights are created 0600


def has_weights(directory: Path) -> bool:
    """Whether ``directory`` holds safetensors weights saved by ``save_pretrained``."""
    return any((directory / n).exists() for n in ("model.safetensors", "model.safetensors.index.json"))


def load_encoder(directory: str | Path, pooling: str | None = None) -> tuple[SequenceEncoder, SequenceTokenizer]:
    """Load a seqssl encoder directory (weights via ``from_pretrained``; nothing is unpickled)."""
    from transformers import AutoModel
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("encoder directory not found", path=str(directory),
                         fix="pass a directory written by `seqssl pretrain`, or `none`")
    if not has_weights(directory) and has_weights(directory / "encoder"):
        raise InputError("this is a fine-tuned model directory (seqssl finetune), not an encoder", path=str(directory),
                         fix=f"pass the encoder inside it: --encoder {directory / 'encoder'}")
    if not has_weights(directory):
        raise InputError("encoder directory has no model.safetensors weights", path=str(directory),
                         fix="re-run `seqssl pretrain`, or pass a directory saved with save_pretrained")
    meta_path = directory / SEQSSL_META
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if not (directory / "seqssl_tokenizer.json").exists():
        return load_transformers_encoder(directory, pooling)
    tokenizer = load_tokenizer(directory)
    backbone = AutoModel.from_pretrained(str(directory), add_pooling_layer=False, use_safetensors=True)
    input_map = torch.tensor(meta["input_map"]) if "input_map" in meta else None
    source = None
    if input_map is not None:
        from transformers import AutoTokenizer
        source = AutoTokenizer.from_pretrained(str(directory))
    return SequenceEncoder(backbone, pooling or meta.get("pooling", "cls"), input_map, source), tokenizer


def load_transformers_encoder(directory: Path, pooling: str | None = None):
    """A local ``transformers`` directory not written by seqssl (e.g. a user's ESM-2 download: config,
    safetensors weights and its tokenizer files): seqssl's protein tokenizer, with every seqssl id mapped
    to the model's own id of the same residue or special token (unknown residues to its unknown token)."""
    from transformers import AutoModel, AutoTokenizer
    try:
        source = AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError) as err:
        raise InputError(f"no seqssl tokenizer and no transformers tokenizer ({str(err).splitlines()[0]})",
                         path=str(directory), fix="pass a seqssl encoder directory or a complete transformers "
                         "model directory (config, weights and tokenizer files)") from None
    try:
        backbone = AutoModel.from_pretrained(str(directory), add_pooling_layer=False, use_safetensors=True)
    except TypeError:  # architectures without a pooling layer
        backbone = AutoModel.from_pretrained(str(directory), use_safetensors=True)
    tokenizer = SequenceTokenizer("protein")
    vocab = source.get_vocab()
    unknown = source.unk_token_id
    specials = {"[PAD]": source.pad_token_id, "[UNK]": unknown,
                "[CLS]": source.cls_token_id if source.cls_token_id is not None else source.bos_token_id,
                "[SEP]": source.sep_token_id if source.sep_token_id is not None else source.eos_token_id,
                "[MASK]": source.mask_token_id}
    mapping = [specials[t] if t in specials else vocab.get(t, unknown) for t in tokenizer.vocab]
    if any(i is None for i in mapping):
        missing = [t for t, i in zip(tokenizer.vocab, mapping) if i is None]
        raise InputError(f"the model's tokenizer has no token for {missing}", path=str(directory),
                         fix="use a tokenizer with pad, unk, cls (or bos), sep (or eos) and mask tokens")
    return SequenceEncoder(backbone, pooling or "cls", torch.tensor(mapping), source), tokenizer


@torch.no_grad()
def embed_dataset(encoder, data, device, batch_size: int = 512) -> np.ndarray:
    """Pooled embedding of every example, in dataset order, with the encoder in eval mode."""
    from ..data.collate import iterate_batches
    encoder.to(device).eval()
    out = np.zeros((len(data), encoder.hidden_size), dtype=np.float32)
    for positions, batch in iterate_batches(data, batch_size):
        batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        pooled = encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        out[positions] = pooled.float().cpu().numpy()
    return out
