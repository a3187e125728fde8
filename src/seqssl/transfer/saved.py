"""A fine-tuned model directory that describes itself (``seqssl_model.json``: task, transfer mode, input
columns, label names, head, validation and test metrics), so that ``seqssl predict`` can apply it to new rows
with nothing else to remember.

Layout (written by ``seqssl finetune``): ``encoder/`` (a seqssl encoder directory with its tokenizer; for LoRA
the merged weights), ``head.safetensors`` (full, lora) or ``probe.safetensors`` + ``probe.json`` (probe),
``adapter/`` (lora, peft), ``metrics.json``, ``config.yaml`` and the manifest.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..io import atomic_write_text
from ..tasks import get_task
from .modes import Fitted, get_mode, head_settings

MANIFEST = "seqssl_model.json"
FORMAT_VERSION = 1


def write_manifest(out: Path, cfg, columns: list[str], fitted: Fitted, label_meta: dict, evaluation: dict,
                   max_length: int | None) -> None:
    """``out/seqssl_model.json``: what ``predict`` needs to read new rows and rebuild the model."""
    manifest = {"format": FORMAT_VERSION, "task": fitted.task.name, "mode": fitted.mode.name, "columns": columns,
                "label_column": cfg.data.label_column, **label_meta, "max_length": max_length,
                "too_long": cfg.data.too_long, "unknown_residues": cfg.data.unknown_residues,
                "precision": cfg.precision, "head": head_settings(fitted, cfg.finetune),
                "base_encoder": cfg.finetune.encoder, "trained_on": cfg.data.path, "metrics": evaluation,
                "v_genes": {"columns": cfg.data.v_gene_columns, "organism": cfg.data.organism,
                            "unknown": cfg.data.unknown_v_genes} if cfg.data.v_gene_columns else None,
                **fitted.mode.settings(fitted)}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1, default=str))


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a fine-tuned model directory (a clear error for anything else)."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        hint = ("this is an encoder, not a fine-tuned model: fine-tune it first (seqssl finetune --encoder DIR)"
                if (Path(directory) / "config.json").exists() else "pass a directory written by `seqssl finetune`")
        raise InputError(f"no {MANIFEST}: not a fine-tuned seqssl model", path=str(directory), fix=hint)
    manifest = json.loads(path.read_text())
    if manifest.get("format", 0) > FORMAT_VERSION:
        raise InputError(f"{MANIFEST} format {manifest['format']} is newer than this seqssl reads",
                         path=str(path), fix="upgrade seqssl")
    return manifest


def load_fitted(directory: str | Path, device) -> tuple[Fitted, dict]:
    """``(the fitted model, its manifest)`` of a fine-tuned model directory."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    task = get_task(manifest["task"])
    return get_mode(manifest["mode"]).load(directory, manifest, task, device), manifest
