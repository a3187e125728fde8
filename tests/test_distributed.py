"""torchrun with 2 processes on gloo gives the same training as one process on the same global batch."""
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import run_cli


def _args(corpus, out, objective, *extra):
    return ["pretrain", "--data", str(corpus), "--columns", "cdr3_b_aa", "--objective", objective,
            "--max-steps", "3", "--batch-size", "32", "--seed", "1", "--out", str(out), "--quiet",
            "--config", str(out.parent / "small.yaml"), *extra]


# The default suite keeps one contrastive and one token objective (chunked); the others run with make test-slow
# (9-14 s each: the quiet default suite took 619 s, over its 10 minutes).
SLOW = pytest.mark.slow


@pytest.mark.parametrize("objective, extra", [("simclr", ()), pytest.param("infonce", (), marks=SLOW),
                                              pytest.param("moco", (), marks=SLOW),
                                              pytest.param("mlm", (), marks=SLOW), pytest.param("rtd", (), marks=SLOW),
                                              ("mlm", ("--chunk-size", "5")),
                                              pytest.param("adversarial-mlm", ("--chunk-size", "5"), marks=SLOW),
                                              pytest.param("mlm+simclr", (), marks=SLOW)])
def test_two_processes_on_gloo_match_one_process(objective, extra, tmp_path, small_corpus_csv):
    """Token objectives too: the masks are drawn for the global batch and every rank divides by the
    global number of predicted tokens (and, with --chunk-size, accumulates micro-batches); adversarial
    MLM's two players take turns, each rank's noiser drawing the global batch's noise; a sum of objectives
    all-reduces after each part (an average of an average is unchanged)."""
    # plain SGD: the weights after 3 steps are the start minus lr × the summed gradients, so equal weights
    # mean equal gradients (Adam would turn float noise in near-zero gradients into whole-lr steps)
    (tmp_path / "small.yaml").write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n"
                                         "  intermediate_size: 32\nthreads: 1\npretrain:\n  optimizer: sgd\n"
                                         "  momentum: 0.0\n  lr: 0.1\n  warmup_ratio: 0.0\n"
                                         "  scheduler: constant\n  log_every: 1\n")
    single = tmp_path / "single"
    assert run_cli(_args(small_corpus_csv, single, objective)) == 0  # one process, no micro-batches
    ddp = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "seqssl", *_args(small_corpus_csv, ddp, objective, *extra)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = load_file(str(single / "model.safetensors")), load_file(str(ddp / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6, rtol=1e-5), key
    import pandas as pd
    losses = [pd.read_csv(d / "pretrain_history.csv")["loss"].to_numpy() for d in (single, ddp)]
    assert len(losses[0]) == len(losses[1]) >= 3 and abs(losses[0] - losses[1]).max() < 1e-5


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_nodes_joined_by_c10d_rendezvous_match_one_process(tmp_path, small_corpus_csv):
    """What the README's multi-node command does, on one host: two torchrun launches (two "nodes" of one process
    each) meet at a c10d rendezvous endpoint and train as one process on the same global batch; the output
    directory is shared (as on a cluster's shared storage) and only rank 0 writes it."""
    (tmp_path / "small.yaml").write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n"
                                         "  intermediate_size: 32\nthreads: 1\npretrain:\n  optimizer: sgd\n"
                                         "  momentum: 0.0\n  lr: 0.1\n  warmup_ratio: 0.0\n"
                                         "  scheduler: constant\n  log_every: 1\n")
    single, nodes = tmp_path / "single", tmp_path / "nodes"
    assert run_cli(_args(small_corpus_csv, single, "simclr")) == 0
    endpoint = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
                "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "seqssl-test", "-m", "seqssl",
                *_args(small_corpus_csv, nodes, "simclr", "--checkpoint-every", "1")]
    logs = [tmp_path / f"node{i}.log" for i in range(2)]  # files, not pipes: a full pipe would block a launcher
    handles = [open(log, "w") for log in logs]
    launches = [subprocess.Popen(launcher, env=env, stdout=handle, stderr=subprocess.STDOUT) for handle in handles]
    for launch, handle, log in zip(launches, handles, logs):
        launch.wait(timeout=300)
        handle.close()
        assert launch.returncode == 0, log.read_text()[-2000:]
    a, b = load_file(str(single / "model.safetensors")), load_file(str(nodes / "model.safetensors"))
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6, rtol=1e-5), key
    assert (nodes / "checkpoints").is_dir()  # written once, by rank 0, into the shared directory
