"""View-makers for contrastive pretraining: pure functions of (token ids, seeded generator)."""
from __future__ import annotations

import numpy as np
import torch

from .config import CHOICES
from .data.tokenizers import MASK_ID, SPECIAL_TOKENS

FIRST_RESIDUE_ID = len(SPECIAL_TOKENS)


def residue_positions(input_ids: torch.Tensor) -> torch.Tensor:
    """True where a token is a residue (never ``[PAD] [CLS] [SEP] [MASK] [UNK]``)."""
    return input_ids >= FIRST_RESIDUE_ID


def choose_positions(eligible: torch.Tensor, counts: torch.Tensor, generator: torch.Generator | None):
    """Pick exactly ``min(counts[i], eligible[i].sum())`` eligible positions per row, uniformly."""
    scores = torch.rand(eligible.shape, generator=generator, device=eligible.device)
    scores = scores.masked_fill(~eligible, -1.0)
    rank = scores.argsort(dim=1, descending=True).argsort(dim=1)
    return eligible & (rank < counts.unsqueeze(1))


def mask_tokens(input_ids: torch.Tensor, k: int = 1, rate: float | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace ``k`` residues per sequence (or ``max(1, round(rate * length))``) by ``[MASK]``.

    The view-maker of seed 000: one masked token per view by default. Special and padding tokens
    are never masked.
    """
    eligible = residue_positions(input_ids)
    n_residues = eligible.sum(1)
    if rate is not None:
        counts = torch.clamp(torch.round(n_residues.float() * rate).long(), min=1)
    else:
        counts = torch.full_like(n_residues, int(k))
    chosen = choose_positions(eligible, counts, generator)
    return input_ids.masked_fill(chosen, MASK_ID)


def mlm_corrupt(input_ids: torch.Tensor, rate: float = 0.15, mask_fraction: float = 0.8,
                random_fraction: float = 0.1, n_residue_ids: int | None = None,
                generator: torch.Generator | None = None):
    """BERT's masking (Devlin et al. 2019, sec. 3.1): select ``rate`` of the residues (at least one per
    sequence), replace 80% of them by ``[MASK]``, 10% by a random residue, keep 10%.

    Replacements are drawn from the residue alphabet only; specials and padding are never selected.
    Returns ``(corrupted ids, selected positions)``.
    """
    eligible = residue_positions(input_ids)
    counts = torch.clamp(torch.round(eligible.sum(1).float() * rate).long(), min=1)
    selected = choose_positions(eligible, counts, generator)
    roll = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    to_mask = selected & (roll < mask_fraction)
    to_random = selected & (roll >= mask_fraction) & (roll < mask_fraction + random_fraction)
    n_res = n_residue_ids if n_residue_ids is not None else int(input_ids.max().item()) - FIRST_RESIDUE_ID + 1
    random_ids = torch.randint(FIRST_RESIDUE_ID, FIRST_RESIDUE_ID + n_res, input_ids.shape,
                               generator=generator, device=input_ids.device)
    out = input_ids.masked_fill(to_mask, MASK_ID)
    out = torch.where(to_random, random_ids, out)
    return out, selected


# BLOSUM62 (Henikoff & Henikoff 1992), rows/columns in this order:
BLOSUM_ORDER = "ARNDCQEGHILKMFPSTWYV"
BLOSUM62 = [
    [4, -1, -2, -2, 0, -1, -1, 0, -2, -1, -1, -1, -1, -2, -1, 1, 0, -3, -2, 0],
    [-1, 5, 0, -2, -3, 1, 0, -2, 0, -3, -2, 2, -1, -3, -2, -1, -1, -3, -2, -3],
    [-2, 0, 6, 1, -3, 0, 0, 0, 1, -3, -3, 0, -2, -3, -2, 1, 0, -4, -2, -3],
    [-2, -2, 1, 6, -3, 0, 2, -1, -1, -3, -4, -1, -3, -3, -1, 0, -1, -4, -3, -3],
    [0, -3, -3, -3, 9, -3, -4, -3, -3, -1, -1, -3, -1, -2, -3, -1, -1, -2, -2, -1],
    [-1, 1, 0, 0, -3, 5, 2, -2, 0, -3, -2, 1, 0, -3, -1, 0, -1, -2, -1, -2],
    [-1, 0, 0, 2, -4, 2, 5, -2, 0, -3, -3, 1, -2, -3, -1, 0, -1, -3, -2, -2],
    [0, -2, 0, -1, -3, -2, -2, 6, -2, -4, -4, -2, -3, -3, -2, 0, -2, -2, -3, -3],
    [-2, 0, 1, -1, -3, 0, 0, -2, 8, -3, -3, -1, -2, -1, -2, -1, -2, -2, 2, -3],
    [-1, -3, -3, -3, -1, -3, -3, -4, -3, 4, 2, -3, 1, 0, -3, -2, -1, -3, -1, 3],
    [-1, -2, -3, -4, -1, -2, -3, -4, -3, 2, 4, -2, 2, 0, -3, -2, -1, -2, -1, 1],
    [-1, 2, 0, -1, -3, 1, 1, -2, -1, -3, -2, 5, -1, -3, -1, 0, -1, -3, -2, -2],
    [-1, -1, -2, -3, -1, 0, -2, -3, -2, 1, 2, -1, 5, 0, -2, -1, -1, -1, -1, 1],
    [-2, -3, -3, -3, -2, -3, -3, -3, -1, 0, 0, -3, 0, 6, -4, -2, -2, 1, 3, -1],
    [-1, -2, -2, -1, -3, -1, -1, -2, -2, -3, -3, -1, -2, -4, 7, -1, -1, -4, -3, -2],
    [1, -1, 1, 0, -1, 0, 0, 0, -1, -2, -2, 0, -1, -2, -1, 4, 1, -3, -2, -2],
    [0, -1, 0, -1, -1, -1, -1, -2, -2, -1, -1, -1, -1, -2, -1, 1, 5, -2, -2, 0],
    [-3, -3, -4, -4, -2, -2, -3, -2, -2, -3, -2, -3, -1, 1, -4, -3, -2, 11, 2, -3],
    [-2, -2, -2, -3, -2, -1, -2, -3, 2, -1, -1, -2, -1, 3, -3, -2, -2, 2, 7, -1],
    [0, -3, -3, -3, -1, -2, -2, -3, -3, 3, 1, -2, 1, -1, -2, -2, 0, -3, -1, 4],
]


def blosum_substitution_probs(residues: str) -> torch.Tensor:
    """``P[a, b]`` ∝ 2^(S62[a, b] / 2) for b != a (BLOSUM scores are in half-bits), over ``residues``;
    residues outside the 20 standard ones (X) are never drawn and are replaced uniformly."""
    n = len(residues)
    probs = torch.zeros(n, n)
    for i, a in enumerate(residues):
        for j, b in enumerate(residues):
            if i == j:
                continue
            if a in BLOSUM_ORDER and b in BLOSUM_ORDER:
                probs[i, j] = 2.0 ** (BLOSUM62[BLOSUM_ORDER.index(a)][BLOSUM_ORDER.index(b)] / 2.0)
            elif a not in BLOSUM_ORDER and b in BLOSUM_ORDER:
                probs[i, j] = 1.0
    return probs / probs.sum(1, keepdim=True)


def substitute(input_ids: torch.Tensor, rate: float, probs: torch.Tensor | None, n_residue_ids: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace ``max(1, round(rate * length))`` residues by another residue: uniformly
    (``probs=None``) or from ``probs[original]`` (e.g. BLOSUM62-weighted)."""
    eligible = residue_positions(input_ids)
    counts = torch.clamp(torch.round(eligible.sum(1).float() * rate).long(), min=1)
    chosen = choose_positions(eligible, counts, generator)
    if probs is None:
        probs = (1 - torch.eye(n_residue_ids)) / (n_residue_ids - 1)
    probs = probs.to(input_ids.device)
    original = (input_ids - FIRST_RESIDUE_ID).clamp(0, n_residue_ids - 1)
    flat = probs[original.reshape(-1)]
    drawn = torch.multinomial(flat, 1, generator=generator).reshape(input_ids.shape) + FIRST_RESIDUE_ID
    return torch.where(chosen, drawn, input_ids)


