"""Losses of the objectives issue against independent reference computations."""
import numpy as np
import pytest
import torch

from conftest import tiny_objective
from seqssl.losses import info_nce, masked_token_loss, negative_cosine, pairwise_distance, triplet_margin
from seqssl.objectives.miners import mine_triplets


def _norm(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_negative_cosine_matches_numpy_and_stops_gradient():
    rng = np.random.default_rng(0)
    p, z = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    expected = -np.mean(np.sum(_norm(p) * _norm(z), 1))
    pt, zt = torch.tensor(p, requires_grad=True), torch.tensor(z, requires_grad=True)
    loss = negative_cosine(pt, zt)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert zt.grad is None and pt.grad is not None


def info_nce_reference(a, c, pos, tau, ignore=None):
    a, c = _norm(a), _norm(c)
    losses = []
    for i in range(len(a)):
        keep = [k for k in range(len(c)) if ignore is None or not ignore[i, k] or pos[i, k]]
        denom = sum(np.exp(a[i] @ c[k] / tau) for k in keep)
        ps = [k for k in range(len(c)) if pos[i, k]]
        if ps:
            losses.append(np.mean([-np.log(np.exp(a[i] @ c[p] / tau) / denom) for p in ps]))
    return np.mean(losses)


def test_info_nce_single_and_multiple_positives_and_ignored_duplicates():
    rng = np.random.default_rng(1)
    a, c = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    pos = np.zeros((5, 7), bool)
    pos[np.arange(5), np.arange(5)] = True
    pos[0, 3] = True  # a label-aware second positive
    ignore = np.zeros((5, 7), bool)
    ignore[1, 2] = ignore[4, 6] = True
    for ign in (None, ignore):
        got = info_nce(torch.tensor(a), torch.tensor(c), torch.tensor(pos), 0.2,
                       None if ign is None else torch.tensor(ign)).item()
        assert got == pytest.approx(info_nce_reference(a, c, pos, 0.2, ign), rel=1e-6)


def test_triplet_margin_and_distances_match_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 3))
    d_cos = 1 - _norm(x) @ _norm(x).T
    d_euc = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    torch.testing.assert_close(pairwise_distance(torch.tensor(x), "cosine"), torch.tensor(d_cos))
    torch.testing.assert_close(pairwise_distance(torch.tensor(x), "euclidean"), torch.tensor(d_euc),
                               atol=1e-5, rtol=1e-5)
    trip = torch.tensor([[0, 1, 2], [3, 4, 5]])
    expected = np.mean([max(0, d_euc[0, 1] - d_euc[0, 2] + 0.5), max(0, d_euc[3, 4] - d_euc[3, 5] + 0.5)])
    assert triplet_margin(torch.tensor(d_euc), trip, 0.5).item() == pytest.approx(expected)


def test_miners_on_a_hand_made_example():
    # points on a line; labels: 0,0,1,1 ; distances |xi - xj|
    x = torch.tensor([[0.0], [1.0], [1.5], [5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    d = pairwise_distance(x, "euclidean")
    every = {tuple(t) for t in mine_triplets(d, labels, "all").tolist()}
    assert len(every) == 8 and (0, 1, 2) in every and (2, 3, 0) in every
    hardest = {tuple(t) for t in mine_triplets(d, labels, "hardest").tolist()}
    # anchor 0: positive 1, nearest negative 2 (1.5); anchor 2: positive 3, nearest negative 1 (0.5)
    assert hardest == {(0, 1, 2), (1, 0, 2), (2, 3, 1), (3, 2, 1)}
    semi = {tuple(t) for t in mine_triplets(d, labels, "semi-hard", margin=1.0).tolist()}
    # semi-hard: d(a,p) < d(a,n) < d(a,p) + margin; (0,1,2): 1 < 1.5 < 2 yes; (0,1,3): 5 no
    assert (0, 1, 2) in semi and (0, 1, 3) not in semi
    for a, p, n in semi:
        assert d[a, p] < d[a, n] < d[a, p] + 1.0


def _log_softmax(x):
    """log softmax over the last axis, by hand (shifted by the row maximum)."""
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _masked_nll(logits, targets, selected):
    """Per-position negative log-likelihood of ``targets``, at the ``selected`` positions only."""
    return -np.take_along_axis(_log_softmax(logits), targets[..., None], -1)[..., 0][selected]


def test_masked_token_loss_is_a_numpy_cross_entropy_over_the_selected_positions_only():
    rng = np.random.default_rng(5)
    logits = 3 * rng.normal(size=(3, 7, 11))
    targets = rng.integers(0, 11, (3, 7))
    selected = rng.random((3, 7)) < 0.3
    selected[0, 0] = True
    nll = _masked_nll(logits, targets, selected)
    args = torch.tensor(logits), torch.tensor(targets), torch.tensor(selected)
    assert masked_token_loss(*args).item() == pytest.approx(nll.mean(), rel=1e-6)  # mean per predicted token
    assert masked_token_loss(*args, reduction="sum").item() == pytest.approx(nll.sum(), rel=1e-6)
    elsewhere = logits.copy()
    elsewhere[~selected] = 50 * rng.normal(size=((~selected).sum(), 11))  # unselected positions do not count
    assert masked_token_loss(torch.tensor(elsewhere), *args[1:]).item() == pytest.approx(nll.mean(), rel=1e-6)


def test_mlm_objective_loss_is_the_numpy_cross_entropy_of_the_original_residues_at_the_masked_positions():
    """The MLM objective's loss: the head's logits at every position, the original (not the corrupted) ids as
    targets, averaged over the selected positions only, by hand."""
    objective, batch = tiny_objective("mlm", ["CASSLGQAYEQYF", "CASSPDRGNTIYF", "CAWSV", "CASSLAPGATNEKLFF"],
                                      mlm_rate=0.3)
    draws = objective.draw(batch, torch.Generator().manual_seed(0))
    selected = draws["selected"]
    assert 0 < int(selected.sum()) < int(batch["attention_mask"].sum())
    assert (draws["corrupted"][selected] != batch["input_ids"][selected]).any()  # the targets are not the inputs
    loss = objective({**batch, "draws": draws})["loss"]
    with torch.no_grad():  # (no dropout: the same states as in the objective's forward)
        states = objective.encoder.token_states(draws["corrupted"], batch["attention_mask"], batch["token_type_ids"])
        logits = objective.head(states).double().numpy()  # every position, not only the selected ones
    expected = _masked_nll(logits, batch["input_ids"].numpy(), selected.numpy()).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
