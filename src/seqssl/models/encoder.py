"""A transformer encoder built from a Hugging Face ``transformers`` config, plus pooling.

Saved with ``save_pretrained`` (safetensors) together with the tokenizer and ``seqssl.json``, so
``transformers.AutoModel.from_pretrained(directory)`` loads the backbone directly.
"""
from __future__ import annotations

import contextvars
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.tokenizers import SequenceTokenizer, load_tokenizer
from ..data.tokenizers.model_tokenizer import REMOTE_CODE_FIX
from ..data.tokenizers.vocab import CLS_ID, MASK_ID, PAD_ID, SEP_ID
from ..errors import InputError
from ..io import make_readable
from ..lengths import length_limit
from .card import model_card, write_sentence_transformers_layout

POOLINGS = ("cls", "mean")
SEQSSL_META = "seqssl.json"


def transformers_config(cfg: ModelConfig, vocab_size: int, segments: int = 2) -> Any:
    """A BERT- or ESM-style ``transformers`` config of the requested size; BERT gets a segment (token type)
    embedding per sequence column (:func:`segment_count`; ESM has none: columns are told apart by separators)."""
    common: dict[str, Any] = dict(vocab_size=vocab_size, hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
                  num_attention_heads=cfg.num_heads, intermediate_size=cfg.intermediate_size,
                  hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.attention_dropout,
                  max_position_embeddings=length_limit(cfg) + 2, pad_token_id=PAD_ID)
    if cfg.hidden_size % cfg.num_heads:
        raise InputError(f"hidden_size {cfg.hidden_size} is not divisible by num_heads {cfg.num_heads}",
                         fix="change model.hidden_size or model.num_heads")
    if cfg.architecture == "bert":
        from transformers import BertConfig
        config: Any = BertConfig(type_vocab_size=segment_count(cfg, segments), **common)
    elif cfg.architecture == "esm":
        from transformers import EsmConfig
        config = EsmConfig(mask_token_id=MASK_ID, position_embedding_type="absolute", token_dropout=False,
                           **common)
    else:
        raise InputError(f"unknown architecture '{cfg.architecture}'", fix="use bert or esm")
    config._attn_implementation = cfg.attention
    return config


def segment_count(cfg: ModelConfig, columns: int) -> int:
    """A new BERT encoder's segment embeddings: ``model.segments`` when set, else one per sequence column, and
    never fewer than the columns or than BERT's two (so one and two columns give the encoders they always did)."""
    if cfg.segments is not None and cfg.segments < 1:
        raise InputError(f"model.segments must be at least 1, got {cfg.segments}",
                         fix="leave it unset (one per sequence column) or set the most columns the encoder reads")
    return max(2, columns, cfg.segments or 0)


def check_segments(encoder: SequenceEncoder, columns: int, source: str | Path | None = None) -> None:
    """A loaded encoder must have a segment embedding per sequence column it is given (a model without token
    types, ESM or RoBERTa, reads any number: its columns are told apart by separators)."""
    if encoder.segments is None or columns <= encoder.segments:
        return
    raise InputError(f"the encoder has {encoder.segments} segment (token type) embeddings, so it reads at most "
                     f"{encoder.segments} sequence columns; {columns} were given", path=None if source is None
                     else str(source), fix="pass fewer --columns (join some into one column), or use an encoder "
                     f"with at least {columns} token types: `seqssl pretrain` on {columns} columns (or with "
                     f"model.segments: {columns} in --config), --encoder none, or a model without token types (ESM)")


