"""Masked language modelling (BERT): predict selected residues from the corrupted sequence."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import mlm_corrupt
from ..data.tokenizers import drawable_residues
from .registry import register
from .token import TokenObjective


class TokenPredictionHead(nn.Module):
    """Dense + GELU + LayerNorm, then a decoder tied to the input embeddings (as in BERT); logits over seqssl
    ids (for a model with its own tokenizer, its embedding rows in seqssl's order)."""

    input_map: torch.Tensor | None

    def __init__(self, encoder, vocab_size: int):
        super().__init__()
        hidden = encoder.hidden_size
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.embeddings = encoder.backbone.get_input_embeddings()
        self.register_buffer("input_map", encoder.input_map, persistent=False)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, states):
        weight = self.embeddings.weight if self.input_map is None else self.embeddings.weight[self.input_map]
        return self.transform(states) @ weight.T + self.bias

    def saved_state(self) -> dict[str, torch.Tensor]:
        """The head's own tensors (not the tied embeddings, which the encoder saves), on the CPU."""
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                if not k.startswith("embeddings.")}

    @classmethod
    def load(cls, encoder, vocab_size: int, path) -> TokenPredictionHead:
        """The head :meth:`saved_state` wrote to ``path`` (safetensors), tied to ``encoder``'s embeddings."""
        from safetensors.torch import load_file
        head = cls(encoder, vocab_size)
        missing, unexpected = head.load_state_dict(load_file(str(path)), strict=False)
        if unexpected or [k for k in missing if not k.startswith("embeddings.")]:
            raise ValueError(f"{path}: not an MLM head of this encoder ({missing or unexpected})")
        return head


MLM_HEAD = "mlm_head"  # file stem of the saved head, next to the encoder (seqssl evaluate lm)


@register("mlm")
class MaskedLanguageModel(TokenObjective):
    """``pretrain.mlm_rate`` of residues selected (≥ 1 per sequence); 80% ``[MASK]``, 10% random
    residue, 10% unchanged; cross entropy on the selected positions, normalised per predicted token."""

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        self.encoder, self.cfg = encoder, cfg
        self.head = TokenPredictionHead(encoder, vocab_size)
        self.n_residues = drawable_residues(vocab_size)

    def exported_heads(self) -> dict[str, dict[str, torch.Tensor]]:
        return {MLM_HEAD: self.head.saved_state()}

    def draw(self, batch: dict, generator: torch.Generator | None) -> dict:
        corrupted, selected = mlm_corrupt(batch["input_ids"], self.cfg.mlm_rate, n_residue_ids=self.n_residues,
                                          generator=generator)
        return {"corrupted": corrupted, "selected": selected}

    def token_counts(self, batch: dict) -> dict:
        return {"mlm": batch["draws"]["selected"].sum()}

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        ids = batch["input_ids"]
        draws = self.draws_of(batch, generator)
        selected = draws["selected"]
        states = self.encoder.token_states(draws["corrupted"], batch["attention_mask"], batch["token_type_ids"])
        logits = self.head(states[selected])  # the head on the ~15% predicted tokens only, not on every token
        targets = ids[selected]
        loss = self.per_token(F.cross_entropy(logits.float(), targets, reduction="sum"), selected.sum(), "mlm")
        with torch.no_grad():
            accuracy = (logits.argmax(-1) == targets).float().mean()
        return {"loss": loss, "accuracy": accuracy, "n_predicted": selected.sum()}
