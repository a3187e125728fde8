"""Sums of objectives (``--objective mlm+simclr``): the gradient of ``Σ w_i L_i`` exactly, with gradient caching
and token accumulation inside; weights from the config and the command line; clear errors."""
import pandas as pd
import pytest
import torch

from conftest import run_cli, take_grads, tiny_objective
from seqssl.errors import InputError

CDR3S = ["CASSLGQGAYEQYF", "CASSF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYFAAGGW", "CASSYSGN", "CAWSVGQGAEAFF",
         "CASSLEGTGELFF", "CASSQ", "CASSLAPGATNEKLFF", "CASSEGQGYEQYF", "CASSIRSS", "CASRPGLAGGRPEQYF",
         "CASSFGTEAFF", "CASSL", "CATSDLNTGELFF", "CASSPGQGNYGYTFWW", "CASSYGG", "CASSQEGTSGNTIYF"]


def _reference_grads(objective, batch, weights: dict, seed: int) -> tuple[dict, float]:
    """Autograd of the weighted sum of the parts' own losses (each part's forward, in order, on one generator)."""
    gen = torch.Generator().manual_seed(seed)
    total = sum(weights[part.name] * part(batch, gen)["loss"] for part in objective.parts)
    total.backward()
    return take_grads(objective), float(total.detach())


def _close(got: dict, reference: dict) -> None:
    assert got.keys() == reference.keys() and len(got) > 10
    for key in reference:
        scale = reference[key].abs().max().item()
        assert (got[key] - reference[key]).abs().max().item() <= 2e-5 * scale + 1e-7, key


@pytest.mark.parametrize("name, weights", [("mlm+simclr", {"mlm": 1.0, "simclr": 0.5}),
                                           ("simclr+mlm", {"mlm": 2.0, "simclr": 1.0}),
                                           ("rtd+infonce", {"rtd": 0.3, "infonce": 1.0}),
                                           ("mlm+triplet", {"mlm": 1.0, "triplet": 0.0})])
@pytest.mark.parametrize("chunk_size", [None, 5])
def test_combined_gradient_is_the_gradient_of_the_weighted_sum(name, weights, chunk_size):
    """Plain backward, and with ``chunk_size`` the contrastive part gradient-cached and the token part
    accumulated in micro-batches: the same gradient as one graph of ``Σ w_i L_i``."""
    objective, batch = tiny_objective(name, CDR3S, projection_dim=8, mlm_rate=0.3, generator_fraction=0.5,
                                      weights=weights)
    reference, total = _reference_grads(objective, batch, weights, seed=3)
    cfg = objective.parts[0].cfg
    cfg.chunk_size = chunk_size
    out = objective.forward_backward(objective, batch, torch.Generator().manual_seed(3), cfg, None)
    got = take_grads(objective)
    _close(got, reference)
    assert float(out["loss"]) == pytest.approx(total, rel=1e-5)
    assert {f"{p}_loss" for p in weights} <= set(out)
    assert float(out["loss"]) == pytest.approx(sum(w * float(out[f"{p}_loss"]) for p, w in weights.items()), rel=1e-5)


def test_a_weight_scales_its_part_and_zero_removes_it():
    """The combined gradient with simclr weighted 0 is MLM's alone (the same MLM draws); doubling MLM's
    weight doubles the encoder gradient of that combination."""
    weights = {"mlm": 1.0, "simclr": 0.0}
    objective, batch = tiny_objective("mlm+simclr", CDR3S, projection_dim=8, weights=weights)
    cfg = objective.parts[0].cfg
    objective.forward_backward(objective, batch, torch.Generator().manual_seed(1), cfg, None)
    combined = take_grads(objective)
    mlm = objective.parts[0]
    mlm(batch, torch.Generator().manual_seed(1))["loss"].backward()
    alone = take_grads(objective)
    encoder_keys = [k for k in alone if ".encoder." in k]
    assert encoder_keys
    for key in encoder_keys:
        assert torch.allclose(combined[key], alone[key], rtol=1e-5, atol=1e-8), key
    mlm.loss_weight = 2.0
    objective.forward_backward(objective, batch, torch.Generator().manual_seed(1), cfg, None)
    doubled = take_grads(objective)
    for key in encoder_keys:
        assert torch.allclose(doubled[key], 2 * alone[key], rtol=1e-5, atol=1e-8), key


@pytest.mark.parametrize("name, weights, message", [
    ("mlm+simclr", {"simsiam": 1.0}, "not a part of objective"),
    ("mlm+simclr", {"mlm": -1.0}, "non-negative"),
    ("mlm+adversarial-mlm", {}, "does not combine"),
    ("mlm+mlm", {}, "names a part twice"),
    ("mlm+simclrr", {}, "unknown objective 'simclrr'")])
def test_bad_combinations_are_input_errors(name, weights, message):
    with pytest.raises(InputError, match=message):
        tiny_objective(name, CDR3S, weights=weights)


def test_a_combined_arm_keeps_label_positives_and_a_token_arm_drops_them():
    from seqssl.config import Config
    from seqssl.evaluate.arms import resolve_arm
    from seqssl.evaluate.arms.encoders import PretrainedArm, with_objective
    assert isinstance(resolve_arm("mlm+simclr"), PretrainedArm)
    cfg = Config()
    cfg.pretrain.positives = "label"
    assert with_objective(cfg, "mlm+simclr").pretrain.positives == "label"
    assert with_objective(cfg, "mlm+rtd").pretrain.positives == "augment"


def test_pretrain_cli_logs_each_part_and_the_weighted_sum(tmp_path, small_corpus_csv):
    out = tmp_path / "enc"
    (tmp_path / "small.yaml").write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n"
                                         "  intermediate_size: 32\npretrain:\n  log_every: 1\n"
                                         "  weights:\n    simclr: 0.25\n")
    code = run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective",
                    "mlm+simclr", "--objective-weights", "mlm=2", "--max-steps", "3", "--batch-size", "16",
                    "--config", str(tmp_path / "small.yaml"), "--out", str(out), "--quiet"])
    assert code == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert len(history) == 3
    # the command line's weights add to the config's: mlm 2 (flag), simclr 0.25 (config)
    expected = 2 * history["mlm_loss"] + 0.25 * history["simclr_loss"]
    assert (history["loss"] - expected).abs().max() < 1e-4
    assert history["mlm_accuracy"].between(0, 1).all()
