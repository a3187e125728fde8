import os

import numpy as np
import pandas as pd
import pytest
import torch

from seqssl.data.builtin import builtin_path

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def private_run_registry(tmp_path, monkeypatch):
    """Tests never write to the user's ~/.seqssl run registry."""
    monkeypatch.setenv("SEQSSL_HOME", str(tmp_path / "seqssl-home"))


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """A command run in-process with ``threads: N`` must not change later tests' float arithmetic."""
    import torch
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def binding_frame() -> pd.DataFrame:
    return pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False)


@pytest.fixture
def small_binding_csv(tmp_path, binding_frame):
    """240 real rows of the bundled binding data (both classes, both negative types)."""
    rng = np.random.default_rng(0)
    frame = binding_frame.iloc[rng.choice(len(binding_frame), 240, replace=False)]
    path = tmp_path / "binding.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def small_corpus_csv(tmp_path, small_binding_csv):
    """600 real background CDR3β plus 40 CDR3β of the labelled slice (which must be removed per fold)."""
    background = pd.read_csv(builtin_path("background_cdr3b"), dtype=str).iloc[:600]
    labelled = pd.read_csv(small_binding_csv, dtype=str)["cdr3_b_aa"].iloc[:40]
    corpus = pd.concat([background[["cdr3_b_aa"]], labelled.to_frame()], ignore_index=True)
    path = tmp_path / "corpus.csv.gz"
    corpus.to_csv(path, index=False)
    return path


def run_cli(argv):
    """Run the CLI in-process; return the exit code (0 when it returned normally)."""
    from seqssl.cli import main
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def levenshtein(a: str, b: str) -> int:
    """Edit distance by the textbook dynamic programme: the reference rapidfuzz-based code is checked against."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def tiny_objective(name: str, sequences: list[str], dropout: float = 0.0, **pretrain):
    """A 2-layer, 16-wide objective ``name`` in train mode and the padded batch of ``sequences``."""
    import torch

    from seqssl.config import ModelConfig, PretrainConfig
    from seqssl.data.collate import pad_batch
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    tok = SequenceTokenizer("protein")
    torch.manual_seed(0)
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                                                dropout=dropout, attention_dropout=dropout, max_length=24),
                                    tok.vocab_size)
    objective = build_objective(name, encoder, PretrainConfig(objective=name, **pretrain), tok.vocab_size).train()
    enc = [tok.encode(s) for s in sequences]
    return objective, pad_batch([e.input_ids for e in enc], [e.token_type_ids for e in enc])


def take_grads(module) -> dict:
    """Copies of the parameters' gradients by name; the gradients are then cleared."""
    out = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    module.zero_grad(set_to_none=True)
    return out


def write_crossval_config(tmp_path, data, corpus, crossval: str = "{folds: 2, split: grouped}", seed: int = 3):
    """A smoke-sized crossval config on the small binding table and corpus (4 pretraining steps, 2 epochs)."""
    path = tmp_path / "cv.yaml"
    path.write_text(f"""
data:
  path: {data}
  columns: [cdr3_b_aa, peptide]
  label_column: label
  task: pair-classification
  group_column: cdr3_b_aa
  pretrain_data: [{corpus}]
  pretrain_columns: [cdr3_b_aa]
pretrain: {{max_steps: 4, batch_size: 32}}
finetune: {{epochs: 2, batch_size: 32}}
crossval: {crossval}
seed: {seed}
""")
    return path


def sigkill_after_checkpoint(argv: list[str], checkpoints, step: int = 4, timeout: float = 120.0):
    """Run ``python -m seqssl argv`` and SIGKILL it once a checkpoint of ``step`` or later is complete in
    ``checkpoints``; returns the newest complete checkpoint left behind (``None`` if none)."""
    import signal
    import subprocess
    import sys
    import time

    from seqssl.train.checkpoint import latest_checkpoint
    proc = subprocess.Popen([sys.executable, "-m", "seqssl", *argv], env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = latest_checkpoint(checkpoints)
        if found is not None and found.name >= f"step-{step:08d}":
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return latest_checkpoint(checkpoints)


def random_binary_pairs(n: int = 60, seed: int = 3):
    """``n`` random protein rows with random binary labels in two groups ("X", "Y"), split 40/10/10 into train,
    validation and test, and a tiny mean-pooled encoder: the frozen-embedding modes' test bench."""
    from seqssl.config import ModelConfig
    from seqssl.data.dataset import EncodedDataset
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    tok = SequenceTokenizer("protein")
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), rng.integers(6, 14))) for _ in range(n)]
    enc = [tok.encode(s) for s in seqs]
    data = EncodedDataset([e.input_ids for e in enc], [e.token_type_ids for e in enc],
                          rng.integers(0, 2, n).astype(np.float32), group_keys=rng.choice(["X", "Y"], n))
    torch.manual_seed(0)
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                                                pooling="mean"), tok.vocab_size)
    cut = (2 * n) // 3, (2 * n) // 3 + n // 6
    return encoder, data.subset(range(cut[0])), data.subset(range(cut[0], cut[1])), data.subset(range(cut[1], n))


def assert_gradient_cache_exact(objective, batch: dict, chunk: int, seed: int | None = 2) -> None:
    """Gradient caching (``cached_backward`` in chunks of ``chunk`` rows) gives the loss and every parameter's
    gradient of the whole batch, the inputs' random draws replayed from ``seed`` (``None``: no generator)."""
    import torch

    from seqssl.train.gradcache import _chunks, cached_backward

    def generator():
        return None if seed is None else torch.Generator().manual_seed(seed)
    torch.manual_seed(1)
    parts = objective.inputs(batch, generator())
    embeddings = [torch.cat([objective.embed(c) for c in _chunks(p, chunk)]) for p in parts]
    reference_loss = objective.loss_from_embeddings(embeddings, batch)["loss"]
    reference_loss.backward()
    reference = take_grads(objective)
    torch.manual_seed(1)
    out = cached_backward(objective, batch, generator(), chunk)
    cached = take_grads(objective)
    assert torch.allclose(out["loss"], reference_loss.detach())
    assert reference.keys() == cached.keys() and len(reference) > 4
    for key in reference:
        assert torch.allclose(cached[key], reference[key], rtol=1e-4, atol=1e-7), key


class PicklePayload:
    """What an attacker's pickle does when unpickled: here, create the file ``marker`` (tests check it is never
    created)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))
