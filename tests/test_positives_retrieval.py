"""Positives from shared labels and neighbouring chunks; retrieval top-k; label-positive pretraining."""
import json

import numpy as np
import pandas as pd

from conftest import run_cli
from seqssl.data.builtin import builtin_path
from seqssl.evaluate.retrieval import top_k_accuracy
from seqssl.positives import label_batches, neighbour_chunks, partner_within_label


def test_label_batches_are_p_by_k_and_an_epoch_covers_every_labelled_entry():
    """Three labels of 10, K=4, P=3: each label is 3 chunks (4, 4, and 2 topped up with 2 members drawn again),
    so an epoch is 3 batches of 3 labels × 4 members; the singleton label and the unlabelled rows never come."""
    groups = np.array([0] * 10 + [1] * 10 + [2] * 10 + [3] * 1 + [-1] * 5)
    eligible = np.flatnonzero(np.isin(groups, [0, 1, 2]))
    for seed in range(6):  # (seed 2 once drew a single batch: 12 of the 30 entries)
        batches = label_batches(groups, per_label=4, batch_size=12, rng=np.random.default_rng(seed))
        assert len(batches) == 3
        for b in batches:
            labels, counts = np.unique(groups[b], return_counts=True)
            assert len(b) == 12 and len(labels) == 3 and (counts == 4).all(), (seed, groups[b])
            assert len(np.unique(b)) == len(b)  # no entry twice in one batch
        used = np.concatenate(batches)
        assert np.array_equal(np.unique(used), eligible), seed  # every eligible entry, nothing else
        for g in range(3):  # 12 draws of a label of 10: each member once, 2 of them a second time (the top-up)
            _, times = np.unique(used[groups[used] == g], return_counts=True)
            assert sorted(times.tolist()) == [1] * 8 + [2] * 2, (seed, g)


def test_label_batches_cover_unbalanced_labels_and_fill_batches_with_distinct_labels():
    """Unequal labels: every eligible entry comes in an epoch; each batch holds P distinct labels, K members
    each (all members of a label smaller than K); the epoch has max(largest label's chunks, ⌈chunks / P⌉)
    batches, the fewest P-distinct-label batches that can hold every chunk, whatever the generator."""
    rng = np.random.default_rng(4)
    for trial in range(8):
        sizes = rng.integers(1, 23, rng.integers(3, 9))
        groups = np.concatenate([np.full(n, g) for g, n in enumerate(sizes)] + [np.full(3, -1)])
        per_label, p = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        eligible = sizes >= 2
        if eligible.sum() < 2:
            continue
        chunks = np.ceil(sizes[eligible] / per_label).astype(int)
        p_used = min(p, int(eligible.sum()))
        expected = max(int(chunks.max()), -(-int(chunks.sum()) // p_used))
        lengths = set()
        for seed in range(3):
            batches = label_batches(groups, per_label, p * per_label + 1, np.random.default_rng(seed))
            lengths.add(len(batches))
            for b in batches:
                labels, counts = np.unique(groups[b], return_counts=True)
                assert len(labels) == p_used and eligible[labels].all(), (trial, groups[b])
                assert np.array_equal(counts, np.minimum(sizes[labels], per_label)), (trial, groups[b])
                assert len(np.unique(b)) == len(b)
            used = np.unique(np.concatenate(batches))
            assert np.array_equal(used, np.flatnonzero((groups >= 0) & eligible[np.maximum(groups, 0)])), trial
        assert lengths == {expected}, (trial, sizes, per_label, p, lengths)


def test_label_positive_epochs_see_every_labelled_entry_and_take_the_counted_steps(monkeypatch):
    """Two epochs of label-positive pretraining: each epoch's batches hold every labelled entry of a label
    with 2+ members, and the loop takes the steps ``count_steps`` planned (the schedule's length)."""
    import torch

    import seqssl.positives as positives
    from seqssl.config import ModelConfig, PretrainConfig
    from seqssl.data.dataset import EncodedDataset
    from seqssl.data.tokenizers import SequenceTokenizer
    from seqssl.models.encoder import SequenceEncoder
    from seqssl.objectives import build_objective
    from seqssl.train import loop
    from seqssl.train.loop import count_steps
    tok = SequenceTokenizer("protein")
    rng = np.random.default_rng(0)
    groups = np.array([0] * 9 + [1] * 6 + [2] * 5 + [3] * 3 + [4] * 1 + [-1] * 4)
    encoded = [tok.encode("".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 8))) for _ in groups]
    data = EncodedDataset([e.input_ids for e in encoded], [e.token_type_ids for e in encoded])
    cfg = PretrainConfig(objective="infonce", positives="label", per_label=3, batch_size=9, epochs=2)
    torch.manual_seed(0)
    objective = build_objective("infonce", SequenceEncoder.build(
        ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), tok.vocab_size), cfg,
        tok.vocab_size)
    planned = count_steps(objective, len(data), cfg, groups, 0)
    epochs, real_batches, real_epoch = [], positives.label_batches, loop.pretraining_batches

    def epoch_batches(*args, **kwargs):  # each epoch's P×K batches, as the loop draws them
        with monkeypatch.context() as patch:
            patch.setattr(positives, "label_batches",
                          lambda *a, **k: epochs.append(real_batches(*a, **k)) or epochs[-1])
            yield from real_epoch(*args, **kwargs)
    monkeypatch.setattr(loop, "pretraining_batches", epoch_batches)
    history = loop.run_pretraining(objective, data, cfg, device=torch.device("cpu"), progress=False, groups=groups)
    assert len(epochs) == 2 and history[-1]["step"] == planned == sum(len(e) for e in epochs)
    assert all(len(e) == 3 for e in epochs)  # chunks of 3: 3 + 2 + 2 + 1, so max(3, ⌈8 / P=3⌉) batches
    for batches in epochs:
        assert np.array_equal(np.unique(np.concatenate(batches)), np.flatnonzero(np.isin(groups, [0, 1, 2, 3])))