def check_inputs(encoder: SequenceEncoder, columns: list[str], source: str | Path | None = None) -> None:
    """Warn, once and loudly, when an encoder meets less than it was trained on (fewer sequence columns, or no
    V-gene CDR1/CDR2 where it read them; columns after the trained ones, such as a peptide, are what its spare
    segments are for): its embeddings of such inputs are not what it learned (the bundled ``builtin-tcr`` reads
    CDR1β | CDR2β | CDR3β; a CDR3 alone gives embeddings with a cosine of 0.06–0.21 to the right ones)."""
    import warnings

    from .card import CDR_SUFFIXES
    trained = encoder.trained_inputs
    if not trained:
        return
    expected, genes = trained["columns"], trained["v_gene_columns"]
    missing_cdrs = bool(genes) and not any(c.endswith(CDR_SUFFIXES) for c in columns)
    misplaced = misplaced_columns(encoder, expected, columns)
    if (len(columns) >= len(expected) or len(columns) in encoder.segment_layouts) and not missing_cdrs \
            and not misplaced:
        return  # the same inputs, more after them (a peptide in the segment after the receptor's), or a layout's
    fix = (f"--v-gene-columns {','.join(genes)} (Python: v_gene_columns=) with the V gene and CDR3 columns"
           if missing_cdrs else f"give {len(expected)} columns in this order: {' | '.join(expected)}")
    if misplaced:
        fix = f"{'; '.join(misplaced)}; {fix}"
    warnings.warn(f"seqssl: the encoder {source or ''} was trained on {' | '.join(expected)} and is given "
                  f"{' | '.join(columns)}: its embeddings of these inputs are not what it learned (fix: {fix})",
                  UserWarning, stacklevel=2)


def misplaced_columns(encoder: SequenceEncoder, expected: list[str], columns: list[str]) -> list[str]:
    """Columns that land in a segment trained on another kind of input, as far as names tell: a CDR1 where a CDR2
    (or a CDR3) was, or another chain (``v_a_gene_cdr1`` where ``v_b_gene_cdr1`` was; an α-only input sent to a
    paired encoder's β segments). Columns whose names say neither (a CDR3 called ``x``) are not judged."""
    from ..data.v_genes import chain_hint
    from .card import CDR_SUFFIXES
    slots = encoder.segment_layouts.get(len(columns), list(range(len(columns))))

    def kind(name: str) -> str:
        return next((suffix for suffix in CDR_SUFFIXES if name.endswith(suffix)), "")

    found = []
    for given, slot in zip(columns, slots):
        if slot >= len(expected):
            continue
        trained = expected[slot]
        hints = {chain_hint(given), chain_hint(trained)}
        if kind(given) != kind(trained) or hints == {"a", "b"}:
            found.append(f"{given} is read in the segment trained on {trained}")
    return found


