"""LoRA adapters (Hu et al. 2022) on the encoder's attention projections, via ``peft`` (``--mode lora``).

Only the low-rank adapters and the task head train; the pretrained weights stay frozen. Adapters are
saved with peft's ``save_pretrained`` (safetensors); ``--merge`` also writes the merged encoder, an
ordinary ``transformers`` model.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io import make_readable
from ..options import option

# attention projections by model family: peft knows BERT's and RoBERTa's, not ESM's; the rest are the names of
# other encoder families' query and value projections
DEFAULT_TARGETS = {"bert": ["query", "value"], "esm": ["query", "value"], "roberta": ["query", "value"],
                   "distilbert": ["q_lin", "v_lin"], "deberta-v2": ["query_proj", "value_proj"]}
QUERY_VALUE_NAMES = (("query", "value"), ("q_proj", "v_proj"), ("q_lin", "v_lin"), ("query_proj", "value_proj"))


@dataclass
class LoraOptions:
    """``finetune.lora``: the adapters' rank r, scale alpha (the update is scaled by alpha / r; Hu et al. 2022,
    eq. 3), dropout on their input, and the modules adapted."""

    rank: int = option(8, "rank r of the low-rank update", at_least=1, old="lora_rank")
    alpha: float = option(16.0, "scale alpha of the update (alpha / r)", above=0, old="lora_alpha")
    dropout: float = option(0.0, "dropout on the adapters' input", at_least=0, below=1, old="lora_dropout")
    targets: list[str] = option([], "modules adapted, comma-separated (default: the attention query and value "
                                "projections of the model family)", old="lora_targets")


def lora_targets(backbone, configured: list[str]) -> list[str]:
    """The modules LoRA adapts: ``finetune.lora.targets`` if given, else the family's attention query and
    value projections (by ``model_type``, else found among the backbone's linear layers by name)."""
    if configured:
        return list(configured)
    family = getattr(backbone.config, "model_type", "")
    if family in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[family]
    from torch import nn
    linear = {name.rsplit(".", 1)[-1] for name, module in backbone.named_modules() if isinstance(module, nn.Linear)}
    for pair in QUERY_VALUE_NAMES:
        if set(pair) <= linear:
            return list(pair)
    raise InputError(f"no default LoRA targets for model type '{family}'",
                     fix="name the modules with finetune.lora.targets, e.g. [query, value]")


@contextmanager
def peft_deprecations_silenced():
    """peft calls transformers' deprecated ``is_gradient_checkpointing``: its FutureWarning is not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        yield


def with_lora(encoder, options: LoraOptions):
    """Wrap ``encoder.backbone`` in LoRA adapters in place; return the encoder."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise InputError("--mode lora needs the peft package", fix="pip install peft") from None
    targets = lora_targets(encoder.backbone, options.targets)
    lora = LoraConfig(r=options.rank, lora_alpha=options.alpha,  # type: ignore[arg-type]  # peft scales by alpha/r
                      lora_dropout=options.dropout,
                      target_modules=targets, bias="none")
    try:
        with peft_deprecations_silenced():
            encoder.backbone = get_peft_model(encoder.backbone, lora)
    except ValueError as err:
        raise InputError(f"LoRA targets {targets} not found in the encoder ({str(err).splitlines()[0]})",
                         fix="name existing modules in finetune.lora.targets") from None
    return encoder


def save_lora(encoder, out: Path, tokenizer, merge: bool, meta: dict) -> None:
    """``out/adapter`` (peft); with ``merge`` also ``out/encoder``: the merged weights as a plain encoder."""
    with peft_deprecations_silenced():
        encoder.backbone.save_pretrained(str(out / "adapter"))
    make_readable(out / "adapter")  # peft writes its safetensors owner-only
    if merge:
        import copy
        merged = copy.deepcopy(encoder)
        with peft_deprecations_silenced():
            merged.backbone = merged.backbone.merge_and_unload()
        merged.save(out / "encoder", tokenizer, meta={**meta, "lora_merged": True})
