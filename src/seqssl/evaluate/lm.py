"""Held-out language-model quality (seed 001's Table 1): masked-token accuracy and perplexity of an encoder with an
MLM head on sequences it did not train on, the same measurement for every such encoder.

A fixed share ``mask_rate`` of each sequence's residues (at least one) is replaced by ``[MASK]`` (always the mask
token: no 80/10/10 at evaluation), chosen with a seeded generator so that two encoders are scored on the same
positions; the encoder predicts them all at once. Reported: the accuracy of the arg-max residue, the mean cross
entropy in nats per masked residue and the perplexity ``exp(cross entropy)`` (Devlin et al. 2019's MLM; Rives et al.
2021 report ESM's the same way), over every masked residue of the file.

Two kinds of encoder have an MLM head: a seqssl encoder pretrained with ``mlm`` (or ``adversarial-mlm``, or a sum
with one), whose head is saved next to it (``mlm_head.safetensors``, tied to its embeddings), and a
``transformers`` directory whose weights include a masked-LM head (ESM-2, ProtBert, ChemBERTa as downloaded),
read with ``AutoModelForMaskedLM``; the latter's logits over its own vocabulary are re-ordered to seqssl's ids by
its tokenizer's map (:class:`~seqssl.data.tokenizers.model_tokenizer.ModelTokenizer`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import mlm_corrupt
from ..data.dataset import encode_table
from ..data.formats import default_columns
from ..data.formats.readers import read_table
from ..errors import InputError
from ..models.encoder import load_backbone, load_encoder
from ..objectives.mlm import MLM_HEAD, TokenPredictionHead
from ..runtime import resolve_device


def masked_logits(directory: Path, encoder, vocab_size: int, trust_remote_code: bool = False):
    """``logits(input_ids, attention_mask, token_type_ids) → (batch, tokens, seqssl ids)`` of the encoder's MLM
    head: the saved seqssl head, else the directory's own masked-LM model; refused when there is neither."""
    saved = directory / f"{MLM_HEAD}.safetensors"
    if saved.exists():
        head = TokenPredictionHead.load(encoder, vocab_size, saved)
        return lambda ids, mask, types: head(encoder.token_states(ids, mask, types)), [encoder, head]
    if (directory / "seqssl.json").exists():
        raise InputError("this encoder was saved without an MLM head (pretrained with a contrastive objective, or "
                         "by an older seqssl)", path=str(directory),
                         fix="evaluate an encoder pretrained with mlm, adversarial-mlm or a sum with mlm")
    model = load_backbone(directory, trust_remote_code, masked_lm=True)
    input_map = encoder.input_map

    def logits(ids, mask, types):
        out = model(input_ids=ids if input_map is None else input_map[ids], attention_mask=mask).logits
        return out if input_map is None else out[..., input_map.to(out.device)]
    return logits, [model, encoder]


@torch.no_grad()
def evaluate_lm(encoder_dir: str, data: str, columns: list[str] | None = None, mask_rate: float = 0.15,
                seed: int = 0, device: str = "auto", batch_size: int = 128, trust_remote_code: bool = False) -> dict:
    """Masked-token accuracy, cross entropy and perplexity of ``encoder_dir`` on the sequences of ``data`` (see the
    module docstring)."""
    if not 0 < mask_rate <= 1:
        raise InputError(f"--mask-rate must be in (0, 1], got {mask_rate}", fix="e.g. --mask-rate 0.15")
    directory = Path(encoder_dir)
    encoder, tokenizer = load_encoder(directory, trust_remote_code=trust_remote_code)
    dev = resolve_device(device)
    logits_of, modules = masked_logits(directory, encoder, tokenizer.vocab_size, trust_remote_code)
    for module in modules:
        module.to(dev).eval()
    table = read_table(data)
    encoded = encode_table(table, default_columns(data, columns or []), tokenizer, encoder.max_tokens)
    generator = torch.Generator().manual_seed(seed)
    correct, total, nats = 0, 0, 0.0
    for start in range(0, len(encoded), batch_size):
        batch = encoded.padded(np.arange(start, min(start + batch_size, len(encoded))))
        corrupted, selected = mlm_corrupt(batch["input_ids"], mask_rate, mask_fraction=1.0, random_fraction=0.0,
                                          generator=generator)
        out = logits_of(corrupted.to(dev), batch["attention_mask"].to(dev), batch["token_type_ids"].to(dev))
        predicted, targets = out[selected.to(dev)].float(), batch["input_ids"][selected].to(dev)
        nats += float(F.cross_entropy(predicted, targets, reduction="sum"))
        correct += int((predicted.argmax(-1) == targets).sum())
        total += int(selected.sum())
    cross_entropy = nats / max(total, 1)
    return {"sequences": len(encoded), "masked_tokens": total, "mask_rate": mask_rate, "seed": seed,
            "masked_accuracy": correct / max(total, 1), "cross_entropy": cross_entropy,
            "perplexity": math.exp(cross_entropy)}
