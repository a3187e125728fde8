"""Weights, heads and checkpoints are written readable like every other file (what the umask allows), not
owner-only as safetensors, transformers and peft create them."""
import os
import stat

import pytest

from conftest import run_cli


def unreadable_by_group(root):
    return [str(p) for p in root.rglob("*") if p.is_file() and not p.stat().st_mode & stat.S_IRGRP]


@pytest.fixture
def group_readable_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("mode", ["full", "lora", "knn"])
def test_finetune_outputs_are_group_readable(tmp_path, small_binding_csv, group_readable_umask, mode):
    out = tmp_path / mode
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--task", "pair-classification", "--encoder", "none",
                    "--mode", mode, "--epochs", "1", "--max-steps", "2", "--out", str(out), "--quiet"]) == 0
    assert any(p.suffix == ".safetensors" for p in out.rglob("*"))
    assert unreadable_by_group(out) == []


def test_pretraining_weights_and_checkpoints_are_group_readable(tmp_path, small_corpus_csv, group_readable_umask):
    out = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "simclr",
                    "--max-steps", "2", "--batch-size", "16", "--checkpoint-every", "1", "--out", str(out),
                    "--quiet"]) == 0
    assert (out / "model.safetensors").exists() and any((out / "checkpoints").iterdir())
    assert unreadable_by_group(out) == []
