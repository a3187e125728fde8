"""Pure loss functions on embeddings; they know nothing of models or training loops."""
from __future__ import annotations

import torch
import torch.nn.functional as F

NORM_EPS = 1e-6  # safe in bf16 too
BLOCK_ELEMENTS = 1 << 20  # blockwise NT-Xent: at most ~1M similarities (4 MiB in fp32) per block


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1, block_rows: int = 2048) -> torch.Tensor:
    """NT-Xent (normalised temperature-scaled cross entropy), SimCLR eq. 1 (Chen et al. 2020).

    For 2N embeddings (two views of N examples), each view's positive is the other view of the same
    example; the other 2N-2 are negatives; the self-similarity is excluded. Mean over all 2N anchors.
    Computed with ``cross_entropy`` (log-sum-exp), so low temperatures do not overflow. Beyond
    ``block_rows`` anchors the same loss is computed in row blocks of at most ``BLOCK_ELEMENTS``
    similarities (memory O(block × 2N), not (2N)²).
    """
    if z1.shape != z2.shape:
        raise ValueError(f"views must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    n = z1.shape[0]
    z = torch.cat([z1, z2], 0)
    z = F.normalize(z.to(torch.promote_types(z.dtype, torch.float32)), dim=1, eps=NORM_EPS)
    if 2 * n > block_rows:  # large batches: never hold the (2N)² similarity matrix
        return _BlockwiseNTXent.apply(z, temperature, max(1, min(block_rows, BLOCK_ELEMENTS // (2 * n))))
    logits = z @ z.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


class _BlockwiseNTXent(torch.autograd.Function):
    """NT-Xent over unit vectors ``u`` (2N × d) in row blocks, recomputing each block in backward.

    With s_ij = u_i·u_j / t, P the row softmax over j ≠ i and p(k) the positive of k, the loss is
    mean_i (logsumexp_j≠i s_ij − s_i,p(i)) and its gradient is (P u + Pᵀ u − 2 u_p) / (2N t).
    Written by hand because autograd would keep every block's (block × 2N) matrix for backward."""

    @staticmethod
    def forward(ctx, u, temperature: float, block: int):
        m = u.shape[0]
        partner = torch.arange(m, device=u.device).roll(m // 2)
        lse = torch.empty(m, dtype=u.dtype, device=u.device)
        for start in range(0, m, block):
            rows = torch.arange(start, min(start + block, m), device=u.device)
            logits = u[rows] @ u.T / temperature
            logits[torch.arange(len(rows), device=u.device), rows] = float("-inf")
            lse[rows] = torch.logsumexp(logits, 1)
        positive = (u * u[partner]).sum(1) / temperature
        ctx.save_for_backward(u, lse)
        ctx.temperature, ctx.block = temperature, block
        return (lse - positive).mean()

    @staticmethod
    def backward(ctx, grad_output):
        u, lse = ctx.saved_tensors
        m, t = u.shape[0], ctx.temperature
        partner = torch.arange(m, device=u.device).roll(m // 2)
        grad = -2.0 * u[partner]
        for start in range(0, m, ctx.block):
            rows = torch.arange(start, min(start + ctx.block, m), device=u.device)
            probs = torch.exp(u[rows] @ u.T / t - lse[rows, None])
            probs[torch.arange(len(rows), device=u.device), rows] = 0.0
            grad[rows] += probs @ u
            grad += probs.T @ u[rows]
        return grad * (grad_output / (m * t)), None, None


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """SimSiam's D(p, z) = -cos(p, stopgrad(z)), mean over the batch (Chen & He 2021, eq. 1)."""
    p = F.normalize(p.to(torch.promote_types(p.dtype, torch.float32)), dim=1, eps=NORM_EPS)
    z = F.normalize(z.detach().to(p.dtype), dim=1, eps=NORM_EPS)
    return -(p * z).sum(1).mean()


NWAY_DISTANCES = ("cosine", "euclidean")


def similarity_logits(anchors: torch.Tensor, candidates: torch.Tensor, temperature: float,
                      distance: str = "cosine") -> torch.Tensor:
    """``-d(a_i, c_j) / t`` for the N-way loss of seed 004 (``exp(-d(z, z⁺))``): ``cosine`` is the cosine
    similarity of unit vectors (d = −cos), ``euclidean`` the negative L2 distance of the raw embeddings (the same
    d as the triplet loss's; a safe gradient where two embeddings coincide)."""
    if distance not in NWAY_DISTANCES:
        raise ValueError(f"unknown distance '{distance}'")
    dtype = torch.promote_types(anchors.dtype, torch.float32)
    a, c = anchors.to(dtype), candidates.to(dtype)
    if distance == "cosine":
        return F.normalize(a, dim=1, eps=NORM_EPS) @ F.normalize(c, dim=1, eps=NORM_EPS).T / temperature
    squared = a.pow(2).sum(1, keepdim=True) + c.pow(2).sum(1) - 2 * a @ c.T
    return -torch.sqrt(squared.clamp_min(1e-12)) / temperature


def info_nce(anchors: torch.Tensor, candidates: torch.Tensor, positive_mask: torch.Tensor,
             temperature: float = 0.1, ignore_mask: torch.Tensor | None = None, hard_negative_beta: float = 0.0,
             debias_tau_plus: float = 0.0, distance: str = "cosine") -> torch.Tensor:
    """N-way InfoNCE (van den Oord et al. 2018) with several positives per anchor allowed
    (supervised-contrastive form, Khosla et al. 2020, eq. 2 "L_out"): for anchor i,
    ``-mean_{p in P(i)} log exp(s_ip/t) / sum_{k not ignored} exp(s_ik/t)``; anchors without a positive
    are skipped. ``ignore_mask[i, k]`` removes candidate k from anchor i's denominator (e.g. exact
    duplicates of the anchor, which are not true negatives).

    With ``hard_negative_beta`` or ``debias_tau_plus`` set, each (anchor, positive) pair is scored against the
    anchor's negatives only, reweighted and debiased (:func:`hard_debiased_nce`); both 0 is the loss above.
    ``distance``: how s is made (:func:`similarity_logits`); debiasing assumes bounded cosine similarities."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    if debias_tau_plus and distance != "cosine":
        raise ValueError("debias_tau_plus needs the cosine distance (its estimator assumes s ≥ −1)")
    logits = similarity_logits(anchors, candidates, temperature, distance)
    positive_mask = positive_mask.bool()
    n_pos = positive_mask.sum(1)
    has = n_pos > 0
    if not has.any():
        raise ValueError("no anchor has a positive")
    if hard_negative_beta or debias_tau_plus:
        negative_mask = ~positive_mask if ignore_mask is None else ~positive_mask & ~ignore_mask.bool()
        return hard_debiased_nce(logits, positive_mask, negative_mask, temperature, hard_negative_beta,
                                 debias_tau_plus)
    if ignore_mask is not None:
        logits = logits.masked_fill(ignore_mask.bool() & ~positive_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    per_anchor = -(log_prob.masked_fill(~positive_mask, 0.0)).sum(1)[has] / n_pos[has]
    return per_anchor.mean()


def hard_debiased_nce(logits: torch.Tensor, positive_mask: torch.Tensor, negative_mask: torch.Tensor,
                      temperature: float, beta: float = 0.0, tau_plus: float = 0.0) -> torch.Tensor:
    """Contrastive loss with hard-negative weighting (Robinson et al. 2021, "Contrastive learning with hard
    negative samples", eq. 5 with β) and debiasing for false negatives (Chuang et al. 2020, "Debiased contrastive
    learning", eq. 6 with class prior τ⁺), over similarities ``logits`` = s/t (rows: anchors).

    For anchor i with positive p and its M negatives n, the negatives' term is
    ``Ng = max((M · Σ_n w_n e^{s_n} − τ⁺ M e^{s_p}) / (1 − τ⁺), M e^{−1/t})`` with importance weights
    ``w_n = e^{β s_n} / Σ_n' e^{β s_n'}`` (the harder, the heavier; β = 0: uniform), and the loss is
    ``−log e^{s_p} / (e^{s_p} + Ng)``, averaged over each anchor's positives, then over anchors. The floor
    ``M e^{−1/t}`` is the theoretical minimum of the estimator (Chuang et al.). Computed in log space with the
    row maximum taken out, so low temperatures do not overflow. β = τ⁺ = 0 gives InfoNCE with each positive
    against the negatives alone (the usual form when each anchor has one positive).
    Written by hand: no library implements these estimators for several positives and masked candidates."""
    if not 0.0 <= tau_plus < 1.0:
        raise ValueError("debias_tau_plus must be in [0, 1)")
    very_negative = torch.finfo(logits.dtype).min / 4
    m = negative_mask.sum(1).clamp(min=1).to(logits.dtype)  # M per anchor
    top = logits.masked_fill(~(negative_mask | positive_mask), very_negative).amax(1, keepdim=True).detach()
    shifted = logits - top  # every exp below is of a value ≤ 0
    # log Σ_n w_n e^{s_n − top} = logsumexp_n((1 + β)(s_n − top)) − logsumexp_n(β (s_n − top))
    log_weighted = (torch.logsumexp(((1 + beta) * shifted).masked_fill(~negative_mask, very_negative), 1)
                    - torch.logsumexp((beta * shifted).masked_fill(~negative_mask, very_negative), 1))
    weighted = m * torch.exp(log_weighted)  # M · Σ w e^{s − top}
    positive = torch.exp(shifted)  # e^{s_p − top}, for every candidate (used where positive)
    floor = m.unsqueeze(1) * torch.exp(-1.0 / temperature - top)
    estimate = (weighted.unsqueeze(1) - tau_plus * m.unsqueeze(1) * positive) / (1 - tau_plus)
    # without debiasing the estimate is a weighted mean of e^{s}, never below the floor for cosine s ≥ −1: the
    # floor is applied only with τ⁺ (so an unbounded distance, s < −1, is not floored)
    ng = torch.maximum(estimate, floor) if tau_plus else estimate
    per_pair = -(shifted - torch.log(positive + ng))  # −log e^{s_p} / (e^{s_p} + Ng), shift-free
    per_pair = per_pair.masked_fill(~positive_mask, 0.0)
    n_pos = positive_mask.sum(1)
    has = n_pos > 0
    return (per_pair.sum(1)[has] / n_pos[has]).mean()


def pairwise_distance(x: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """``cosine``: 1 - cos; ``euclidean``: L2 distance (safe gradient at 0)."""
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    if metric == "cosine":
        x = F.normalize(x, dim=1, eps=NORM_EPS)
        return 1.0 - x @ x.T
    if metric == "euclidean":
        sq = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(-1)
        return torch.sqrt(sq.clamp_min(1e-12))
    raise ValueError(f"unknown distance '{metric}'")


def triplet_margin(distances: torch.Tensor, triplets: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """Mean hinge ``max(0, d(a,p) - d(a,n) + margin)`` over (a, p, n) index triplets
    (Schroff et al. 2015, eq. 1). Zero (with gradient) when there is no triplet."""
    if triplets.numel() == 0:
        return distances.sum() * 0.0
    a, p, n = triplets.unbind(1)
    return F.relu(distances[a, p] - distances[a, n] + margin).mean()


def masked_token_loss(logits: torch.Tensor, targets: torch.Tensor, positions: torch.Tensor,
                      reduction: str = "mean") -> torch.Tensor:
    """Cross entropy over the selected positions only (MLM, Devlin et al. 2019), mean per token
    (``reduction="sum"``: the sum, for normalising over a larger batch than this one)."""
    return F.cross_entropy(logits[positions].float(), targets[positions], reduction=reduction)


def replaced_token_loss(logits: torch.Tensor, replaced: torch.Tensor, positions: torch.Tensor,
                        reduction: str = "mean") -> torch.Tensor:
    """ELECTRA discriminator loss (Clark et al. 2020, eq. 1): BCE of 'replaced' over real tokens."""
    return F.binary_cross_entropy_with_logits(logits[positions].float(), replaced[positions].float(),
                                              reduction=reduction)


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean cross entropy over labelled tokens only; ``labels == ignore_index`` marks padding, special
    tokens and unlabelled residues. ``logits``: ``(batch, tokens, classes)``; 0 when nothing is labelled."""
    flat_logits = logits.reshape(-1, logits.shape[-1]).float()
    flat_labels = labels.reshape(-1)
    if not (flat_labels != ignore_index).any():
        return flat_logits.sum() * 0.0
    return F.cross_entropy(flat_logits, flat_labels, ignore_index=ignore_index)


BINARY_LOSSES = ("bce", "focal")


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float | None = None, gamma: float = 2.0,
               reduction: str = "mean", mask: torch.Tensor | None = None) -> torch.Tensor:
    """Binary focal loss ``FL(p_t) = -α_t (1 - p_t)^γ log(p_t)`` (Lin et al. 2017, eqs. 4–5), where
    ``p_t = p`` for positives and ``1 - p`` for negatives, ``p = sigmoid(logit)``.

    ``alpha``: weight α for positives, 1 − α for negatives (``None``: no weighting). ``gamma = 0`` and
    ``alpha = None`` give exactly ``binary_cross_entropy_with_logits``. Computed from logits with
    ``logsigmoid``, so logits of ±100 stay finite. ``mask``: elementwise weights (0/1 for missing labels
    of multilabel targets; NaN targets there are ignored); ``mean`` is then ``Σ w·l / Σ w`` (0 when
    nothing is unmasked), ``sum`` is ``Σ w·l``, ``none`` the weighted elementwise losses."""
    if gamma < 0:
        raise ValueError("gamma must be non-negative")
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError("alpha must be in [0, 1]")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"unknown reduction '{reduction}'")
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    targets = targets.to(logits.dtype)
    if mask is not None:
        mask = mask.to(logits.dtype)
        targets = torch.where(mask > 0, targets, torch.zeros_like(targets))  # masked NaN targets → 0
    log_p_t = targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits)
    one_minus_p_t = targets * torch.sigmoid(-logits) + (1 - targets) * torch.sigmoid(logits)
    loss = -log_p_t if gamma == 0 else -one_minus_p_t.pow(gamma) * log_p_t
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if mask is not None:
        loss = torch.where(mask > 0, loss * mask, torch.zeros_like(loss))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if mask is None:
        return loss.mean()
    return loss.sum() / mask.sum().clamp_min(torch.finfo(loss.dtype).tiny)


def binary_loss(name: str, logits: torch.Tensor, targets: torch.Tensor, *, alpha: float | None = None,
                gamma: float = 2.0, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary loss by name: ``bce`` (α-balanced cross entropy, Lin et al. 2017 eq. 3, when ``alpha``
    is given; ``gamma`` is ignored) or ``focal`` (:func:`focal_loss`); ``mask`` as in :func:`focal_loss`."""
    if name not in BINARY_LOSSES:
        raise ValueError(f"unknown binary loss '{name}' (use {' or '.join(BINARY_LOSSES)})")
    return focal_loss(logits, targets, alpha=alpha, gamma=0.0 if name == "bce" else gamma, mask=mask)
