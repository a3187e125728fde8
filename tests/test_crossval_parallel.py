"""scripts/crossval_parallel.sh: arms run in separate processes assemble into the same table as one process."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli, write_crossval_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "crossval_parallel.sh"


def _config(tmp_path, data, corpus):
    return write_crossval_config(tmp_path, data, corpus)


@pytest.mark.slow  # ~60 s of the default suite's 10-minute budget; `make test-slow` runs it
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_parallel_arms_give_the_single_process_table(tmp_path, small_binding_csv, small_corpus_csv):
    config = _config(tmp_path, small_binding_csv, small_corpus_csv)
    single = tmp_path / "single"
    assert run_cli(["crossval", "--config", str(config), "--arms", "none,kmer,simclr,mlm",
                    "--out", str(single), "--quiet"]) == 0
    parallel = tmp_path / "parallel"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", str(SCRIPT), str(config), str(parallel), "none,kmer", "simclr", "mlm"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    one, many = (json.loads((d / "results.json").read_text()) for d in (single, parallel))
    assert list(many["arms"]) == ["none", "kmer", "kmer[per-value]", "simclr", "mlm"]
    for arm, body in one["arms"].items():
        for k, fold in enumerate(body["folds"]):
            assert many["arms"][arm]["folds"][k] == pytest.approx(fold, rel=1e-6), (arm, k)
    assert (parallel / "report.md").exists() and (parallel / "logs" / "simclr.log").exists()
