"""Replaced-token detection: ELECTRA (Clark et al. 2020) and seed 002's random-replacement variant."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..augment import FIRST_RESIDUE_ID, mlm_corrupt, residue_positions, substitute
from ..config import ModelConfig
from ..data.tokenizers import drawable_residues
from ..losses import masked_token_loss, replaced_token_loss
from ..models.encoder import SequenceEncoder
from ..options import option
from .registry import register
from .token import TokenObjective


class Generator(nn.Module):
    """A small MLM generator sharing the discriminator's token embeddings: E (H) → Linear → a
    transformer of width ``fraction × H`` → Linear → logits against E (tied decoder)."""

    input_map: torch.Tensor | None

    def __init__(self, encoder, vocab_size: int, fraction: float):
        super().__init__()
        hidden = encoder.hidden_size
        width = max(8, int(round(hidden * fraction / 4)) * 4)
        cfg = encoder.backbone.config
        small = ModelConfig(architecture="bert", hidden_size=width, num_layers=cfg.num_hidden_layers,
                            num_heads=max(1, width // 16) if width % 16 == 0 else 1,
                            intermediate_size=4 * width, dropout=0.0,
                            max_length=cfg.max_position_embeddings - 2)
        # as many segments as the encoder reads; for one that reads none (ESM) BERT's two, columns after the
        # second sharing the second's (the generator only proposes replacements)
        self.clamp_segments = encoder.segments is None
        self.body = SequenceEncoder.build(small, vocab_size, encoder.segments or 2)
        # the body reads projected shared embeddings (inputs_embeds): its own word embeddings are never used,
        # and a trainable parameter without a gradient would stop DistributedDataParallel
        self.body.backbone.get_input_embeddings().weight.requires_grad_(False)
        self.embeddings = encoder.backbone.get_input_embeddings()  # shared
        self.register_buffer("input_map", encoder.input_map, persistent=False)  # seqssl ids → the model's
        self.down, self.up = nn.Linear(hidden, width), nn.Linear(width, hidden)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, ids, attention_mask, token_type_ids):
        if self.input_map is None:
            embedded, weight = self.embeddings(ids), self.embeddings.weight
        else:
            embedded, weight = self.embeddings(self.input_map[ids]), self.embeddings.weight[self.input_map]
        if self.clamp_segments and token_type_ids is not None:
            token_type_ids = token_type_ids.clamp(max=1)
        states = self.body.token_states(None, attention_mask, token_type_ids, inputs_embeds=self.down(embedded))
        return self.up(states) @ weight.T + self.bias


class _Discriminating(TokenObjective):
    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__()
        self.encoder, self.cfg = encoder, cfg
        self.discriminator = nn.Linear(encoder.hidden_size, 1)
        self.n_residues = drawable_residues(vocab_size)

    def token_counts(self, batch: dict) -> dict:
        return {"discriminator": residue_positions(batch["input_ids"]).sum()}

    def discriminate(self, corrupted, original, batch) -> dict:
        states = self.encoder.token_states(corrupted, batch["attention_mask"], batch["token_type_ids"])
        logits = self.discriminator(states).squeeze(-1)
        replaced = corrupted != original
        real = residue_positions(original)
        loss = self.per_token(replaced_token_loss(logits, replaced, real, reduction="sum"), real.sum(),
                              "discriminator")
        with torch.no_grad():
            accuracy = ((logits[real] > 0) == replaced[real]).float().mean()
        return {"loss": loss, "disc_accuracy": accuracy, "replaced_fraction": replaced[real].float().mean()}


@dataclass
class ElectraOptions:
    """``pretrain.rtd`` (Clark et al. 2020)."""

    generator_fraction: float = option(0.25, "generator width relative to the encoder", above=0, at_most=1,
                                       old="generator_fraction")
    discriminator_weight: float = option(50.0, "lambda: the weight of the discriminator's loss", at_least=0,
                                         old="discriminator_weight")


@register("rtd")
class ELECTRA(_Discriminating):
    """Generator trained with MLM (80/10/10 at ``mlm_rate``) proposes tokens at the selected positions,
    sampled without gradient; the discriminator labels every residue replaced (sampled ≠ original)
    or not. Loss = L_MLM + λ L_disc, λ = ``discriminator_weight`` (50 in the paper).

    The generator's samples are drawn by the Gumbel-max trick, argmax(logits + G) with G ~ Gumbel(0, 1)
    drawn in :meth:`draw`, which samples softmax(logits) exactly and keeps every row's noise fixed
    however the batch is split."""

    Options = ElectraOptions

    def __init__(self, encoder, cfg, vocab_size: int):
        super().__init__(encoder, cfg, vocab_size)
        self.generator = Generator(encoder, vocab_size, self.options.generator_fraction)

    def draw(self, batch: dict, generator: torch.Generator | None) -> dict:
        ids = batch["input_ids"]
        masked, selected = mlm_corrupt(ids, self.cfg.mlm_rate, n_residue_ids=self.n_residues, generator=generator)
        uniform = torch.rand((*ids.shape, self.n_residues), generator=generator, device=ids.device)
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-10, 1 - 1e-7)))
        return {"masked": masked, "selected": selected, "gumbel": gumbel}

    def token_counts(self, batch: dict) -> dict:
        return {**super().token_counts(batch), "generator": batch["draws"]["selected"].sum()}

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        ids = batch["input_ids"]
        draws = self.draws_of(batch, generator)
        selected = draws["selected"]
        gen_logits = self.generator(draws["masked"], batch["attention_mask"], batch["token_type_ids"])
        gen_loss = self.per_token(masked_token_loss(gen_logits, ids, selected, reduction="sum"), selected.sum(),
                                  "generator")
        with torch.no_grad():
            residue_logits = gen_logits[..., FIRST_RESIDUE_ID:FIRST_RESIDUE_ID + self.n_residues].float()
            sampled = (residue_logits + draws["gumbel"]).argmax(-1) + FIRST_RESIDUE_ID
            corrupted = torch.where(selected, sampled, ids)
        out = self.discriminate(corrupted, ids, batch)
        disc_loss = out["loss"]
        out.update(loss=gen_loss + self.options.discriminator_weight * disc_loss, generator_loss=gen_loss.detach(),
                   discriminator_loss=disc_loss.detach())
        return out


@dataclass
class RandomReplacementOptions:
    """``pretrain.rtd-random``."""

    replace_rate: float = option(0.1, "fraction of residues replaced by a uniformly drawn other residue",
                                 above=0, at_most=1, old="replace_rate")


@register("rtd-random")
class RandomReplacementDetection(_Discriminating):
    """Seed 002's variant: ``replace_rate`` of residues replaced by a uniformly drawn other residue;
    discriminator only."""

    Options = RandomReplacementOptions

    def draw(self, batch: dict, generator: torch.Generator | None) -> dict:
        rate = self.options.replace_rate
        return {"corrupted": substitute(batch["input_ids"], rate, None, self.n_residues, generator)}

    def forward(self, batch: dict, generator: torch.Generator | None = None) -> dict:
        return self.discriminate(self.draws_of(batch, generator)["corrupted"], batch["input_ids"], batch)
