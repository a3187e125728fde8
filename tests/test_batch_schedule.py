"""``pretrain.batch_schedule`` (seed 001 grew its batch from 128 to 256 for the last ~20% of training): each step's
batch has its phase's rows, gradient caching stays exact under it, a killed run resumes to the same weights, and a
schedule the run cannot follow is refused before work."""
import json

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file

from conftest import run_cli, sigkill_after_checkpoint
from seqssl.config import load_config

TINY = ("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"
        "pretrain:\n  batch_schedule: [[0.5, 32]]\n  log_every: 1\n")


def args(corpus, tmp_path, out, objective="mlm", *extra):
    (tmp_path / "tiny.yaml").write_text(TINY)
    return ["pretrain", "--data", str(corpus), "--columns", "cdr3_b_aa", "--objective", objective, "--max-steps",
            "10", "--batch-size", "16", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out), "--quiet",
            *extra]


@pytest.mark.parametrize("objective, extra", [("mlm", []), ("simclr", ["--chunk-size", "8"])])
def test_each_step_has_its_phases_rows(small_corpus_csv, tmp_path, objective, extra):
    out = tmp_path / objective
    assert run_cli(args(small_corpus_csv, tmp_path, out, objective, *extra)) == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert history["step"].tolist() == list(range(1, 11))
    rows = history.set_index("step")["batch_rows"]
    assert (rows.loc[1:5] == 16).all() and (rows.loc[6:10] == 32).all()


def test_gradient_cached_steps_equal_whole_batch_steps_under_the_schedule(small_corpus_csv, tmp_path):
    """The same run with and without --chunk-size: the same weights (gradient caching is exact per step, whatever
    the step's batch size). Plain SGD: Adam's per-weight normalisation would amplify float rounding in weights
    whose gradient is near 0 into ±lr steps, which says nothing about the gradients."""
    plain, chunked = tmp_path / "plain", tmp_path / "chunked"
    (tmp_path / "sgd.yaml").write_text(TINY + "  optimizer: sgd\n  momentum: 0.0\n")
    sgd = ["--lr", "0.05", "--config", str(tmp_path / "sgd.yaml")]
    assert run_cli([*args(small_corpus_csv, tmp_path, plain, "simclr"), *sgd]) == 0
    assert run_cli([*args(small_corpus_csv, tmp_path, chunked, "simclr", "--chunk-size", "8"), *sgd]) == 0
    a, b = (load_file(str(d / "model.safetensors")) for d in (plain, chunked))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-4, atol=1e-5)


def test_a_killed_run_resumes_to_the_same_weights(small_corpus_csv, tmp_path):
    whole = tmp_path / "whole"
    assert run_cli(args(small_corpus_csv, tmp_path, whole, "mlm", "--checkpoint-every", "1")) == 0
    killed = tmp_path / "killed"
    found = sigkill_after_checkpoint(args(small_corpus_csv, tmp_path, killed, "mlm", "--checkpoint-every", "1"),
                                     killed / "checkpoints", step=7)
    assert found is not None and found.name >= "step-00000007"  # killed in the second phase
    assert run_cli([*args(small_corpus_csv, tmp_path, killed, "mlm", "--checkpoint-every", "1"), "--resume"]) == 0
    a, b = (load_file(str(d / "model.safetensors")) for d in (whole, killed))
    for key in a:
        assert np.array_equal(a[key].numpy(), b[key].numpy()), key


def test_a_schedule_the_run_cannot_follow_is_refused(small_corpus_csv, tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    no_steps = ["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "mlm",
                "--epochs", "1", "--config", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "o"), "--quiet"]
    assert run_cli(no_steps) == 2 and "needs --max-steps" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrain:\n  batch_schedule: [[0.9, 64], [0.5, 32]]\n")
    with pytest.raises(Exception, match="increasing fractions"):
        load_config(str(bad), {})
    assert json.loads(json.dumps([[0.8, 256]])) == load_config(
        str(tmp_path / "tiny.yaml"), {"pretrain": {"batch_schedule": [[0.8, 256]]}}).pretrain.batch_schedule
