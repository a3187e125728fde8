"""Explicit negatives from a corpus column (``--negative-column``; sentence-transformers' (anchor, positive,
negative) triplets): every anchor is contrasted with the batch's negatives too. Checked against NumPy formulas for
``infonce`` and ``simclr``, gradient caching still exact, the batches aligned with their rows, and the CLI's
refusals (objectives that do not read them, --stream, an empty cell)."""
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import assert_gradient_cache_exact, run_cli, tiny_objective
from seqssl.data.dataset import EncodedDataset
from seqssl.data.padding import pad_batch
from seqssl.data.tokenizers import SequenceTokenizer

SEQUENCES = ["CASSLGQGAYEQYF", "CASSPDRGNTEAFF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYF", "CASSYSGNTIYF", "CAWSVGQGAEAFF"]
NEGATIVES = ["CASSLGQGAYEQYW", "CASSPDRGNTEAFF", "CATRQGGSYNEQFF", "CSARDRGGTDTQYW", "CASSYSGNTIYW", "CAWSVGQGAEAFW"]
TOK = SequenceTokenizer("protein")


def with_negatives(batch):
    encoded = [TOK.encode(s) for s in NEGATIVES]
    batch["negative"] = pad_batch([e.input_ids for e in encoded], [e.token_type_ids for e in encoded])
    return batch


def log_softmax_rows(s, keep):
    s = np.where(keep, s, -np.inf)
    return s - np.log(np.exp(s).sum(1, keepdims=True))


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_infonce_contrasts_every_anchor_with_every_explicit_negative():
    objective, batch = tiny_objective("infonce", SEQUENCES, projection_dim=8, temperature=0.3)
    batch = with_negatives(batch)
    rng = np.random.default_rng(0)
    views = [rng.normal(size=(6, 16)) for _ in range(3)]
    out = objective.loss_from_embeddings([torch.tensor(v, dtype=torch.float32) for v in views], batch)
    with torch.no_grad():
        a, b, n = (objective.projector(torch.tensor(v, dtype=torch.float32)).double().numpy() for v in views)
    s = unit(a) @ unit(np.vstack([b, n])).T / 0.3
    keep = np.ones((6, 12), bool)
    keep[1, 6 + 1] = False  # row 1's negative is its own sequence: not a negative
    log_p = log_softmax_rows(s, keep)
    assert out["loss"].item() == pytest.approx(-np.mean(np.diag(log_p[:, :6])), rel=1e-5)


def test_simclr_adds_the_negatives_to_both_views_candidates():
    objective, batch = tiny_objective("simclr", SEQUENCES, projection_dim=8, temperature=0.5)
    batch = with_negatives(batch)
    rng = np.random.default_rng(1)
    views = [rng.normal(size=(6, 16)) for _ in range(3)]
    out = objective.loss_from_embeddings([torch.tensor(v, dtype=torch.float32) for v in views], batch)
    with torch.no_grad():
        a, b, n = (objective.projector(torch.tensor(v, dtype=torch.float32)).double().numpy() for v in views)
    z = np.vstack([a, b])
    s = unit(z) @ unit(np.vstack([z, n])).T / 0.5
    keep = np.ones((12, 18), bool)
    keep[np.arange(12), np.arange(12)] = False  # itself
    keep[[1, 7], 12 + 1] = False  # row 1 (both views) against its own sequence
    log_p = log_softmax_rows(s, keep)
    partner = np.r_[np.arange(6, 12), np.arange(6)]
    assert out["loss"].item() == pytest.approx(-np.mean(log_p[np.arange(12), partner]), rel=1e-5)


@pytest.mark.parametrize("name", ["infonce", "simclr"])
def test_gradient_caching_stays_exact_with_negatives(name):
    objective, batch = tiny_objective(name, SEQUENCES, 0.1, projection_dim=8, mask_tokens=2)
    batch = with_negatives(batch)
    assert len(objective.inputs(batch, torch.Generator().manual_seed(2))) == 3  # the views and the negatives
    assert_gradient_cache_exact(objective, batch, 4)


def test_batches_carry_each_rows_own_negative():
    from seqssl.config import PretrainConfig
    from seqssl.positives import pretraining_batches
    encoded = [TOK.encode(s) for s in SEQUENCES]
    negatives = [TOK.encode(s) for s in NEGATIVES]
    data = EncodedDataset([e.input_ids for e in encoded], [e.token_type_ids for e in encoded],
                          negatives=EncodedDataset([e.input_ids for e in negatives],
                                                   [e.token_type_ids for e in negatives]))
    data = data.subset(np.array([5, 0, 3, 1, 4, 2]))  # subsets keep the negatives aligned
    seen = 0
    for batch in pretraining_batches(data, PretrainConfig(batch_size=4), np.random.default_rng(0)):
        for row, negative in zip(batch["input_ids"], batch["negative"]["input_ids"]):
            anchor = TOK.decode(row[row > 4].numpy())
            assert TOK.decode(negative[negative > 4].numpy()) == NEGATIVES[SEQUENCES.index(anchor)]
            seen += 1
    assert seen == 6


def test_cli_reads_the_column_and_refuses_what_cannot_use_it(tmp_path):
    frame = pd.DataFrame({"cdr3_b_aa": SEQUENCES * 6, "hard": NEGATIVES * 6})
    frame["cdr3_b_aa"] = [s + "A" * (i // 6) for i, s in enumerate(frame["cdr3_b_aa"])]  # 36 distinct anchors
    path = tmp_path / "corpus.csv"
    frame.to_csv(path, index=False)
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n")
    args = ["pretrain", "--data", str(path), "--columns", "cdr3_b_aa", "--negative-column", "hard", "--max-steps",
            "2", "--batch-size", "8", "--config", str(tiny), "--quiet"]
    assert run_cli([*args, "--objective", "infonce", "--out", str(tmp_path / "ok")]) == 0
    assert run_cli([*args, "--objective", "simclr", "--distance", "euclidean", "--out", str(tmp_path / "ok2")]) == 0
    for bad in (["--objective", "simsiam"], ["--objective", "moco"], ["--objective", "infonce", "--stream"]):
        assert run_cli([*args, *bad, "--out", str(tmp_path / "bad")]) == 2, bad
    frame.loc[3, "hard"] = ""
    frame.to_csv(path, index=False)
    assert run_cli([*args, "--objective", "infonce", "--out", str(tmp_path / "empty")]) == 2