class SequenceEncoder(nn.Module):
    """Backbone (any ``transformers`` encoder) + pooling over tokens.

    ``pooling="cls"`` takes the first token; ``"mean"`` averages real residue positions only
    (padding, ``[CLS]`` and ``[SEP]`` excluded; ``[MASK]`` positions count as residues).
    """

    # declared for the type checker (nn.Module.__getattr__ would type them Tensor | Module): the backbone is
    # any transformers model (.config, .save_pretrained, .get_input_embeddings), input_map a buffer
    backbone: Any
    input_map: torch.Tensor | None

    def __init__(self, backbone: nn.Module, pooling: str = "cls", input_map: torch.Tensor | None = None):
        super().__init__()
        self.trained_inputs: dict | None = None  # what a loaded encoder was trained on (seqssl.json), if it says
        self.segment_layouts: dict[int, list[int]] = {}  # column count → segment of each column (see set_layouts)
        # heads pretraining trained beside the encoder, saved next to it (file stem → tensors: the MLM head)
        self.extra_heads: dict[str, dict[str, torch.Tensor]] = {}
        self.register_buffer("layout_table", None, persistent=False)
        if pooling not in POOLINGS:
            raise InputError(f"unknown pooling '{pooling}'", fix=f"use one of {POOLINGS}")
        from .kernels import use_fused_kernels  # (imports transformers: only once a backbone exists)
        self.backbone, self.pooling = use_fused_kernels(backbone), pooling
        self.uses_segments = getattr(backbone.config, "type_vocab_size", 0) > 1
        # a model with its own tokenizer (ModelTokenizer): seqssl's ids → the model's ids
        self.register_buffer("input_map", input_map, persistent=False)

    @property
    def hidden_size(self) -> int:
        return self.backbone.config.hidden_size

    @property
    def max_tokens(self) -> int:
        """The longest input (special tokens included) the position embeddings allow."""
        return int(self.backbone.config.max_position_embeddings) - 2

    def token_embedding_matrix(self) -> torch.Tensor:
        """The input embeddings, one row per seqssl id (re-ordered for a model with its own tokenizer)."""
        weight = self.backbone.get_input_embeddings().weight
        return weight if self.input_map is None else weight[self.input_map]

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of seqssl ids (what the backbone's embedding layer gives the model's ids)."""
        ids = input_ids if self.input_map is None else self.input_map[input_ids]
        return self.backbone.get_input_embeddings()(ids)

    def set_layouts(self, layouts: dict[int, list[int]] | None) -> None:
        """Where an input of ``n`` sequence columns goes: ``layouts[n][i]`` is the segment of column ``i``
        (columns map to segments by position when ``n`` is not listed). A paired α/β encoder reads CDR1α, CDR2α,
        CDR3α, CDR1β, CDR2β, CDR3β, peptide; its layouts send β-only inputs (CDR1β, CDR2β, CDR3β[, peptide])
        to the β and peptide segments, so one encoder serves paired and β-only data. Checked against the
        model's segment count; stored in ``seqssl.json`` as ``segment_layouts``."""
        layouts = {int(n): [int(s) for s in cols] for n, cols in (layouts or {}).items()}
        segments = self.segments or 0
        for n, cols in layouts.items():
            if len(cols) != n or n > segments or any(not 0 <= s < segments for s in cols):
                raise InputError(f"segment layout for {n} columns {cols} does not fit an encoder of {segments} "
                                 "segments", fix="give one segment in 0..segments-1 per column")
        self.segment_layouts = layouts
        if not layouts:
            self.layout_table = None
            return
        width = max(segments, max(layouts) + 1)
        table = torch.arange(width).repeat(width + 1, 1)  # row n: the identity (position = segment) ...
        for n, cols in layouts.items():
            table[n, :n] = torch.tensor(cols)  # ... except the listed column counts
        self.layout_table = table.to(self.backbone.device)

    def placed_segments(self, token_type_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``token_type_ids`` (column numbers) moved to the segments of :meth:`set_layouts`, per row: a row's
        column count is one more than its largest column number (every column ends with ``[SEP]``), so rows
        of different widths can share a batch."""
        if self.layout_table is None:
            return token_type_ids
        table = self.layout_table.to(token_type_ids.device)
        columns = (token_type_ids * attention_mask.to(token_type_ids.dtype)).amax(dim=1).clamp_max(
            table.shape[0] - 2) + 1
        return table[columns.unsqueeze(1), token_type_ids.clamp_max(table.shape[1] - 1)]

    @property
    def segments(self) -> int | None:
        """How many segment ids (sequence columns) the model reads; None: any (it reads none, e.g. ESM)."""
        return int(self.backbone.config.type_vocab_size) if self.uses_segments else None

    @classmethod
    def build(cls, cfg: ModelConfig, vocab_size: int, segments: int = 2) -> SequenceEncoder:
        """A randomly initialised encoder reading inputs of up to ``segments`` sequence columns."""
        from transformers import AutoModel
        backbone = AutoModel.from_config(transformers_config(cfg, vocab_size, segments), add_pooling_layer=False)
        return cls(backbone, cfg.pooling)

    def token_states(self, input_ids, attention_mask, token_type_ids=None, inputs_embeds=None):
        kwargs = {"attention_mask": attention_mask}
        if self.uses_segments and token_type_ids is not None:
            kwargs["token_type_ids"] = self.placed_segments(token_type_ids, attention_mask)
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
        """``save_pretrained`` (safetensors) + tokenizer + ``seqssl.json`` + a model card (``README.md``) and a
        sentence-transformers layout (:mod:`seqssl.models.card`), written into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with without_progress_bars():  # one tiny shard: its bar is noise
            self.backbone.save_pretrained(str(directory), safe_serialization=True)
        tokenizer.save(directory, self.max_tokens)
        info = {"pooling": self.pooling, "alphabet": tokenizer.alphabet, **(meta or {})}
        info.pop("segment_layouts", None)  # the encoder's own, never a copy passed in meta
        if self.extra_heads:
            from safetensors.torch import save_file
            for name, tensors in self.extra_heads.items():
                save_file(tensors, str(directory / f"{name}.safetensors"))
            info["heads"] = sorted(self.extra_heads)
        if self.segment_layouts:
            info["segment_layouts"] = {str(n): cols for n, cols in self.segment_layouts.items()}
        (directory / SEQSSL_META).write_text(json.dumps(info, indent=1, default=str))
        config = self.backbone.config
        n_parameters = sum(p.numel() for p in self.backbone.parameters())
        (directory / "README.md").write_text(model_card(directory.name, info, config.model_type, n_parameters,
                                                        self.hidden_size, self.max_tokens))
        write_sentence_transformers_layout(directory, self.hidden_size, self.pooling, self.max_tokens,
                                           config.model_type)
        make_readable(directory)  # transformers' safetensors weights are created 0600


@contextmanager
def without_progress_bars():
    """``transformers``' own progress bars (loading and writing weight shards) off inside the block."""
    from transformers.utils import logging as hf_logging
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLED_WEIGHTS = "pytorch_model.bin"  # how older checkpoints ship (ChemBERTa): read with weights_only, never unpickled


def has_weights(directory: Path) -> bool:
    """Whether ``directory`` holds weights saved by ``save_pretrained``: safetensors, or a ``pytorch_model.bin``."""
    return any((directory / n).exists() for n in (*SAFETENSORS_WEIGHTS, PICKLED_WEIGHTS))


def read_pickled_weights(path: Path) -> dict:
    """A ``pytorch_model.bin`` state dict read with ``torch.load(weights_only=True)``: tensors and plain containers
    only; a file whose pickle would build anything else (run code) is refused, not loaded."""
    import pickle
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError) as err:
        raise InputError(f"refused to load {path.name}: it is not a plain tensor checkpoint "
                         f"({str(err).splitlines()[0][:160]})", path=str(path),
                         fix="convert the checkpoint to safetensors where it came from, or use a model that ships "
                             "model.safetensors") from None


