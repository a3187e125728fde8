"""Killed runs cost minutes, not the run: SIGKILL + --resume gives the same weights bit for bit."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import run_cli, sigkill_after_checkpoint
from seqssl.train.checkpoint import latest_checkpoint


def _pretrain_args(corpus, out, steps=12):
    return ["pretrain", "--data", str(corpus), "--columns", "cdr3_b_aa", "--objective", "simclr",
            "--max-steps", str(steps), "--batch-size", "64", "--checkpoint-every", "2", "--seed", "3",
            "--out", str(out), "--quiet"]


def _weights(directory: Path) -> dict:
    return load_file(str(directory / "model.safetensors"))


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, small_corpus_csv):
    reference = tmp_path / "ref"
    assert run_cli(_pretrain_args(small_corpus_csv, reference)) == 0
    killed = tmp_path / "killed"
    found = sigkill_after_checkpoint(_pretrain_args(small_corpus_csv, killed, 12), killed / "checkpoints")
    assert found is not None and found.name < "step-00000012", "the run finished before it was killed"
    assert run_cli([*_pretrain_args(small_corpus_csv, killed), "--resume"]) == 0
    ref, got = _weights(reference), _weights(killed)
    assert ref.keys() == got.keys()
    for name in ref:
        assert torch.equal(ref[name], got[name]), name


def test_atomic_checkpoint_survives_a_writer_killed_mid_write(tmp_path, small_corpus_csv, monkeypatch):
    """A failure while writing checkpoint 4 leaves checkpoint 2 as the newest complete one."""
    import seqssl.train.checkpoint as ck
    out = tmp_path / "run"
    real_save = ck.save_file
    calls = {"n": 0}

    def failing_save(tensors, path):
        calls["n"] += 1
        if calls["n"] == 4:  # model of checkpoint 2 ok (1-3), dies inside checkpoint 4's first write
            real_save(tensors, path)
            raise OSError("writer died mid-write")
        return real_save(tensors, path)
    monkeypatch.setattr(ck, "save_file", failing_save)
    with pytest.raises(OSError, match="mid-write"):
        from seqssl.cli import main
        main(_pretrain_args(small_corpus_csv, out, 8))
    found = latest_checkpoint(out / "checkpoints")
    assert found.name == "step-00000002"
    assert not any(p.name.startswith(".tmp-") for p in (out / "checkpoints").iterdir())
    assert load_file(str(found / "model.safetensors"))


def test_sigterm_saves_and_says_how_to_resume(tmp_path, small_corpus_csv):
    out = tmp_path / "term"
    proc = subprocess.Popen([sys.executable, "-m", "seqssl", *_pretrain_args(small_corpus_csv, out, 400)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while latest_checkpoint(out / "checkpoints") is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "interrupted (SIGTERM)" in err, err
    assert "--resume" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert latest_checkpoint(out / "checkpoints") is not None


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, small_corpus_csv, capsys):
    out = tmp_path / "nan"
    code = run_cli([*_pretrain_args(small_corpus_csv, out, 30), "--lr", "1e30"])
    err = capsys.readouterr().err
    assert code == 1 and "non-finite pretraining loss" in err and "at step" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    found = latest_checkpoint(out / "checkpoints")
    if found is not None:  # the checkpoint named in the message is complete and loadable
        assert found.name in err and load_file(str(found / "model.safetensors"))


@pytest.mark.parametrize("objective", ["mlm", "rtd", "mlm+simclr"])
def test_tied_embedding_objectives_checkpoint_and_resume(objective, tmp_path, small_corpus_csv):
    """MLM and ELECTRA tie their decoders to the input embeddings: checkpoints still save, load and
    resume exactly (the run is rolled back to its step-2 checkpoint, then resumed); so does a sum of
    objectives, whose parts share one encoder."""
    import shutil

    def args(out):
        return ["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", objective,
                "--max-steps", "4", "--batch-size", "32", "--checkpoint-every", "2", "--out", str(out), "--quiet"]
    assert run_cli(args(tmp_path / "ref")) == 0
    rolled = tmp_path / "rolled"
    assert run_cli(args(rolled)) == 0
    checkpoints = rolled / "checkpoints"
    shutil.rmtree(checkpoints / "step-00000004")
    (checkpoints / "LATEST").write_text("step-00000002")
    (rolled / "model.safetensors").unlink()
    assert run_cli([*args(rolled), "--resume"]) == 0
    ref, got = _weights(tmp_path / "ref"), _weights(rolled)
    for name in ref:
        assert torch.equal(ref[name], got[name]), name


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):

    from seqssl.io import atomic_write_text
    atomic_write_text(tmp_path / "results.json", "{}")
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert os.access(tmp_path / "results.json", os.R_OK)


def test_a_resume_with_another_setting_is_refused_and_rewrites_nothing(tmp_path, small_corpus_csv, capsys):
    out = tmp_path / "pre"
    assert run_cli(_pretrain_args(small_corpus_csv, out, 4)) == 0
    config, meta = (out / "config.yaml").read_text(), json.loads((out / "seqssl.json").read_text())
    assert run_cli([*_pretrain_args(small_corpus_csv, out, 4), "--lr", "0.05", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume: pretrain.lr was" in err and "0.05" in err
    assert (out / "config.yaml").read_text() == config  # nothing rewritten by the refused resume
    # resuming the finished run with the same settings adds this session's seconds to the earlier ones
    assert run_cli([*_pretrain_args(small_corpus_csv, out, 4), "--resume", "--quiet"]) == 0
    assert json.loads((out / "seqssl.json").read_text())["seconds"] > meta["seconds"]


def test_readme_and_help_name_the_same_flags_that_may_change_on_resume():
    from seqssl.resume import may_change
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert " ".join(f"only {may_change()} may change".split()) in " ".join(readme.split())