def delete_span(batch: dict, rate: float, generator: torch.Generator | None = None) -> dict:
    """Delete one contiguous span of ``max(1, round(rate * L))`` residues from one segment of length L
    (the segment of a uniformly chosen residue; at least one residue is kept), closing the gap."""
    ids, types = batch["input_ids"], batch["token_type_ids"]
    eligible = residue_positions(ids)
    pick = choose_positions(eligible, torch.ones(ids.shape[0], dtype=torch.long, device=ids.device), generator)
    segment = types.gather(1, pick.float().argmax(1, keepdim=True))
    in_segment = eligible & (types == segment)
    seg_len = in_segment.sum(1)
    seg_start = in_segment.float().argmax(1)
    length = torch.round(seg_len.float() * rate).long().clamp(min=1)
    length = torch.minimum(length, (seg_len - 1).clamp(min=0))  # a one-residue segment is left whole
    offset = (torch.rand(ids.shape[0], generator=generator, device=ids.device) * (seg_len - length + 1)).long()
    start = seg_start + offset
    pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
    span = (pos >= start.unsqueeze(1)) & (pos < (start + length).unsqueeze(1)) & in_segment
    order = torch.argsort(span.int(), dim=1, stable=True)  # kept tokens first, in order
    new_ids = ids.gather(1, order).masked_fill(span.gather(1, order), 0)
    return {"input_ids": new_ids, "token_type_ids": types.gather(1, order) * (new_ids != 0),
            "attention_mask": (new_ids != 0).long()}