_REMOTE_CODE_TRUSTED = contextvars.ContextVar("remote_code_trusted", default=False)


@contextmanager
def remote_code_trusted(trusted: bool):
    """Within the block, :func:`load_encoder` calls that do not say otherwise trust a model's own code when
    ``trusted`` (``seqssl predict --trust-remote-code``: the saved model's loaders are several steps down)."""
    token = _REMOTE_CODE_TRUSTED.set(trusted)
    try:
        yield
    finally:
        _REMOTE_CODE_TRUSTED.reset(token)


def load_encoder(directory: str | Path, pooling: str | None = None,
                 unknown: str = "error", trust_remote_code: bool | None = None) -> tuple[SequenceEncoder, Any]:
    """A seqssl encoder directory, or any local ``transformers`` model directory with its own tokenizer
    (weights via ``from_pretrained`` from safetensors, or from a ``pytorch_model.bin`` read with
    ``weights_only``: nothing is unpickled): ``(encoder, tokenizer)``. ``trust_remote_code``: a model that ships its
    own Python code (MolFormer) runs it; off unless the user opts in (``--trust-remote-code``; ``None``: as the
    enclosing :func:`remote_code_trusted` says, by default off).

    ``pooling``: ``cls`` | ``mean`` | ``auto`` / None (what the directory's ``seqssl.json`` says; for a model
    seqssl did not write, mean over residues for ESM models, the first token otherwise). ``unknown``: what a
    model's own tokenizer does with tokens it does not know (``error`` | ``map-to-x``). A bundled encoder's
    name (``builtin-tcr``, :mod:`seqssl.models.bundled`) stands for its directory."""
    from .bundled import model_directory
    directory = model_directory(directory)
    if not directory.is_dir():
        raise InputError("encoder directory not found", path=str(directory),
                         fix="pass a directory written by `seqssl pretrain`, a transformers model directory, or `none`")
    if not has_weights(directory) and has_weights(directory / "encoder"):
        raise InputError("this is a fine-tuned model directory (seqssl finetune), not an encoder", path=str(directory),
                         fix=f"pass the encoder inside it: --encoder {directory / 'encoder'}")
    if not has_weights(directory):
        raise InputError("encoder directory has no weights (model.safetensors or pytorch_model.bin)",
                         path=str(directory),
                         fix="re-run `seqssl pretrain`, or pass a directory saved with save_pretrained")
    meta_path = directory / SEQSSL_META
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if trust_remote_code is None:
        trust_remote_code = _REMOTE_CODE_TRUSTED.get()
    tokenizer = load_encoder_tokenizer(directory, unknown, trust_remote_code)
    backbone = load_backbone(directory, trust_remote_code)
    input_map = torch.from_numpy(tokenizer.model_ids) if hasattr(tokenizer, "model_ids") else None
    if pooling in (None, "auto"):
        pooling = meta.get("pooling") or default_pooling(backbone.config)
    from .card import trained_inputs
    encoder = SequenceEncoder(backbone, pooling, input_map)
    encoder.trained_inputs = trained_inputs(meta)
    encoder.set_layouts(meta.get("segment_layouts"))
    return encoder, tokenizer


