"""A cross-validation's (fold, arm) parts as cluster jobs: ``--list-parts``, ``--part ID`` then ``--resume``
gathering, and ``--emit-slurm`` (its tasks run here in sequence, and its submission against a stand-in ``sbatch``),
each giving results identical, fold by fold and key by key, to a serial run at the same seed."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from seqssl.errors import InputError

ARGS = ["--columns", "cdr3_b_aa,peptide", "--label-column", "label", "--folds", "2", "--epochs", "1",
        "--batch-size", "32", "--mode", "probe", "--threads", "1", "--quiet"]
ARMS = ["--arms", "kmer,knn,none"]


def no_map(tmp_path: Path) -> str:
    path = tmp_path / "no_map.yaml"
    path.write_text("crossval:\n  embedding_map: false\n")
    return str(path)


def fold_results(out: Path) -> dict:
    """Every row's per-fold metrics (what a serial run and a gathered one must share exactly)."""
    results = json.loads((out / "results.json").read_text())
    return {name: body["folds"] for name, body in results["arms"].items()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory, binding_frame):
    """One serial run of the module's table, shared by the tests that compare with it (on the same 240 rows as
    ``small_binding_csv``)."""
    import numpy as np
    root = tmp_path_factory.mktemp("serial")
    data = root / "binding.csv"
    binding_frame.iloc[np.random.default_rng(0).choice(len(binding_frame), 240, replace=False)].to_csv(data,
                                                                                                          index=False)
    out = root / "serial"
    # set up before the per-test fixtures (the run registry, torch's thread count): what they guard, guarded here
    import torch
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEQSSL_HOME", str(root / "seqssl-home"))
        try:
            assert run_cli(["crossval", "--data", str(data), *ARGS, *ARMS, "--config", no_map(root),
                            "--out", str(out)]) == 0
        finally:
            torch.set_num_threads(threads)  # --threads 1 must not outlive this run (later tests compare arithmetic)
    return out


def stored_rows(out: Path) -> int:
    """Rows written under ``out/parts`` (each a finished (fold, arm, fraction, mode))."""
    return sum(1 for _ in (out / "parts").rglob("*.json"))


def list_parts(tmp_path, data, capsys, out) -> list[str]:
    capsys.readouterr()
    assert run_cli(["crossval", "--data", str(data), *ARGS, *ARMS, "--config", no_map(tmp_path), "--out", str(out),
                    "--list-parts"]) == 0
    return capsys.readouterr().out.split()


