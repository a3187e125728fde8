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


def test_simsiam_loss_gradient_flows_through_predictors_only():
    """Symmetric loss: d/dz2 of D(p1, sg(z2)) is zero, so z2's gradient equals that of D(p2, z1)/2 alone."""
    from seqssl.losses import negative_cosine
    enc = SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1), TOK.vocab_size)
    obj = build_objective("simsiam", enc, PretrainConfig(projection_dim=16), TOK.vocab_size)
    z1, z2 = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16, requires_grad=True)
    loss = 0.5 * negative_cosine(obj.predictor(z1), z2) + 0.5 * negative_cosine(obj.predictor(z2), z1)
    g2 = torch.autograd.grad(loss, z2)[0]
    z2b = z2.detach().clone().requires_grad_(True)
    only_pred = 0.5 * negative_cosine(obj.predictor(z2b), z1.detach())
    torch.testing.assert_close(g2, torch.autograd.grad(only_pred, z2b)[0])


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
