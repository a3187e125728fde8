"""Adversarial MLM (seed 001): relaxed subset sampling, straight-through noising, the two players."""
import shutil

import pytest
import torch

from conftest import run_cli
from seqssl.augment import FIRST_RESIDUE_ID
from seqssl.config import ModelConfig, PretrainConfig
from seqssl.data.tokenizers import CLS_ID, MASK_ID, SEP_ID, SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder
from seqssl.objectives import build_objective
from seqssl.objectives.adversarial_mlm import noised_ids, noised_inputs
from seqssl.sampling import gumbel_noise, relaxed_subset, reverse_gradient, top_budget
from seqssl.train.optim import build_players

VOCAB = SequenceTokenizer("protein").vocab_size


def _eligible_and_budget():
    eligible = torch.zeros(4, 12, dtype=torch.bool)
    eligible[0, 1:11] = True
    eligible[1, 1:6] = True
    eligible[2, [2, 4, 6, 8]] = True
    eligible[3, 1:3] = True
    return eligible, torch.tensor([3, 1, 4, 0])


def test_soft_mask_sums_to_the_budget_and_stays_on_eligible_tokens():
    eligible, budget = _eligible_and_budget()
    gen = torch.Generator().manual_seed(0)
    for temperature in (0.1, 1.0, 5.0):
        soft = relaxed_subset(torch.randn(4, 12, generator=gen), eligible, budget, temperature, gen)
        assert torch.allclose(soft.sum(1), budget.float(), atol=1e-5)
        assert (soft >= 0).all()
        if temperature <= 1.0:  # (a relaxation: with budget ≈ eligible and a hot softmax, entries pass 1)
            assert (soft[:2] <= 1 + 1e-6).all()
        assert (soft[~eligible] == 0).all()


def test_hard_mask_selects_exactly_the_budget_on_eligible_tokens_only():
    eligible, budget = _eligible_and_budget()
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        soft = relaxed_subset(torch.randn(4, 12, generator=gen), eligible, budget, 1.0, gen)
        hard = top_budget(soft, eligible, budget)
        assert torch.equal(hard.sum(1), budget)
        assert not (hard & ~eligible).any()


def test_low_temperature_relaxation_is_the_gumbel_top_k_of_the_perturbed_scores():
    """Independent reference: as t → 0 the relaxed subset is the top-k of scores + Gumbel noise."""
    eligible, budget = _eligible_and_budget()
    scores = torch.randn(4, 12, generator=torch.Generator().manual_seed(2))
    soft = relaxed_subset(scores, eligible, budget, 1e-3, torch.Generator().manual_seed(3))
    keys = scores + gumbel_noise(scores.shape, torch.Generator().manual_seed(3), scores.device)
    keys = keys.masked_fill(~eligible, -float("inf"))
    for row, k in enumerate(budget.tolist()):
        expected = torch.zeros(12)
        expected[keys[row].topk(k).indices] = 1.0 if k else 0.0
        assert torch.allclose(soft[row], expected, atol=1e-4), row


def test_noised_one_hot_rows_embed_exactly_like_the_noised_ids():
    gen = torch.Generator().manual_seed(4)
    ids = torch.randint(FIRST_RESIDUE_ID, VOCAB - 1, (3, 9), generator=gen)
    ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
    corrupted = ids.clone()
    corrupted[0, 2] = MASK_ID
    chosen = torch.zeros(3, 9)
    chosen[:, 3], chosen[1, 5] = 1.0, 1.0
    option = torch.nn.functional.one_hot(torch.tensor([[0] * 9, [1] * 9, [7] * 9]),
                                         2 + VOCAB - FIRST_RESIDUE_ID - 1).float()
    onehot = noised_inputs(corrupted, ids, chosen, option, VOCAB)
    expected = noised_ids(corrupted, ids, chosen, option)
    assert torch.equal(onehot.argmax(-1), expected) and torch.allclose(onehot.sum(-1), torch.ones(3, 9))
    assert expected[0, 3] == MASK_ID and expected[1, 3] == ids[1, 3] and expected[2, 3] == 7 - 2 + FIRST_RESIDUE_ID
    assert expected[0, 2] == MASK_ID and torch.equal(expected[:, 4], ids[:, 4])
    table = torch.randn(VOCAB, 8)
    assert torch.allclose(onehot @ table, table[expected])


def test_reverse_gradient_negates_the_gradient_and_nothing_else():
    x = torch.randn(5, requires_grad=True)
    w = torch.randn(5)
    y = reverse_gradient(x)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.equal(x.grad, -w)


