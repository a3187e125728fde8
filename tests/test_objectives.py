"""Objective behaviour: masking statistics, stop-gradient, RTD labels, one training step each."""
import numpy as np
import pytest
import torch

from seqssl.augment import FIRST_RESIDUE_ID, blosum_substitution_probs, delete_span, mlm_corrupt, substitute
from seqssl.config import ModelConfig, PretrainConfig
from seqssl.data.collate import pad_batch
from seqssl.data.tokenizers import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder
from seqssl.objectives import OBJECTIVES, build_objective

TOK = SequenceTokenizer()
SEQS = [("CASSLGQAYEQYF", "KAYNVTQAF"), ("CASSPDRGNTIYF", "HTTDPSFLGRY"), ("CAWSV", None),
        ("CASSLAPGATNEKLFF", "FPPTSFGPL")] * 4


def _batch(seqs=SEQS):
    encs = [TOK.encode(a, b) for a, b in seqs]
    return pad_batch([e.input_ids for e in encs], [e.token_type_ids for e in encs])


def test_mlm_rates_over_many_draws_and_never_special():
    ids = _batch()["input_ids"]
    gen = torch.Generator().manual_seed(0)
    special = (ids == CLS_ID) | (ids == SEP_ID) | (ids == PAD_ID)
    counts = {"mask": 0, "random": 0, "kept": 0}
    selected_total, residues = 0, int((ids >= FIRST_RESIDUE_ID).sum())
    for _ in range(10_000 // len(ids)):
        out, sel = mlm_corrupt(ids, 0.15, n_residue_ids=20, generator=gen)
        assert not sel[special].any() and (sel.sum(1) >= 1).all()
        assert (out[~sel] == ids[~sel]).all()
        assert ((out[sel] == MASK_ID) | ((out[sel] >= FIRST_RESIDUE_ID) & (out[sel] < FIRST_RESIDUE_ID + 20))).all()
        counts["mask"] += int((out[sel] == MASK_ID).sum())
        changed = sel & (out != MASK_ID) & (out != ids)
        counts["random"] += int(changed.sum())
        counts["kept"] += int((sel & (out == ids)).sum())
        selected_total += int(sel.sum())
    assert counts["mask"] / selected_total == pytest.approx(0.8, abs=0.02)
    # 10% random (1/20 of which redraw the original residue) and 10% kept
    assert counts["random"] / selected_total == pytest.approx(0.1 * 19 / 20, abs=0.015)
    assert counts["kept"] / selected_total == pytest.approx(0.1 + 0.1 / 20, abs=0.015)
    assert selected_total / (residues * (10_000 // len(ids))) == pytest.approx(0.15, abs=0.03)


def test_substitution_changes_exactly_the_chosen_residues_and_blosum_is_a_distribution():
    ids = _batch()["input_ids"]
    out = substitute(ids, 0.2, None, 20, torch.Generator().manual_seed(0))
    n_res = (ids >= FIRST_RESIDUE_ID).sum(1)
    assert ((out != ids).sum(1) == torch.clamp(torch.round(n_res * 0.2).long(), min=1)).all()
    probs = blosum_substitution_probs(TOK.residues)
    assert torch.allclose(probs.sum(1), torch.ones(len(TOK.residues)))
    i, v, w = (TOK.residues.index(r) for r in "IVW")
    assert probs[i, v] > probs[i, w]
    assert (probs.diagonal() == 0).all() and (probs[:, TOK.residues.index("X")] == 0).all()


def test_span_deletion_keeps_specials_and_segments():
    batch = _batch()
    out = delete_span(batch, 0.3, torch.Generator().manual_seed(3))
    for row in range(len(SEQS)):
        before = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        after = out["input_ids"][row][out["attention_mask"][row].bool()].tolist()
        segments = [len(a) for a in SEQS[row] if a]
        allowed = {min(max(1, round(n * 0.3)), max(n - 1, 1)) for n in segments}
        assert len(before) - len(after) in allowed
        assert after.count(SEP_ID) == before.count(SEP_ID) and after[0] == CLS_ID
        # the deleted tokens form one contiguous run of the original
        k = len(before) - len(after)
        assert any(before[:i] + before[i + k:] == after for i in range(len(before) - k + 1))


def test_rtd_labels_on_a_hand_made_example():
    obj = build_objective("rtd-random", SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1),
                                                              TOK.vocab_size), PretrainConfig(), TOK.vocab_size)
    batch = _batch([("CASS", None)])
    original = batch["input_ids"]
    corrupted = original.clone()
    corrupted[0, 2] = TOK.vocab["W"]  # A -> W: replaced
    corrupted[0, 3] = TOK.vocab["S"]  # S -> S: same token, so not replaced
    seen = {}
    obj.discriminator.register_forward_hook(lambda m, i, o: seen.setdefault("logits", o))
    out = obj.discriminate(corrupted, original, batch)
    logits = seen["logits"].squeeze(-1)[0, 1:5]
    target = torch.tensor([0.0, 1.0, 0.0, 0.0])  # C A S S: only position 2 (A) replaced
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def _numpy_forward(sequential, x):
    """``sequential`` (Linear, BatchNorm1d in training mode, ReLU) applied to ``x`` in NumPy float64."""
    for layer in sequential:
        if isinstance(layer, torch.nn.Linear):
            x = x @ layer.weight.detach().double().numpy().T
            x = x if layer.bias is None else x + layer.bias.detach().double().numpy()
        elif isinstance(layer, torch.nn.BatchNorm1d):  # batch statistics, biased variance
            x = (x - x.mean(0)) / np.sqrt(x.var(0) + layer.eps)
            if layer.affine:
                x = x * layer.weight.detach().double().numpy() + layer.bias.detach().double().numpy()
        elif isinstance(layer, torch.nn.ReLU):
            x = np.maximum(x, 0.0)
        else:
            raise AssertionError(f"no NumPy reference for {layer}")
    return x


def _negative_cosine(p, z):
    """D(p, z) = -mean_i cos(p_i, z_i) (Chen & He 2021, eq. 1)."""
    return -np.mean(np.sum(p * z, 1) / np.linalg.norm(p, axis=1) / np.linalg.norm(z, axis=1))


def _central_difference(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def test_simsiam_loss_is_the_symmetric_negative_cosine_with_stop_gradient():
    """SimSiam's own loss (``loss_from_embeddings``) against NumPy: L = D(p1, z2)/2 + D(p2, z1)/2 (eq. 2). Its
    gradient is the finite difference of L with the targets z held fixed (stop-gradient), and not that of L
    with them free; the projections reach the loss through the predictor only."""
    torch.manual_seed(0)
    enc = SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1), TOK.vocab_size)
    obj = build_objective("simsiam", enc, PretrainConfig(projection_dim=16), TOK.vocab_size).double().train()
    rng = np.random.default_rng(0)
    h = [rng.normal(size=(8, 16)) for _ in range(2)]
    ht = [torch.tensor(x, requires_grad=True) for x in h]
    seen = []
    obj.projector.register_forward_hook(lambda m, i, o: seen.append(o) or o.retain_grad())
    loss = obj.loss_from_embeddings(ht, {})["loss"]
    loss.backward()

    def project(x):
        return _numpy_forward(obj.projector, x)

    def predict(z):
        return _numpy_forward(obj.predictor, z)

    z1, z2 = project(h[0]), project(h[1])
    expected = 0.5 * _negative_cosine(predict(z1), z2) + 0.5 * _negative_cosine(predict(z2), z1)
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    # d/dh1 with z2 a constant (stop-gradient): only D(p1, sg(z2)) depends on h1; likewise for h2
    stopped = [_central_difference(lambda x: 0.5 * _negative_cosine(predict(project(x)), z2), h[0]),
               _central_difference(lambda x: 0.5 * _negative_cosine(predict(project(x)), z1), h[1])]
    for t, g in zip(ht, stopped):
        np.testing.assert_allclose(t.grad.numpy(), g, atol=1e-8)
    # without the stop-gradient the gradient would differ: the check above can tell the two apart
    free = _central_difference(lambda x: 0.5 * _negative_cosine(predict(project(x)), z2)
                               + 0.5 * _negative_cosine(predict(z2), project(x)), h[0])
    assert np.abs(free - stopped[0]).max() > 1e-3
    # the projections z1, z2: their gradient is through their own predictions alone, none through the targets
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1].grad.numpy(),
                               _central_difference(lambda z: 0.5 * _negative_cosine(predict(z), z1), z2), atol=1e-8)
    np.testing.assert_allclose(seen[0].grad.numpy(),
                               _central_difference(lambda z: 0.5 * _negative_cosine(predict(z), z2), z1), atol=1e-8)


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_trains_one_step(name):
    torch.manual_seed(0)
    enc = SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1), TOK.vocab_size)
    obj = build_objective(name, enc, PretrainConfig(projection_dim=16, miner="all"), TOK.vocab_size)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    out = obj(_batch(), torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    torch.optim.SGD(obj.parameters(), lr=0.1).step()
    changed = [k for k, v in enc.state_dict().items() if not torch.equal(v, before[k])]
    assert any("embeddings" in k for k in changed), f"{name} did not update the encoder"


def test_infonce_with_labels_counts_same_label_as_positive():
    torch.manual_seed(1)
    enc = SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1), TOK.vocab_size).eval()
    obj = build_objective("infonce", enc, PretrainConfig(projection_dim=16, view="dropout"), TOK.vocab_size).eval()
    batch = _batch()
    groups = torch.tensor([0, 1, 2, 3] * 4)
    with torch.no_grad():
        labelled = obj({**batch, "group": groups})["loss"]
        plain = obj(batch)["loss"]
    assert labelled.item() != pytest.approx(plain.item())
    assert np.isfinite(labelled.item())