def test_partner_shares_the_label_and_is_not_itself():
    groups = np.array([5, 7, 5, 7, 5])
    partner = partner_within_label(groups)
    assert (groups[partner] == groups).all() and (partner != np.arange(5)).all()


def test_neighbour_chunks_respect_length_and_separation():
    seq = np.arange(1000)
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = neighbour_chunks(seq, 50, 10, 30, rng)
        assert len(a) == len(b) == 50
        assert 10 <= abs(int(a[0]) - int(b[0])) <= 30


def test_top_k_accuracy_matches_brute_force():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))
    k[:10] = q[:10] + 0.01 * rng.normal(size=(10, 8))  # first ten are easy matches
    res = top_k_accuracy(q, k, [1, 5])
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    kn = k / np.linalg.norm(k, axis=1, keepdims=True)
    rows = [qn[i] @ kn.T for i in range(30)]
    ranks = [int(np.sum(np.delete(r, i) >= r[i])) for i, r in enumerate(rows)]
    assert res["top_1"] == np.mean(np.array(ranks) < 1) and res["top_5"] == np.mean(np.array(ranks) < 5)
    assert res["top_1"] >= 10 / 30 and res["random_top_5"] == 5 / 30


def test_pretrain_with_epitope_positives_then_retrieval(tmp_path, capsys):
    epitopes = builtin_path("mira_binding").parent / "mira_epitopes"
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(epitopes), "--columns", "cdr3_b_aa", "--objective", "infonce",
                    "--positives", "label", "--pretrain-label-column", "epitope", "--max-steps", "3",
                    "--batch-size", "32", "--out", str(enc), "--quiet"]) == 0, capsys.readouterr().err
    history = pd.read_csv(enc / "pretrain_history.csv")
    assert np.isfinite(history["loss"]).all()
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"a": ["CASSLGQAYEQYF", "CASSPDRGNTIYF", "CAWSV"],
                  "b": ["CASSLGQAYEQYF", "CASSPDRGNTIYF", "CAWSV"]}).to_csv(pairs, index=False)
    out = tmp_path / "r.json"
    assert run_cli(["evaluate", "retrieval", "--encoder", str(enc), "--data", str(pairs), "--query-column", "a",
                    "--key-column", "b", "--k", "1,2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["top_1"] == 1.0  # identical query and key always rank first
    assert "top-1: 1.000" in capsys.readouterr().out


def test_misspelt_view_is_refused(tmp_path, small_corpus_csv, capsys):
    code = run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--view", "blossom",
                    "--out", str(tmp_path / "e"), "--quiet"])
    assert code == 2 and "unknown pretrain.view 'blossom'" in capsys.readouterr().err
