"""SIGINT and SIGTERM sent to real seqssl processes: exit 130 / 143, one line naming what was kept and the
command that resumes, no traceback."""
import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_cli


def _default_sigint():
    """In the child before exec: SIGINT back to its default. A process started with SIGINT ignored keeps ignoring it
    (Python then installs no KeyboardInterrupt handler, as a shell's background job expects), and the test runner's
    own disposition must not decide what these tests see."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "seqssl", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _wait_for(condition, proc, seconds=120):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the command finished before the signal"


def _finetune_args(data, out, *more):
    return ["finetune", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--epochs", "2000", "--select", "last", "--out", str(out), "--quiet", *more]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_finetune_keeps_its_best_model_and_resumes_from_it(small_binding_csv, tmp_path, sig, code):
    out = tmp_path / "ft"
    proc = _start(_finetune_args(small_binding_csv, out))
    started = time.time()
    _wait_for(lambda: time.time() - started > 12, proc)  # imports, data, then epochs of ~0.1 s
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    line = err.strip().splitlines()[-1]
    assert proc.returncode == code, err
    assert line.startswith(f"interrupted ({signal.Signals(sig).name}): kept the best model so far in {out}"), line
    assert line.endswith("--quiet --resume") and "Traceback" not in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted_by"] == signal.Signals(sig).name and 1 <= metrics["epochs_run"] < 2000
    # the kept model is whole: predict reads it
    assert run_cli(["predict", "--model", str(out), "--data", str(small_binding_csv), "--out",
                    str(tmp_path / "p.csv")]) == 0
    if sig == signal.SIGTERM:
        return
    # a resume with another setting is refused; the same settings continue (fewer epochs left: --epochs is part
    # of the settings, so the test resumes a run whose budget was short to begin with)
    assert run_cli([*_finetune_args(small_binding_csv, out, "--resume"), "--lr", "0.5"]) == 2
    assert json.loads((out / "metrics.json").read_text()) == metrics


@pytest.mark.slow  # 34 s; SIGINT, then --resume: also test_finetune_keeps_its_best_model_and_resumes_from_it
def test_finetune_resume_runs_the_epochs_left(small_binding_csv, tmp_path):
    out = tmp_path / "ft"
    proc = _start(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                   "--label-column", "label", "--epochs", "400", "--select", "last", "--out", str(out), "--quiet"])
    started = time.time()
    _wait_for(lambda: time.time() - started > 12, proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    before = json.loads((out / "metrics.json").read_text())["epochs_run"]
    assert before < 400
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--epochs", "400", "--select", "last", "--out", str(out), "--quiet",
                    "--resume"]) == 0
    after = json.loads((out / "metrics.json").read_text())
    assert after["epochs_run"] == 400 and after["resumed_after_epochs"] == before and "interrupted_by" not in after


def test_crossval_keeps_its_parts_and_prints_the_resume_command(small_binding_csv, tmp_path):
    out = tmp_path / "cv"
    args = ["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
            "label", "--arms", "kmer,none", "--folds", "2", "--epochs", "2000", "--out", str(out), "--quiet"]
    proc = _start(args)
    _wait_for(lambda: (out / "parts" / "fold_0" / "kmer.json").exists(), proc)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"interrupted (SIGTERM): kept the finished (fold, arm) parts in {out / 'parts'}")
    assert "resume with: seqssl crossval --data " in line and line.endswith("--quiet --resume"), line
    assert (out / "parts" / "fold_0" / "kmer.json").exists() and "Traceback" not in err
    from seqssl.runs import list_runs
    (run,) = list_runs()
    assert run["status"] == "interrupted" and run["out"] == str(out.resolve()) and not (out / "run.json").exists()


def _kmer_crossval(data, out, *more):
    return ["crossval", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--arms", "kmer", "--folds", "2", "--out", str(out), "--quiet", *more]


def test_an_earlier_run_in_out_is_refused_unless_resume_or_overwrite(small_binding_csv, tmp_path, capsys):
    from conftest import run_cli
    out = tmp_path / "cv"
    assert run_cli(_kmer_crossval(small_binding_csv, out)) == 0
    (out / "encoders" / "simclr").mkdir(parents=True)  # what an earlier run with another arm left
    before = (out / "results.json").read_text()
    assert run_cli(_kmer_crossval(small_binding_csv, out)) == 2
    assert "already holds an earlier run" in capsys.readouterr().err
    assert (out / "results.json").read_text() == before  # nothing rewritten by the refused run
    assert run_cli(_kmer_crossval(small_binding_csv, out, "--resume")) == 0
    assert run_cli(_kmer_crossval(small_binding_csv, out, "--overwrite")) == 0
    assert not (out / "encoders").exists() and (out / "results.json").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(_kmer_crossval(small_binding_csv, empty)) == 0  # an empty directory is fine
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.yaml").write_text("mine: 1\n")
    assert run_cli(_kmer_crossval(small_binding_csv, foreign, "--overwrite")) == 2
    assert (foreign / "config.yaml").read_text() == "mine: 1\n"  # not seqssl's: never emptied


def test_overwrite_never_empties_a_directory_seqssl_did_not_mark(tmp_path):
    from seqssl.errors import InputError
    from seqssl.io import claim_output
    mine = tmp_path / "mine"
    (mine / "checkpoints").mkdir(parents=True)  # a common name, not seqssl's mark
    (mine / "my_data.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="not emptied"):
        claim_output(mine, overwrite=True)
    assert (mine / "my_data.csv").exists()
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("data: {}\nmodel: {}\npretrain: {}\nfinetune: {}\ncrossval: {}\n")
    (run / "parts").mkdir()
    claim_output(run, overwrite=True)  # an interrupted crossval's directory: emptied
    assert not any(run.iterdir())


def test_a_resume_never_ends_worse_than_the_model_it_kept():
    import torch

    from seqssl.api import keep_earlier_best
    from seqssl.config import FinetuneConfig
    from seqssl.transfer.modes import Fitted, get_mode

    class Predictor(torch.nn.Module):
        def __init__(self, value):
            super().__init__()
            self.encoder = torch.nn.Linear(2, 2)
            self.value = value
    resumed = Fitted(get_mode("full"), Predictor("resumed"), None, {"best_val": 0.70}, torch.device("cpu"))
    keep_earlier_best(resumed, Predictor("kept"), {"best_val": 0.75, "epochs_run": 12}, FinetuneConfig())
    assert resumed.model.value == "kept" and resumed.details["kept_from_before_resume"] is True
    better = Fitted(get_mode("full"), Predictor("resumed"), None, {"best_val": 0.80}, torch.device("cpu"))
    keep_earlier_best(better, Predictor("kept"), {"best_val": 0.75, "epochs_run": 12}, FinetuneConfig())
    assert better.model.value == "resumed" and "kept_from_before_resume" not in better.details