def _objective(schedule="alternating", **extra):
    """A tiny encoder + noiser; the full option set (mask / keep / replace) unless ``extra`` says otherwise."""
    extra = {"adversarial_mask_types": "all", **extra}
    cfg = PretrainConfig(objective="adversarial-mlm", adversarial_schedule=schedule, noiser_layers=2,
                         noiser_embedding_size=16, noiser_hidden_size=16, **extra)
    torch.manual_seed(0)
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                                                max_length=20), VOCAB)
    return build_objective("adversarial-mlm", encoder, cfg, VOCAB)


def _batch(sequences):
    from seqssl.data.collate import pad_batch
    enc = [SequenceTokenizer("protein").encode(s) for s in sequences]
    return pad_batch([e.input_ids for e in enc], [e.token_type_ids for e in enc])


CDR3S = ["CASSLGQGAYEQYF", "CASSPDRGNTEAFF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYF", "CASSYSGNTIYF",
         "CAWSVGQGAEAFF", "CASSLEGTGELFF", "CASSQDPNYGYTF"]


def test_noiser_phase_gradient_reaches_every_noiser_parameter_and_no_encoder_weight():
    objective = _objective(adversarial_rate=0.2, adversarial_random_rate=0.1)
    objective.active_players = ("noiser",)
    out = objective(_batch(CDR3S), torch.Generator().manual_seed(0))
    noiser = list(objective.noiser.parameters())
    out["loss"].backward(inputs=noiser)
    for name, p in objective.noiser.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in objective.encoder.parameters())


def test_joint_schedule_gives_the_noiser_the_negated_gradient_of_the_mlm_loss():
    """Joint: one backward; the noiser receives −∂L/∂θ. Reference: the same forward with the
    reversal removed (a monkeypatched identity) gives exactly the opposite noiser gradient."""
    import seqssl.objectives.adversarial_mlm as adv
    grads = []
    for reverse in (True, False):
        objective = _objective("joint")
        objective.active_players = ("encoder", "noiser")
        if not reverse:
            original, adv.reverse_gradient = adv.reverse_gradient, lambda x: x
        try:
            objective(_batch(CDR3S), torch.Generator().manual_seed(5))["loss"].backward()
        finally:
            if not reverse:
                adv.reverse_gradient = original
        grads.append([p.grad.clone() for p in objective.noiser.parameters()])
        assert all(p.grad is not None for p in objective.encoder.parameters() if p.requires_grad)
    for reversed_, plain in zip(*grads):
        assert torch.allclose(reversed_, -plain, atol=1e-6)


@pytest.mark.parametrize("n_noise,n_enc,updates", [(10, 10, 25), (3, 7, 7), (1, 1, 5), (2, 10, 30)])
def test_alternating_schedule_spends_exactly_the_encoder_budget(n_noise, n_enc, updates):
    objective = _objective(noiser_steps=n_noise, encoder_steps=n_enc)
    total = objective.loop_steps(updates)
    phases = [objective.players_at(i) for i in range(total)]
    assert phases.count(("encoder",)) == updates and phases[-1] == ("encoder",)
    assert phases[:n_noise] == [("noiser",)] * n_noise
    players = build_players(objective, objective.cfg, total)
    assert players["encoder"].updates == updates and players["noiser"].updates == total - updates


