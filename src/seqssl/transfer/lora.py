"""LoRA adapters (Hu et al. 2022) on the encoder's attention projections, via ``peft`` (``--mode lora``).

Only the low-rank adapters and the task head train; the pretrained weights stay frozen. Adapters are
saved with peft's ``save_pretrained`` (safetensors); ``--merge`` also writes the merged encoder, an
ordinary ``transformers`` model.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..io import make_readable

# attention projections by model family (BERT- and ESM-style transformers name them alike)
DEFAULT_TARGETS = {"bert": ["query", "value"], "esm": ["query", "value"]}


def with_lora(encoder, cfg):
    """Wrap ``encoder.backbone`` in LoRA adapters in place; return the encoder. ``cfg``: FinetuneConfig."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise InputError("--mode lora needs the peft package", fix="pip install peft") from None
    family = getattr(encoder.backbone.config, "model_type", "")
    targets = list(cfg.lora_targets) or DEFAULT_TARGETS.get(family)
    if not targets:
        raise InputError(f"no default LoRA targets for model type '{family}'",
                         fix="name the modules with finetune.lora_targets, e.g. [query, value]")
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, bias="none")
    try:
        encoder.backbone = get_peft_model(encoder.backbone, lora)
    except ValueError as err:
        raise InputError(f"LoRA targets {targets} not found in the encoder ({str(err).splitlines()[0]})",
                         fix="name existing modules in finetune.lora_targets") from None
    return encoder


def save_lora(encoder, out: Path, tokenizer, merge: bool, meta: dict) -> None:
    """``out/adapter`` (peft); with ``merge`` also ``out/encoder``: the merged weights as a plain encoder."""
    encoder.backbone.save_pretrained(str(out / "adapter"))
    make_readable(out / "adapter")  # peft writes its safetensors owner-only
    if merge:
        import copy
        merged = copy.deepcopy(encoder)
        merged.backbone = merged.backbone.merge_and_unload()
        merged.save(out / "encoder", tokenizer, meta={**meta, "lora_merged": True})
