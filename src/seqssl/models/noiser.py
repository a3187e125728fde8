"""The adversarial masker's sequence model, M_noiser^(seq) of seed 001 (McDermott et al. 2021)."""
from __future__ import annotations

import torch
from torch import nn


class GRUNoiser(nn.Module):
    """Token embedding → bidirectional GRU (``num_layers``) → per-token scores.

    Output (B, L, 3 + R): column 0 is the *any-mask* score; columns 1.. are the *mask-option* scores:
    ``[MASK]``, keep-original, then replace-by-residue for each of the R drawable residues.
    It reads the unmasked sequence; padding is packed away so it never influences real tokens.
    """

    def __init__(self, vocab_size: int, n_residues: int, embedding_size: int = 64, hidden_size: int = 64,
                 num_layers: int = 3, pad_id: int = 0):
        super().__init__()
        self.n_options = 2 + n_residues
        self.embed = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        self.gru = nn.GRU(embedding_size, hidden_size, num_layers=num_layers, batch_first=True,
                          bidirectional=True)
        self.out = nn.Linear(2 * hidden_size, 1 + self.n_options)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        lengths = attention_mask.sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(input_ids), lengths, batch_first=True,
                                                   enforce_sorted=False)
        states, _ = self.gru(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=input_ids.shape[1])
        return self.out(states)