def test_noiser_learns_to_mask_what_a_frozen_encoder_cannot_predict():
    """Planted structure: 6 random residues, then the constant motif GGGGGG. A small encoder trained
    with MLM predicts the motif and not the random part; a noiser trained against it (encoder frozen)
    must find the random part, so its masks cost the encoder more than random masks do."""
    gen = torch.Generator().manual_seed(0)
    alphabet = "ACDEFHIKLMNPQRSTVWY"
    corpus = ["".join(alphabet[i] for i in torch.randint(0, len(alphabet), (6,), generator=gen)) + "GGGGGG"
              for _ in range(128)]
    batch = _batch(corpus)
    objective = _objective(adversarial_rate=0.25, adversarial_random_rate=0.0, noiser_lr=1e-2, lr=1e-2,
                           warmup_ratio=0.0, scheduler="constant")
    players = build_players(objective, objective.cfg, 10_000)
    objective.train()
    for _ in range(60):  # the encoder alone (random masks: an untrained noiser is near-random)
        objective.active_players = ("encoder",)
        objective(batch, gen)["loss"].backward(inputs=players["encoder"].params)
        players["encoder"].step(1.0)

    def losses():
        with torch.no_grad():
            out = [objective(batch, torch.Generator().manual_seed(s)) for s in range(5)]
        return sum(float(o["loss_adversarial"]) for o in out) / 5

    before = losses()
    for _ in range(30):
        objective.active_players = ("noiser",)
        objective(batch, gen)["loss"].backward(inputs=players["noiser"].params)
        players["noiser"].step(1.0)
    after = losses()
    # reference: the same encoder's loss under uniformly random masks of the same size
    from seqssl.augment import mask_tokens
    with torch.no_grad():
        random_losses = []
        for s in range(5):
            masked = mask_tokens(batch["input_ids"], rate=0.25, generator=torch.Generator().manual_seed(s))
            states = objective.encoder.token_states(masked, batch["attention_mask"], batch["token_type_ids"])
            chosen = masked == MASK_ID
            random_losses.append(float(torch.nn.functional.cross_entropy(
                objective.head(states)[chosen], batch["input_ids"][chosen])))
    random_loss = sum(random_losses) / 5
    print(f"adversarial before {before:.3f}, after {after:.3f}; random masks {random_loss:.3f}")
    assert after > random_loss + 0.5, (before, after, random_loss)
    assert after > before


def test_adversarial_mlm_checkpoints_both_players_and_resumes_exactly(tmp_path, small_corpus_csv):
    config = tmp_path / "adv.yaml"
    config.write_text("pretrain:\n  noiser_steps: 2\n  encoder_steps: 1\n  noiser_layers: 1\n"
                      "model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n")

    def args(out):  # 4 encoder updates = 12 loop steps (N N E ×4), a checkpoint every 2
        return ["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective",
                "adversarial-mlm", "--config", str(config), "--max-steps", "4", "--batch-size", "32",
                "--checkpoint-every", "2", "--out", str(out), "--quiet"]
    assert run_cli(args(tmp_path / "ref")) == 0
    rolled = tmp_path / "rolled"
    assert run_cli(args(rolled)) == 0
    checkpoints = rolled / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("step-*")) == ["step-00000010", "step-00000012"]
    assert {p.name for p in (checkpoints / "step-00000010").glob("optimizer-*")} == \
        {"optimizer-encoder.safetensors", "optimizer-noiser.safetensors"}
    shutil.rmtree(checkpoints / "step-00000012")  # roll back: loop steps 10 (noiser) and 11 (encoder) again
    (checkpoints / "LATEST").write_text("step-00000010")
    (rolled / "model.safetensors").unlink()
    assert run_cli([*args(rolled), "--resume"]) == 0
    from safetensors.torch import load_file
    ref, got = load_file(str(tmp_path / "ref" / "model.safetensors")), load_file(str(rolled / "model.safetensors"))
    for name in ref:
        assert torch.equal(ref[name], got[name]), name


def test_mask_only_mode_masks_every_adversarial_choice_with_the_mask_token():
    objective = _objective(adversarial_mask_types="mask", adversarial_rate=0.3, adversarial_random_rate=0.0)
    objective.active_players = ("noiser",)
    out = objective(_batch(CDR3S), torch.Generator().manual_seed(0))
    assert float(out["adversarial_mask_share"]) == 1.0 and float(out["adversarial_rate"]) > 0.25
    out["loss"].backward(inputs=list(objective.noiser.parameters()))  # position scores still learn
    assert objective.noiser.out.weight.grad[0].abs().sum() > 0


def test_history_logs_both_players_losses_rates_and_entropies(tmp_path, small_corpus_csv):
    import pandas as pd
    config = tmp_path / "adv.yaml"
    config.write_text("pretrain:\n  noiser_steps: 2\n  encoder_steps: 2\n  log_every: 4\n  noiser_layers: 1\n"
                      "model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n")
    out = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective",
                    "adversarial-mlm", "--config", str(config), "--max-steps", "4", "--batch-size", "32",
                    "--out", str(out), "--quiet"]) == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert list(history["step"]) == [4, 8] and list(history["encoder_updates"]) == [2, 2]
    assert list(history["noiser_updates"]) == [2, 2]
    for column in ("encoder_loss", "noiser_loss", "adversarial_rate", "random_rate", "loss_adversarial",
                   "loss_random", "noiser_entropy", "lr_encoder", "lr_noiser"):
        assert history[column].notna().all(), column
    assert (history["noiser_loss"] < 0).all() and history["adversarial_rate"].between(0.05, 0.15).all()
