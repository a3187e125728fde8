"""Hard-negative weighting (Robinson et al. 2021, β) and debiasing (Chuang et al. 2020, τ⁺) in the N-way losses:
the loss against an independent NumPy formula, its gradient by finite differences, SimCLR's 2N layout, gradient
caching still exact, and the flags through the CLI."""
import numpy as np
import pytest
import torch
import yaml

from conftest import assert_gradient_cache_exact, run_cli, tiny_objective
from seqssl.losses import info_nce, nt_xent


def numpy_hard_debiased(a, c, positive, ignore, t, beta, tau_plus):
    """Chuang et al. eq. 6 with Robinson et al.'s importance weights, one (anchor, positive) pair at a time."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    c = c / np.linalg.norm(c, axis=1, keepdims=True)
    s = a @ c.T / t
    per_anchor = []
    for i in range(len(a)):
        pos, neg = np.flatnonzero(positive[i]), np.flatnonzero(~positive[i] & ~ignore[i])
        if not len(pos):
            continue
        m = len(neg)
        weights = np.exp(beta * s[i, neg]) / np.exp(beta * s[i, neg]).sum()
        pairs = []
        for p in pos:
            ng = (m * (weights * np.exp(s[i, neg])).sum() - tau_plus * m * np.exp(s[i, p])) / (1 - tau_plus)
            ng = max(ng, m * np.exp(-1 / t))
            pairs.append(-np.log(np.exp(s[i, p]) / (np.exp(s[i, p]) + ng)))
        per_anchor.append(np.mean(pairs))
    return float(np.mean(per_anchor))


def _case(seed: int):
    rng = np.random.default_rng(seed)
    a, c = rng.normal(size=(7, 5)), rng.normal(size=(9, 5))
    positive = np.zeros((7, 9), bool)
    positive[np.arange(7), np.arange(7)] = True
    positive[0, 8] = positive[3, 7] = True  # two anchors with two positives
    positive[6] = False  # an anchor without a positive is skipped
    ignore = np.zeros((7, 9), bool)
    ignore[1, 5] = ignore[2, 0] = True
    return a, c, positive, ignore


@pytest.mark.parametrize("beta, tau_plus, t", [(0.0, 0.1, 0.5), (1.0, 0.0, 0.5), (0.5, 0.1, 0.2), (3.0, 0.3, 0.1)])
def test_loss_equals_the_numpy_formula(beta, tau_plus, t):
    a, c, positive, ignore = _case(0)
    got = info_nce(torch.tensor(a), torch.tensor(c), torch.tensor(positive), t, torch.tensor(ignore), beta, tau_plus)
    assert got.item() == pytest.approx(numpy_hard_debiased(a, c, positive, ignore, t, beta, tau_plus), rel=1e-10)


def test_weighting_moves_the_loss_toward_the_hardest_negative():
    """β up: the negatives' term tends to M e^{max s_n}: the loss rises towards the one-hard-negative loss."""
    a, c, positive, ignore = _case(1)
    args = (torch.tensor(a), torch.tensor(c), torch.tensor(positive), 0.5, torch.tensor(ignore))
    losses = [info_nce(*args, beta, 0.0).item() for beta in (0.0, 1.0, 4.0, 16.0)]
    assert losses == sorted(losses) and losses[-1] > losses[0] + 0.1


def test_gradient_matches_finite_differences():
    a, c, positive, ignore = _case(2)
    anchors = torch.tensor(a, requires_grad=True)
    candidates = torch.tensor(c, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, y: info_nce(x, y, torch.tensor(positive), 0.5, torch.tensor(ignore), 1.5, 0.1),
        (anchors, candidates), eps=1e-6, atol=1e-7)


def test_simclr_layout_reduces_to_nt_xent_when_both_are_off():
    """SimCLR's hard/debiased path builds the 2N-anchor layout itself: with τ⁺ → 0 and β = 0 it must give
    NT-Xent (one positive per anchor, self excluded)."""
    objective, batch = tiny_objective("simclr", ["CASSLGQGAYEQYF", "CASSPDRGNTEAFF", "CASRQGGSYNEQFF",
                                                  "CSARDRGGTDTQYF", "CASSYSGNTIYF", "CAWSVGQGAEAFF"],
                                      projection_dim=8, debias_tau_plus=1e-12)
    torch.manual_seed(0)
    embeddings = [torch.randn(6, 16), torch.randn(6, 16)]
    via_layout = objective.loss_from_embeddings(embeddings, batch)["loss"]
    reference = nt_xent(objective.projector(embeddings[0]), objective.projector(embeddings[1]), 0.1)
    assert via_layout.item() == pytest.approx(reference.item(), rel=1e-6)


@pytest.mark.parametrize("name", ["simclr", "infonce"])
def test_gradient_caching_stays_exact_with_weighting_and_debiasing(name):
    sequences = ["CASSLGQGAYEQYF", "CASSPDRGNTEAFF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYF", "CASSYSGNTIYF",
                 "CAWSVGQGAEAFF", "CASSLEGTGELFF", "CASSQDPNYGYTF", "CASSLAPGATNEKLFF", "CASSEGQGYEQYF"]
    objective, batch = tiny_objective(name, sequences, 0.1, projection_dim=8, mask_tokens=2,
                                      hard_negative_beta=1.0, debias_tau_plus=0.1)
    assert_gradient_cache_exact(objective, batch, 3)


def test_flags_reach_the_config_and_bad_values_are_refused(tmp_path, small_corpus_csv):
    args = ["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "infonce",
            "--max-steps", "2", "--batch-size", "16", "--quiet"]
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n")
    assert run_cli([*args, "--config", str(tiny), "--hard-negative-beta", "0.5", "--debias-tau-plus", "0.1",
                    "--out", str(tmp_path / "ok")]) == 0
    saved = yaml.safe_load((tmp_path / "ok" / "config.yaml").read_text())["pretrain"]
    assert (saved["hard_negative_beta"], saved["debias_tau_plus"]) == (0.5, 0.1)
    assert run_cli([*args, "--config", str(tiny), "--debias-tau-plus", "1.0", "--out", str(tmp_path / "bad")]) == 2
