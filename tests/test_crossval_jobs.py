"""``crossval --jobs N``: (fold, arm) parts in worker processes give the table of one process with the same
per-process thread count, and the run's files are the same."""
import json

import pandas as pd
import pytest
import torch

from conftest import run_cli, write_crossval_config
from seqssl.config import Config, load_config
from seqssl.evaluate.arms import resolve_arms
from seqssl.evaluate.workers import available_cores, part_order, resolve_jobs, worker_config
from seqssl.tasks import get_task


def _config(tmp_path, data, corpus):
    return write_crossval_config(tmp_path, data, corpus,
                                 "{folds: 2, split: grouped, arms: [none, simclr, kmer], embedding_map: false}", seed=5)


@pytest.fixture
def keep_threads():
    """``--threads`` sets torch's threads for the whole (test) process: put them back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_parts_in_two_processes_give_the_one_process_table(tmp_path, small_binding_csv, small_corpus_csv,
                                                           keep_threads):
    config = _config(tmp_path, small_binding_csv, small_corpus_csv)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert run_cli(["crossval", "--config", str(config), "--out", str(serial), "--threads", "1", "--quiet"]) == 0
    # two workers of one thread each (2 threads shared by 2 jobs)
    assert run_cli(["crossval", "--config", str(config), "--out", str(parallel), "--jobs", "2", "--threads", "2",
                    "--quiet"]) == 0
    one, two = (json.loads((d / "results.json").read_text()) for d in (serial, parallel))
    assert list(two["arms"]) == ["none", "simclr", "kmer", "kmer[per-value]"]
    for arm, body in one["arms"].items():
        assert len(two["arms"][arm]["folds"]) == 2
        for k, fold in enumerate(body["folds"]):
            assert two["arms"][arm]["folds"][k] == pytest.approx(fold, rel=1e-6), (arm, k)
    assert two["comparisons"] == one["comparisons"]
    for name in ("report.md", "predictions.csv", "parts/fold_1/simclr.json", "encoders/simclr/fold_1"):
        assert (parallel / name).exists(), name
    # resuming with another --jobs is the same run (how, not what): the parallel run as if killed before its last
    # parts (two parts and the gathered files gone), finished in one process, gives the uninterrupted table
    for name in ("results.json", "predictions.csv", "report.md", "parts/fold_1/simclr.json",
                 "parts/fold_1/simclr.parquet", "parts/fold_0/none.json", "parts/fold_0/none.parquet"):
        (parallel / name).unlink()
    assert run_cli(["crossval", "--config", str(config), "--out", str(parallel), "--jobs", "1", "--threads", "1",
                    "--resume", "--quiet"]) == 0
    assert (parallel / "parts/fold_1/simclr.json").exists() and (parallel / "parts/fold_0/none.json").exists()
    resumed = json.loads((parallel / "results.json").read_text())
    assert list(resumed["arms"]) == list(one["arms"])
    for arm, body in one["arms"].items():
        assert len(resumed["arms"][arm]["folds"]) == 2
        for k, fold in enumerate(body["folds"]):
            assert resumed["arms"][arm]["folds"][k] == pytest.approx(fold, rel=1e-6), (arm, k)
        assert resumed["arms"][arm]["mean"] == pytest.approx(body["mean"], rel=1e-6), arm
    assert resumed["comparisons"] == one["comparisons"]
    pd.testing.assert_frame_equal(pd.read_csv(parallel / "predictions.csv"), pd.read_csv(serial / "predictions.csv"),
                                  rtol=1e-6)


def test_jobs_zero_is_one_process_per_core_and_workers_share_the_threads():
    cfg = load_config(None, {"crossval": {"jobs": 0}, "device": "cpu"})
    assert resolve_jobs(cfg) == available_cores()
    assert resolve_jobs(load_config(None, {"crossval": {"jobs": 3}})) == 3
    assert worker_config(load_config(None, {"threads": 4}), 2).threads == 2
    assert worker_config(load_config(None, {"threads": 1}), 2).threads == 1  # never zero threads
    assert worker_config(Config(), 2).quiet


def test_long_parts_are_handed_out_first():
    arms = resolve_arms(["kmer", "none", "simclr"], get_task("pair-classification"))
    order = part_order(arms, 2)
    assert order == [(0, 2), (1, 2), (0, 1), (1, 1), (0, 0), (1, 0)]  # simclr pretrains, none fine-tunes, kmer


def test_negative_jobs_is_refused(tmp_path, small_binding_csv):
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--arms", "kmer", "--jobs", "-1", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
