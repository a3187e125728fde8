"""Gradient accumulation of token objectives: micro-batches give the whole batch's gradient, normalised
per predicted token; a mean of micro-batch means would not."""
import pytest
import torch

from conftest import take_grads, tiny_objective
from seqssl.train.accumulate import row_slice, token_backward

# lengths 8 to 19: micro-batches predict different numbers of tokens
CDR3S = ["CASSLGQGAYEQYF", "CASSF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYFAAGGW", "CASSYSGN", "CAWSVGQGAEAFF",
         "CASSLEGTGELFF", "CASSQ", "CASSLAPGATNEKLFF", "CASSEGQGYEQYF", "CASSIRSS", "CASRPGLAGGRPEQYF",
         "CASSFGTEAFF", "CASSL", "CATSDLNTGELFF", "CASSPGQGNYGYTFWW", "CASSYGG", "CASSQEGTSGNTIYF"]


def _objective(name: str):
    return tiny_objective(name, CDR3S, mlm_rate=0.3, replace_rate=0.3, generator_fraction=0.5)


_grads = take_grads



@pytest.mark.parametrize("name", ["mlm", "rtd", "rtd-random"])
def test_micro_batches_give_the_whole_batch_gradient(name):
    objective, batch = _objective(name)
    draws = objective.draw(batch, torch.Generator().manual_seed(3))
    whole = objective({**batch, "draws": draws})  # the reference: one graph over all 18 rows
    whole["loss"].backward()
    reference = _grads(objective)
    out = token_backward(objective, objective, batch, torch.Generator().manual_seed(3), chunk_size=5)
    accumulated = _grads(objective)
    assert out["loss"].item() == pytest.approx(whole["loss"].item(), rel=1e-5)
    assert reference.keys() == accumulated.keys() and len(reference) > 5
    for key in reference:
        scale = reference[key].abs().max().item()  # float32 summation order differs: relative to the tensor
        assert (accumulated[key] - reference[key]).abs().max().item() <= 1e-5 * scale + 1e-8, key
    # the naive alternative, a mean of micro-batch means, is measurably different
    for start in range(0, 18, 5):
        part = row_slice({**batch, "draws": draws}, start, start + 5)
        (objective(part)["loss"] * len(part["input_ids"]) / 18).backward()
    naive = _grads(objective)
    assert max((naive[k] - reference[k]).abs().max().item() for k in reference) > 1e-4


def test_mlm_loss_is_cross_entropy_summed_over_the_batch_over_its_predicted_tokens():
    objective, batch = _objective("mlm")
    gen = torch.Generator().manual_seed(1)
    draws = objective.draw(batch, gen)
    out = token_backward(objective, objective, batch, torch.Generator().manual_seed(1), chunk_size=4)
    objective.zero_grad()
    with torch.no_grad():
        logits = objective.head(objective.encoder.token_states(draws["corrupted"], batch["attention_mask"],
                                                               batch["token_type_ids"]))
    selected = draws["selected"]
    manual = -torch.log_softmax(logits[selected].double(), -1).gather(1, batch["input_ids"][selected][:, None]).sum()
    assert out["loss"].item() == pytest.approx((manual / selected.sum()).item(), rel=1e-5)
    assert out["n_predicted"].item() == selected.sum().item()


@pytest.mark.parametrize("players", [("encoder",), ("noiser",), ("encoder", "noiser")])
@pytest.mark.parametrize("mask_types", ["mask", "all"])
def test_adversarial_micro_batches_give_the_whole_batch_gradient(players, mask_types):
    """Every draw, the noiser's Gumbel noise included, is made for the whole batch: each player's
    accumulated gradient is the whole batch's, and every masked token is counted once."""
    objective, batch = _objective("adversarial-mlm")
    objective.cfg.adversarial_mask_types = mask_types
    objective.active_players = players
    params = [p for name in players for p in objective.players()[name][0]]
    draws = objective.draw(batch, torch.Generator().manual_seed(4))
    whole = objective({**batch, "draws": draws})
    whole["loss"].backward(inputs=params)
    reference = _grads(objective)
    out = token_backward(objective, objective, batch, torch.Generator().manual_seed(4), chunk_size=5, inputs=params)
    accumulated = _grads(objective)
    assert out["n_predicted"].item() == objective.token_counts({**batch, "draws": draws})["mlm"].item() > 18
    assert out["loss"].item() == pytest.approx(whole["loss"].item(), rel=1e-5)
    assert reference.keys() == accumulated.keys() and objective.normalizers is None
    noiser = {n for n, _ in objective.named_parameters() if n.startswith("noiser.")}
    assert (set(reference) & noiser) == (noiser if "noiser" in players else set())
    for key in reference:
        scale = reference[key].abs().max().item()
        assert (accumulated[key] - reference[key]).abs().max().item() <= 1e-5 * scale + 1e-8, key


def test_chunk_size_through_the_cli_trains_mlm(tmp_path, small_corpus_csv):
    import pandas as pd

    from conftest import run_cli
    out = tmp_path / "mlm"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "mlm",
                    "--max-steps", "3", "--batch-size", "32", "--chunk-size", "8", "--out", str(out),
                    "--quiet"]) == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert history["loss"].notna().all() and (out / "model.safetensors").exists()