def load_encoder_tokenizer(directory: Path, unknown: str = "error", trust_remote_code: bool = False):
    """The tokenizer of an encoder directory: seqssl's own, or the model's (:class:`ModelTokenizer`)."""
    if (Path(directory) / "seqssl_tokenizer.json").exists():
        return load_tokenizer(directory)
    from ..data.tokenizers.model_tokenizer import ModelTokenizer
    return ModelTokenizer.from_directory(directory, unknown, trust_remote_code=trust_remote_code)


def default_pooling(config) -> str:
    """Pooling for a model seqssl did not write: mean over residues for ESM (as its authors embed
    proteins), the first token otherwise (BERT's ``[CLS]``, RoBERTa's ``<s>``)."""
    return "mean" if getattr(config, "model_type", "") == "esm" else "cls"


def load_backbone(directory: Path, trust_remote_code: bool = False, masked_lm: bool = False):
    """``from_pretrained`` without a pooling layer where the architecture has one (a pooler seqssl never trains
    would be random noise presented as part of the model). Safetensors when the directory has them; otherwise
    the ``pytorch_model.bin`` state dict read by :func:`read_pickled_weights` (``weights_only``) and handed to
    the architecture's class, so transformers never unpickles it itself. A model whose ``config.json`` names its
    own code (``auto_map``) is refused unless ``trust_remote_code``. ``masked_lm``: the model with its masked-LM
    head (``AutoModelForMaskedLM``), for ``seqssl evaluate lm``."""
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING, MODEL_MAPPING
    directory = Path(directory)
    with without_progress_bars():
        try:
            config = AutoConfig.from_pretrained(str(directory), trust_remote_code=trust_remote_code,
                                                local_files_only=True)
        except ValueError as err:
            if "trust_remote_code" not in str(err):
                raise
            raise InputError("the model ships its own code (config.json names Python modules to run)",
                             path=str(directory), fix=REMOTE_CODE_FIX) from None
        custom = bool(getattr(config, "auto_map", None)) and trust_remote_code
        if any((directory / n).exists() for n in SAFETENSORS_WEIGHTS) or custom:
            if not any((directory / n).exists() for n in SAFETENSORS_WEIGHTS):
                read_pickled_weights(directory / PICKLED_WEIGHTS)  # refused here if it is more than tensors
            source: dict = {"pretrained_model_name_or_path": str(directory), "config": config,
                            "trust_remote_code": trust_remote_code,
                            "use_safetensors": any((directory / n).exists() for n in SAFETENSORS_WEIGHTS)}
            loader: Any = AutoModelForMaskedLM if masked_lm else AutoModel
        else:
            source = {"pretrained_model_name_or_path": None, "config": config,
                      "state_dict": read_pickled_weights(directory / PICKLED_WEIGHTS)}
            loader = (MODEL_FOR_MASKED_LM_MAPPING if masked_lm else MODEL_MAPPING)[type(config)]
        try:
            return loader.from_pretrained(**source, add_pooling_layer=False)
        except TypeError:  # architectures without a pooling layer do not take the argument
            return loader.from_pretrained(**source)


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
