"""MoCo (He et al. 2020; v3: Chen, Xie & He 2021): the queue's order and overwrite, the momentum update and its
schedule, in-batch InfoNCE at K = 0, the queue's keys as negatives, only the online weights optimised, and an
exact resume after SIGKILL (the queue and the momentum encoder are checkpointed)."""
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from conftest import run_cli, sigkill_after_checkpoint, tiny_objective
from seqssl.losses import info_nce
from seqssl.objectives.moco import KeyQueue, momentum_at
from seqssl.train.optim import build_players

CDR3S = ["CASSLGQGAYEQYF", "CASSPDRGNTEAFF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYF", "CASSYSGNTIYF", "CAWSVGQGAEAFF",
         "CASSLEGTGELFF", "CASSQDPNYGYTF"]


def test_queue_keeps_the_newest_keys_and_overwrites_the_oldest_first():
    queue = KeyQueue(5, 2)
    assert queue.contents().shape == (0, 2)
    batch = lambda start, n: torch.arange(start, start + n, dtype=torch.float).repeat(2, 1).T  # noqa: E731
    queue.push(batch(0, 3))
    assert queue.contents()[:, 0].tolist() == [0, 1, 2]
    queue.push(batch(3, 3))  # wraps: 5 overwrites the oldest (0)
    assert sorted(queue.contents()[:, 0].tolist()) == [1, 2, 3, 4, 5] and queue.keys[0, 0] == 5
    queue.push(batch(10, 7))  # more than it holds: the 5 newest
    assert sorted(queue.contents()[:, 0].tolist()) == [12, 13, 14, 15, 16]
    assert int(queue.filled) == 5


def test_momentum_schedule_rises_from_base_to_one():
    assert momentum_at(0, 100, 0.99) == pytest.approx(0.99)
    assert momentum_at(50, 100, 0.99) == pytest.approx(0.995)
    assert momentum_at(100, 100, 0.99) == pytest.approx(1.0)
    assert momentum_at(7, None, 0.9) == 0.9


def _moco(**settings):
    defaults = {"projection_dim": 8, "mask_tokens": 2, "moco_queue_size": 0, "temperature": 0.2}
    return tiny_objective("moco", CDR3S, **{**defaults, **settings})


def test_with_an_empty_queue_the_loss_is_in_batch_infonce():
    objective, batch = _moco()
    gen = torch.Generator().manual_seed(4)
    out = objective(batch, gen)
    first, second = objective.views(batch, torch.Generator().manual_seed(4))
    q = objective.projector(objective.embed(first))
    k = objective.projector(objective.embed(second))  # the key encoder is still the encoder's copy
    expected = info_nce(q, k, torch.eye(len(CDR3S), dtype=torch.bool), 0.2)
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_step_updates_online_weights_by_gradient_and_the_key_copy_by_momentum():
    objective, batch = _moco(moco_queue_size=16, moco_momentum=0.9, lr=1e-2)
    players = build_players(objective, objective.cfg, 10)
    trained = {id(p) for p in players["model"].params}
    assert not any(id(p) in trained for p in objective.momentum_parameters())
    key_before = [p.clone() for p in objective.key_encoder.parameters()]
    objective(batch, torch.Generator().manual_seed(1))["loss"].backward()
    assert all(p.grad is None for p in objective.momentum_parameters())
    keys = objective._pending.clone()
    m = objective.momentum()
    objective.update(players, 1.0)
    for before, online, now in zip(key_before, objective.encoder.parameters(), objective.key_encoder.parameters()):
        assert torch.allclose(now, m * before + (1 - m) * online.detach(), atol=1e-7)
    assert torch.equal(objective.queue.contents(), keys) and int(objective.updates) == 1


def test_queued_keys_are_negatives_of_the_next_batch():
    objective, batch = _moco(moco_queue_size=16)
    objective(batch, torch.Generator().manual_seed(1))
    objective.after_step()  # (no optimiser: the weights stay; the batch's keys are queued)
    queued = objective.queue.contents().clone()
    out = objective(batch, torch.Generator().manual_seed(2))
    first, second = objective.views(batch, torch.Generator().manual_seed(2))
    q = objective.projector(objective.embed(first))
    with torch.no_grad():
        k = F.normalize(objective.key_projector(objective.key_encoder(
            second["input_ids"], second["attention_mask"], second["token_type_ids"])), dim=1)
    n = len(CDR3S)
    positive = torch.zeros(n, 2 * n, dtype=torch.bool)
    positive[:, :n] = torch.eye(n, dtype=torch.bool)
    expected = info_nce(q, torch.cat([k, queued]), positive, 0.2)
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    without_queue = info_nce(q, k, torch.eye(n, dtype=torch.bool), 0.2)
    assert abs(out["loss"].item() - without_queue.item()) > 1e-3  # the queue counts


def test_symmetric_loss_is_the_mean_of_both_directions():
    objective, batch = _moco(moco_symmetric=True)
    out = objective(batch, torch.Generator().manual_seed(5))
    first, second = objective.views(batch, torch.Generator().manual_seed(5))
    q1, q2 = (objective.projector(objective.embed(v)) for v in (first, second))
    eye = torch.eye(len(CDR3S), dtype=torch.bool)
    expected = (info_nce(q1, q2.detach(), eye, 0.2) + info_nce(q2, q1.detach(), eye, 0.2)) / 2
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert objective._pending.shape[0] == 2 * len(CDR3S)


def _args(corpus, out, steps=10):
    return ["pretrain", "--data", str(corpus), "--columns", "cdr3_b_aa", "--objective", "moco", "--max-steps",
            str(steps), "--batch-size", "32", "--checkpoint-every", "2", "--seed", "3", "--out", str(out), "--quiet",
            "--config", str(out.parent / "moco.yaml")]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run_queue_included(tmp_path, small_corpus_csv):
    (tmp_path / "moco.yaml").write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n"
                                        "  intermediate_size: 32\npretrain:\n  moco_queue_size: 80\n")
    reference = tmp_path / "ref"
    assert run_cli(_args(small_corpus_csv, reference)) == 0
    killed = tmp_path / "killed"
    found = sigkill_after_checkpoint(_args(small_corpus_csv, killed), killed / "checkpoints")
    assert found is not None and found.name < "step-00000010", "the run finished before it was killed"
    saved = load_file(str(found / "model.safetensors"))
    assert int(saved["queue.filled"]) > 0  # the queue is in the checkpoint
    assert run_cli([*_args(small_corpus_csv, killed), "--resume"]) == 0
    ref, got = load_file(str(reference / "model.safetensors")), load_file(str(killed / "model.safetensors"))
    assert ref.keys() == got.keys()
    for name in ref:
        assert torch.equal(ref[name], got[name]), name


def test_pretrain_cli_runs_moco_and_refuses_chunk_size(tmp_path, small_corpus_csv):
    (tmp_path / "moco.yaml").write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n"
                                        "  intermediate_size: 32\npretrain:\n  moco_queue_size: 64\n")
    out = tmp_path / "run"
    assert run_cli(_args(small_corpus_csv, out, steps=4)) == 0
    import pandas as pd
    history = pd.read_csv(out / "pretrain_history.csv")
    assert math.isfinite(history["loss"].iloc[-1])
    assert run_cli([*_args(small_corpus_csv, tmp_path / "chunked", 2), "--chunk-size", "8"]) == 2