VIEWS = CHOICES["pretrain.view"]  # the list lives in seqssl.config.CHOICES
_BLOSUM_CACHE: dict = {}


def make_view(batch: dict, cfg, n_residue_ids: int, generator: torch.Generator | None = None) -> dict:
    """One augmented view of a batch, chosen by ``cfg.view`` (see :data:`VIEWS`); ``dropout`` returns
    the batch unchanged, so the two views differ by the encoder's dropout only (SimCSE)."""
    ids = batch["input_ids"]
    if cfg.view == "mask":
        return {**batch, "input_ids": mask_tokens(ids, cfg.mask_tokens, cfg.mask_rate, generator)}
    if cfg.view in ("substitute", "blosum"):
        probs = None
        if cfg.view == "blosum":
            from .data.tokenizers import ALPHABETS
            if n_residue_ids != len(ALPHABETS["protein"]) - 1:
                from .errors import InputError
                raise InputError("view=blosum is for the protein alphabet only", fix="use --view substitute")
            residues = ALPHABETS["protein"][:n_residue_ids]
            probs = _BLOSUM_CACHE.setdefault(residues, blosum_substitution_probs(residues))
        return {**batch, "input_ids": substitute(ids, cfg.view_rate, probs, n_residue_ids, generator)}
    if cfg.view == "crop":
        return delete_span(batch, cfg.view_rate, generator)
    if cfg.view == "dropout":
        return dict(batch)
    raise ValueError(f"unknown view '{cfg.view}', use one of {VIEWS}")


def randomized_smiles(smiles: str, rng: np.random.Generator) -> str:
    """The same molecule written from a random atom order (SMILES enumeration, Bjerrum 2017,
    arXiv:1703.07076): RDKit renumbers the atoms by a permutation drawn from ``rng`` and writes
    non-canonical SMILES. Deterministic for a given ``rng`` state; unparsable input comes back unchanged."""
    from .extras import require
    require("rdkit", "randomised SMILES views (--positives smiles)")
    from rdkit import Chem, rdBase
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None or mol.GetNumAtoms() == 0:
            return smiles
        order = rng.permutation(mol.GetNumAtoms()).tolist()
        return Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)
