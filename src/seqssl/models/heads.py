"""Small MLP heads: contrastive projection and task prediction."""
from __future__ import annotations

from torch import nn


class ProjectionHead(nn.Module):
    """SimCLR projection g(h) = W2 ReLU(W1 h) (Chen et al. 2020, sec. 2.1)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, x):
        return self.net(x)


def projection_head(in_dim: int, out_dim: int) -> nn.Module:
    """The contrastive projection g (:class:`ProjectionHead`), or none for ``out_dim`` 0: the loss then reads the
    pooled embedding itself, as seed 000 did (its first-token vector, no head)."""
    return ProjectionHead(in_dim, out_dim) if out_dim else nn.Identity()


class PredictionHead(nn.Module):
    """Dropout, one hidden layer, and ``n_outputs`` logits (or regression values). ``activation="tanh"`` with
    ``hidden == in_dim`` is the shape of transformers' sequence-classification heads (RoBERTa's and ESM's
    ``dense → tanh → out_proj``, BERT's pooler + classifier), which :mod:`seqssl.transfer.hf_export` writes."""

    def __init__(self, in_dim: int, hidden: int, n_outputs: int = 1, dropout: float = 0.1, activation: str = "gelu"):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden),
                                 nn.Tanh() if activation == "tanh" else nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.net(x)


class TokenHead(PredictionHead):
    """The same MLP applied to every token state: ``(batch, tokens, hidden)`` → ``(batch, tokens, classes)``."""
