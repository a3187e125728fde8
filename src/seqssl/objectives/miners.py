"""Triplet miners: given a distance matrix and labels, return (anchor, positive, negative) indices.

``all``: every valid triplet; ``semi-hard``: negatives farther than the positive but inside the margin
(FaceNet, Schroff et al. 2015, sec. 3.2); ``hardest``: per anchor, the farthest positive and the
nearest negative (batch-hard, Hermans et al. 2017).
"""
from __future__ import annotations

import torch

MINERS = ("all", "semi-hard", "hardest")  # pretrain.triplet.miner's choices (seqssl.objectives.triplet)


def valid_masks(labels: torch.Tensor):
    same = labels.unsqueeze(1) == labels.unsqueeze(0)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same  # positive pairs (a != p), negative pairs


def mine_triplets(distances: torch.Tensor, labels: torch.Tensor, miner: str = "semi-hard",
                  margin: float = 0.2) -> torch.Tensor:
    """``(T, 3)`` long tensor of (anchor, positive, negative) indices."""
    if miner not in MINERS:
        raise ValueError(f"unknown miner '{miner}', use one of {MINERS}")
    d = distances.detach()
    pos, neg = valid_masks(labels)
    if miner == "hardest":
        anchors = torch.nonzero(pos.any(1) & neg.any(1)).squeeze(1)
        if anchors.numel() == 0:
            return torch.zeros(0, 3, dtype=torch.long, device=d.device)
        p = d.masked_fill(~pos, float("-inf"))[anchors].argmax(1)
        n = d.masked_fill(~neg, float("inf"))[anchors].argmin(1)
        return torch.stack([anchors, p, n], 1)
    # candidate triplets [a, p, n]
    valid = pos.unsqueeze(2) & neg.unsqueeze(1)
    if miner == "semi-hard":
        d_ap = d.unsqueeze(2)
        d_an = d.unsqueeze(1)
        valid = valid & (d_an > d_ap) & (d_an < d_ap + margin)
    return torch.nonzero(valid)
