"""Graph neural networks for molecules: GCN or GAT message passing, global pooling, an MLP head."""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GATConv, GATv2Conv, GCNConv, global_add_pool, global_max_pool, global_mean_pool

from .heads import PredictionHead

GNN_KINDS = ("gcn", "gat", "gatv2")
POOLINGS = ("mean", "add", "max", "mean+max")


class GraphPredictor(nn.Module):
    """Atoms → ``layers`` × (conv → LayerNorm → GELU → dropout, residual) → graph pooling → MLP head.

    ``gcn``: ``GCNConv`` (Kipf & Welling 2017). It takes one scalar weight per edge, so bond features
    enter through a learned edge weight ``sigmoid(Linear(bond_dim, 1)(edge_attr))`` per layer (positive,
    as GCN's symmetric degree normalisation needs; both directions of a bond get the same weight).
    ``gat``: ``GATConv`` (Veličković et al. 2018); ``gatv2``: ``GATv2Conv`` (Brody et al. 2022); both
    with ``heads`` concatenated heads of ``hidden // heads`` channels and the bond features in the
    attention scores (``edge_dim``). ``pooling``: ``mean``, ``add``, ``max`` or ``mean+max`` (concatenated).

    ``forward(batch)`` returns logits ``(n_graphs, n_outputs)``, squeezed to ``(n_graphs,)`` when
    ``n_outputs == 1``. ``target_mean`` / ``target_std`` hold the regression standardisation."""

    target_mean: torch.Tensor  # buffers, declared for the type checker
    target_std: torch.Tensor

    def __init__(self, kind: str, atom_dim: int, bond_dim: int, hidden: int = 128, layers: int = 3,
                 heads: int = 4, dropout: float = 0.1, pooling: str = "mean", n_outputs: int = 1,
                 head_hidden: int = 64, head_dropout: float = 0.1):
        super().__init__()
        if kind not in GNN_KINDS:
            raise ValueError(f"unknown GNN kind '{kind}' (use {', '.join(GNN_KINDS)})")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling '{pooling}' (use {', '.join(POOLINGS)})")
        if kind != "gcn" and hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.kind, self.pooling, self.n_outputs = kind, pooling, n_outputs
        self.atom_in = nn.Linear(atom_dim, hidden)
        self.convs, self.edge_weights = nn.ModuleList(), nn.ModuleList()
        for _ in range(layers):
            if kind == "gcn":
                self.convs.append(GCNConv(hidden, hidden))
                self.edge_weights.append(nn.Linear(bond_dim, 1))
            else:
                conv = GATConv if kind == "gat" else GATv2Conv
                self.convs.append(conv(hidden, hidden // heads, heads=heads, edge_dim=bond_dim, dropout=dropout))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.act, self.drop = nn.GELU(), nn.Dropout(dropout)
        pooled = 2 * hidden if pooling == "mean+max" else hidden
        self.head = PredictionHead(pooled, head_hidden, n_outputs, head_dropout)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def embed(self, batch) -> torch.Tensor:
        """Pooled graph embeddings ``(n_graphs, hidden or 2·hidden)``."""
        h = self.atom_in(batch.x)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if self.kind == "gcn":
                weight = torch.sigmoid(self.edge_weights[i](batch.edge_attr)).squeeze(-1)
                out = conv(h, batch.edge_index, weight)
            else:
                out = conv(h, batch.edge_index, batch.edge_attr)
            h = h + self.drop(self.act(norm(out)))
        index, size = batch.batch, batch.num_graphs
        if self.pooling == "mean":
            return global_mean_pool(h, index, size)
        if self.pooling == "add":
            return global_add_pool(h, index, size)
        if self.pooling == "max":
            return global_max_pool(h, index, size)
        return torch.cat([global_mean_pool(h, index, size), global_max_pool(h, index, size)], -1)

    def forward(self, batch) -> torch.Tensor:
        out = self.head(self.embed(batch))
        return out.squeeze(-1) if self.n_outputs == 1 else out
