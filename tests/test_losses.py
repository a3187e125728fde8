import numpy as np
import pytest
import torch

from seqssl.losses import nt_xent


def nt_xent_reference(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """SimCLR eq. 1 with explicit loops: l(i,j) = -log exp(s_ij/t) / sum_{k != i} exp(s_ik/t)."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n2 = len(z)
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        denom = sum(np.exp(z[i] @ z[k] / tau) for k in range(n2) if k != i)
        total += -np.log(np.exp(z[i] @ z[j] / tau) / denom)
    return total / n2


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("n,d", [(2, 3), (7, 16)])
def test_nt_xent_matches_loop_reference(tau, n, d):
    rng = np.random.default_rng(n * 100 + d)
    z1, z2 = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    got = nt_xent(torch.tensor(z1), torch.tensor(z2), tau).item()
    assert got == pytest.approx(nt_xent_reference(z1, z2, tau), rel=1e-5)


def test_nt_xent_is_scale_invariant_and_excludes_self_similarity():
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    a = nt_xent(torch.tensor(z1), torch.tensor(z2), 0.2).item()
    b = nt_xent(torch.tensor(3 * z1), torch.tensor(0.5 * z2), 0.2).item()
    assert a == pytest.approx(b, rel=1e-6)
    # identical views of orthogonal vectors: the positive is the only similar one -> loss near 0
    eye = torch.eye(4)
    assert nt_xent(eye, eye, 0.01).item() < 1e-6


def test_nt_xent_low_temperature_is_finite_in_bf16():
    z = torch.randn(64, 32)
    loss = nt_xent(z.bfloat16(), (z + 0.01 * torch.randn_like(z)).bfloat16(), temperature=0.01)
    assert torch.isfinite(loss)


def test_nt_xent_gradient_matches_finite_differences():
    torch.manual_seed(0)
    z1 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.3).double(), (z1, z2))


def test_blockwise_nt_xent_equals_the_full_matrix_loss_and_gradient():
    """Large batches take the row-block path; loss and gradient equal the (2N)² computation."""
    from seqssl.losses import nt_xent
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(50, 8, generator=gen, dtype=torch.float64)
    z2 = torch.randn(50, 8, generator=gen, dtype=torch.float64)
    grads = []
    for block in (10_000, 7):  # full matrix, then blocks of 7 rows (100 anchors: uneven last block)
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss = nt_xent(a, b, 0.2, block_rows=block)
        loss.backward()
        grads.append((loss.detach(), a.grad, b.grad))
    (l_full, a_full, b_full), (l_block, a_block, b_block) = grads
    assert torch.allclose(l_full, l_block, atol=1e-12)
    assert torch.allclose(a_full, a_block, atol=1e-12) and torch.allclose(b_full, b_block, atol=1e-12)