def test_parts_run_one_by_one_then_gathered_equal_a_serial_run(tmp_path, small_binding_csv, serial, capsys):
    out = tmp_path / "parts"
    ids = list_parts(tmp_path, small_binding_csv, capsys, out)
    # encoder arms (fine-tuned per mode) before the cheap baselines, folds in order within each
    assert ids == ["fold0:none", "fold1:none", "fold0:kmer", "fold1:kmer", "fold0:knn", "fold1:knn"]
    assert not out.exists()  # listing runs nothing
    common = ["crossval", "--data", str(small_binding_csv), *ARGS, *ARMS, "--config", no_map(tmp_path),
              "--out", str(out)]
    for ident in reversed(ids):  # any order: parts are independent
        assert run_cli([*common, "--part", ident]) == 0
    assert "done" in capsys.readouterr().out
    assert run_cli([*common, "--part", "fold1:kmer"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert not (out / "results.json").exists()
    assert stored_rows(out) == stored_rows(serial)  # every part written by its job, before the gather
    assert run_cli([*common, "--resume"]) == 0
    assert fold_results(out) == fold_results(serial)


def test_a_part_of_another_run_or_an_unknown_part_is_refused(tmp_path, small_binding_csv):
    from seqssl.config import load_config
    from seqssl.evaluate.jobs import jobs_command
    out = tmp_path / "shared"
    cfg = load_config(no_map(tmp_path), {"data": {"path": str(small_binding_csv), "columns": ["cdr3_b_aa", "peptide"],
                                                  "label_column": "label"},
                                         "crossval": {"arms": ["kmer"], "folds": 2}, "out": str(out), "quiet": True})
    assert "done" in jobs_command(cfg, list_parts=False, part="fold0:kmer", emit_slurm=None, slurm=None)[0]
    with pytest.raises(InputError, match="no part 'fold5:kmer'"):
        jobs_command(cfg, list_parts=False, part="fold5:kmer", emit_slurm=None, slurm=None)
    other = load_config(None, {**cfg.to_dict(), "seed": 1})
    with pytest.raises(InputError, match="seed was 0"):
        jobs_command(other, list_parts=False, part="fold1:kmer", emit_slurm=None, slurm=None)
    with pytest.raises(InputError, match="unknown --slurm setting 'cores=2'"):
        jobs_command(cfg, list_parts=False, part=None, emit_slurm=str(tmp_path / "x.sh"), slurm="cores=2")


def run_script(script: Path, env: dict) -> None:
    subprocess.run(["bash", str(script)], env={**os.environ, **env}, check=True, capture_output=True, text=True)


@pytest.mark.slow  # six subprocesses (~30 s): the default suite keeps --part's in-process equivalent
def test_emitted_slurm_tasks_run_in_sequence_equal_a_serial_run(tmp_path, small_binding_csv, serial):
    out, script = tmp_path / "slurm-run", tmp_path / "cv.sh"
    assert run_cli(["crossval", "--data", str(small_binding_csv), *ARGS, *ARMS, "--config", no_map(tmp_path),
                    "--out", str(out), "--emit-slurm", str(script), "--slurm", "cpus=2,gpus=1,max_parallel=3"]) == 0
    text = script.read_text()
    assert "#SBATCH --array=0-5%3" in text and "#SBATCH --cpus-per-task=2" in text and "--gres=gpu:1" in text
    assert f"-m seqssl crossval --config {script}.config.yaml" in text  # the Python that wrote it, absolute paths
    for task in range(6):  # what each array task runs
        run_script(script, {"SLURM_ARRAY_TASK_ID": str(task)})
    assert stored_rows(out) == stored_rows(serial)
    run_script(script, {"SEQSSL_GATHER": "1", "SLURM_ARRAY_TASK_ID": "0"})  # the gather job
    assert fold_results(out) == fold_results(serial)


def test_submitting_the_script_queues_the_array_then_a_dependent_gather(tmp_path, small_binding_csv):
    out, script = tmp_path / "submitted", tmp_path / "cv.sh"
    assert run_cli(["crossval", "--data", str(small_binding_csv), *ARGS, "--arms", "kmer", "--out", str(out),
                    "--emit-slurm", str(script)]) == 0
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "sbatch_calls.txt"
    (fake / "sbatch").write_text(f'#!/usr/bin/env bash\necho "$@" >> {calls}\necho "4242;cluster"\n')
    (fake / "sbatch").chmod(0o755)
    run_script(script, {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"})
    first, second = calls.read_text().splitlines()
    assert first == f"--parsable {script}"
    assert "--dependency=afterok:4242" in second and "SEQSSL_GATHER=1" in second and second.endswith(str(script))


@pytest.fixture
def local_ray():
    """A local Ray cluster of two single-CPU workers, shut down afterwards."""
    import os
    ray = pytest.importorskip("ray")
    environ = dict(os.environ)  # Ray sets variables (OMP_NUM_THREADS) that later tests' subprocesses would inherit
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    os.environ.clear()
    os.environ.update(environ)


@pytest.mark.slow  # a local Ray cluster (~30 s)
def test_ray_executor_on_two_workers_equals_a_serial_run(tmp_path, small_binding_csv, serial, local_ray):
    out = tmp_path / "ray"
    assert run_cli(["crossval", "--data", str(small_binding_csv), *ARGS, *ARMS, "--config", no_map(tmp_path),
                    "--out", str(out), "--executor", "ray"]) == 0
    assert fold_results(out) == fold_results(serial)


def test_a_failing_ray_part_is_retried_once_then_named(tmp_path, small_binding_csv, local_ray):
    from seqssl.config import load_config
    from seqssl.errors import TrainingStopped
    from seqssl.evaluate.crossval import RowTable, prepare_run
    from seqssl.evaluate.ray_parts import run_parts_on_ray
    cfg = load_config(None, {"data": {"path": str(small_binding_csv), "columns": ["cdr3_b_aa", "peptide"],
                                      "label_column": "label"}, "crossval": {"arms": ["kmer", "knn"], "folds": 2},
                             "out": str(tmp_path / "failing"), "quiet": True})
    prepared = prepare_run(cfg)
    attempts = tmp_path / "attempts.txt"

    def part(child, k, arm_index, resume):  # sent to the workers by value
        if (k, arm_index) == (1, 1):
            with open(attempts, "a") as handle:
                handle.write("try\n")
            raise ValueError("boom")

    with pytest.raises(TrainingStopped, match=r"part fold1:knn failed on Ray \(tried twice\): ValueError: boom"):
        run_parts_on_ray(part, cfg, prepared, RowTable(cfg, prepared.arms, prepared.data).units, False)
    assert attempts.read_text().count("try") == 2
