"""The ``clip`` objective (Radford et al. 2021) between a receptor and its peptide, and the N-way losses' Euclidean
distance: the towers cut from pair rows, the loss against an independent NumPy formula (label-aware positives),
gradient caching still exact, learning a planted receptor→peptide rule, retrieval through the towers, and the
crossval arm with its zero-shot row scored by the saved encoder's towers."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from conftest import assert_gradient_cache_exact, run_cli
from seqssl.config import ModelConfig, PretrainConfig
from seqssl.data.padding import pad_batch
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.errors import InputError
from seqssl.losses import info_nce, similarity_logits
from seqssl.models.encoder import SequenceEncoder
from seqssl.models.towers import pair_cosine, tower_batches
from seqssl.objectives import build_objective

TOK = SequenceTokenizer("protein")
PAIRS = [("CASSLGQGAYEQYF", "GILGFVFTL"), ("CASRQGGSYNEQFF", "NLVPMVATV"), ("CSARDRGGTDTQYF", "GILGFVFTL"),
         ("CAWSVGQGAEAFF", "KAYNVTQAF"), ("CASSLGQGAYEQYF", "KAYNVTQAF"), ("CASSYSGNTIYF", "YLQPRTFLL")]


def pair_batch(pairs):
    encoded = [TOK.encode(*row) for row in pairs]
    return pad_batch([e.input_ids for e in encoded], [e.token_type_ids for e in encoded])


def tiny_clip(dropout: float = 0.0, segments: int = 2, **pretrain):
    torch.manual_seed(0)
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32,
                                                dropout=dropout, attention_dropout=dropout, max_length=48),
                                    TOK.vocab_size, segments)
    return build_objective("clip", encoder, PretrainConfig(objective="clip", **pretrain), TOK.vocab_size).train()


@pytest.mark.parametrize("width", [2, 3])
def test_towers_are_the_receptor_columns_and_the_last_column_alone(width):
    rows = [("CASSL", "CAVR", "GILGF")[-width:], ("CASRQGGSYNEQFF", "CAMREG", "NLVPMVATV")[-width:],
            ("CSA", "CAL", "KAYNVTQAF")[-width:]]
    first, second = tower_batches(pair_batch(rows))
    for i, row in enumerate(rows):
        receptor, peptide = TOK.encode(*row[:-1]), TOK.encode(row[-1])
        n, m = len(receptor.input_ids), len(peptide.input_ids)
        assert first["input_ids"][i, :n].tolist() == list(receptor.input_ids)
        assert first["token_type_ids"][i, :n].tolist() == list(receptor.token_type_ids)
        assert first["attention_mask"][i].sum() == n and not first["input_ids"][i, n:].any()
        assert second["input_ids"][i, :m].tolist() == list(peptide.input_ids)
        assert second["token_type_ids"][i, :m].tolist() == [width - 1] * m  # the peptide's own segment
        assert second["attention_mask"][i].sum() == m and not second["input_ids"][i, m:].any()


def test_single_sequences_are_refused():
    encoded = [TOK.encode(s) for s in ("CASSL", "CASRQ")]
    with pytest.raises(InputError, match="two towers need pairs"):
        tower_batches(pad_batch([e.input_ids for e in encoded], [e.token_type_ids for e in encoded]))


def numpy_symmetric_infonce(receptors, peptides, pairs, t):
    """Radford et al.'s symmetric loss, written out: positives where the peptide or the receptor string is shared."""
    positive = np.array([[a[0] == b[0] or a[1] == b[1] for b in pairs] for a in pairs])

    def one_way(x, y, pos):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
        s = x @ y.T / t
        log_p = s - np.log(np.exp(s).sum(1, keepdims=True))
        return np.mean([-log_p[i, pos[i]].mean() for i in range(len(x))])
    return (one_way(receptors, peptides, positive) + one_way(peptides, receptors, positive.T)) / 2, positive


def test_loss_equals_the_symmetric_label_aware_formula():
    objective = tiny_clip(temperature=0.2)
    rng = np.random.default_rng(0)
    receptors, peptides = rng.normal(size=(6, 16)), rng.normal(size=(6, 16))
    out = objective.loss_from_embeddings([torch.tensor(receptors), torch.tensor(peptides)], pair_batch(PAIRS))
    expected, positive = numpy_symmetric_infonce(receptors, peptides, PAIRS, 0.2)
    assert positive[0, 2] and positive[0, 4] and not positive[0, 1]  # same peptide / same receptor: not negatives
    assert out["loss"].item() == pytest.approx(expected, rel=1e-10)
    best = (peptides / np.linalg.norm(peptides, axis=1, keepdims=True) @ receptors.T).T.argmax(1)
    assert out["top1"].item() == pytest.approx(np.mean(positive[np.arange(6), best]))


def test_gradient_caching_stays_exact():
    assert_gradient_cache_exact(tiny_clip(0.1, hard_negative_beta=0.5), pair_batch(PAIRS), 4, seed=None)


def test_euclidean_logits_loss_and_gradient():
    rng = np.random.default_rng(3)
    a, c = rng.normal(size=(5, 4)), rng.normal(size=(7, 4))
    c[2] = a[2]  # a coincident pair: distance 0, gradient still finite
    distances = np.sqrt(((a[:, None] - c[None]) ** 2).sum(-1))
    logits = similarity_logits(torch.tensor(a), torch.tensor(c), 0.5, "euclidean")
    assert np.allclose(logits.numpy(), -distances / 0.5, atol=1e-5)
    positive = np.zeros((5, 7), bool)
    positive[np.arange(5), np.arange(5)] = True
    s = -distances / 0.5
    expected = np.mean([-(s[i, i] - np.log(np.exp(s[i]).sum())) for i in range(5)])
    got = info_nce(torch.tensor(a), torch.tensor(c), torch.tensor(positive), 0.5, distance="euclidean")
    assert got.item() == pytest.approx(expected, rel=1e-6)
    x, y = (torch.tensor(v, requires_grad=True) for v in (a + 0.01, c))  # away from 0 for finite differences
    assert torch.autograd.gradcheck(lambda p, q: info_nce(p, q, torch.tensor(positive), 0.5, distance="euclidean",
                                                          hard_negative_beta=1.0), (x, y), eps=1e-6, atol=1e-6)
    coincident = torch.tensor(a, requires_grad=True)
    info_nce(coincident, torch.tensor(c), torch.tensor(positive), 0.5, distance="euclidean").backward()
    assert coincident.grad is not None and torch.isfinite(coincident.grad).all()
    with pytest.raises(InputError, match="debias_tau_plus needs"):
        tiny_clip(distance="euclidean", debias_tau_plus=0.1)


def planted_pairs(n: int, seed: int) -> pd.DataFrame:
    """Receptors whose peptide is set by a planted motif (WW, KK, PP, HH): a rule the towers can learn."""
    rng = np.random.default_rng(seed)
    peptides = {"WW": "GILGFVFTL", "KK": "NLVPMVATV", "PP": "KAYNVTQAF", "HH": "YLQPRTFLL"}
    residues = list("ACDEFGILMNQRSTVY")
    rows = []
    for i in range(n):
        motif = list(peptides)[i % 4]
        core = "".join(rng.choice(residues, 8))
        rows.append(("CAS" + core[:4] + motif + core[4:] + "F", peptides[motif]))
    return pd.DataFrame(rows, columns=["cdr3_b_aa", "peptide"])


def test_pretraining_learns_a_planted_rule_and_retrieval_uses_the_towers(tmp_path):
    train, test = planted_pairs(256, 0), planted_pairs(64, 1)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    small = tmp_path / "small.yaml"
    small.write_text("model:\n  hidden_size: 32\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 64\n"
                     "pretrain:\n  lr: 0.003\n")
    out = tmp_path / "clip"
    assert run_cli(["pretrain", "--data", str(tmp_path / "train.csv"), "--columns", "cdr3_b_aa,peptide",
                    "--objective", "clip", "--max-steps", "120", "--batch-size", "32", "--config", str(small),
                    "--out", str(out), "--quiet"]) == 0
    retrieval = tmp_path / "retrieval.json"
    assert run_cli(["evaluate", "retrieval", "--encoder", str(out), "--data", str(tmp_path / "test.csv"),
                    "--query-column", "cdr3_b_aa", "--key-column", "peptide", "--out", str(retrieval)]) == 0
    result = json.loads(retrieval.read_text())
    assert result["n_candidates"] == 4 and result["random_top_1"] == 0.25
    assert result["top_1"] >= 0.6  # held-out receptors: the rule, not the pairs, was learnt


def test_crossval_arm_pretrains_on_binding_pairs_and_scores_zero_shot_by_its_towers(tmp_path, small_binding_csv):
    from seqssl.data.dataset import encode_table
    from seqssl.data.formats.readers import read_table
    from seqssl.models.encoder import load_encoder
    from seqssl.models.towers import tower_embeddings
    small = tmp_path / "small.yaml"
    small.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"
                     "pretrain:\n  max_steps: 6\n  batch_size: 16\nfinetune:\n  epochs: 2\n")
    cv = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--arms", "clip", "--mode", "probe", "--folds", "2", "--split", "stratified",
                    "--config", str(small), "--out", str(cv), "--quiet"]) == 0
    results = json.loads((cv / "results.json").read_text())
    assert {"clip[probe]", "clip[zero-shot]"} == set(results["arms"])
    frame = pd.read_csv(small_binding_csv, dtype=str, keep_default_na=False)
    predictions = pd.read_csv(cv / "predictions.csv")
    table = read_table(str(small_binding_csv))
    labels_all = frame["label"].astype(int).to_numpy()
    for k in range(2):
        rows = predictions[(predictions["arm"] == "clip[zero-shot]") & (predictions["fold"] == k)]
        test = rows["row"].to_numpy()
        train_all = np.setdiff1d(np.arange(len(frame)), test)
        binders = frame.iloc[train_all].query("label == '1'")[["cdr3_b_aa", "peptide"]].drop_duplicates()
        record = results["arms"]["clip[zero-shot]"]["runs"][k]
        assert record["pretrain_pairs"] == len(binders)  # the non-binding training pairs are not positives
        encoder, tokenizer = load_encoder(cv / "encoders" / "clip" / f"fold_{k}")
        encoded = encode_table(table, ["cdr3_b_aa", "peptide"], tokenizer, 64).subset(test)
        cosine = pair_cosine(*tower_embeddings(encoder, encoded, torch.device("cpu")))
        labels = labels_all[test]
        assert np.array_equal(rows["y_true"].to_numpy(), labels)
        order = np.argsort(cosine, kind="stable")
        assert np.all(np.diff(rows["y_score"].to_numpy()[order]) >= -1e-9)  # Platt scaling keeps the cosine's order
        expected = roc_auc_score(labels, cosine)
        assert results["arms"]["clip[zero-shot]"]["folds"][k]["auroc"] == pytest.approx(expected, abs=1e-6)
        assert record["retrieval"]["n_candidates"] == len(set(frame["peptide"].to_numpy()[test][labels == 1]))
    runs = results["arms"]["clip[zero-shot]"]["runs"]
    tested = results["arms"]["clip[zero-shot]"]["retrieval"]["top_1_vs_frequency"]
    above_random = [r["retrieval"]["top_1"] - r["retrieval"]["random_top_1"] for r in runs]
    assert results["arms"]["clip[zero-shot]"]["retrieval"]["top_1_vs_random"]["delta_mean"] == pytest.approx(
        np.mean(above_random))
    expected = [r["retrieval"]["top_1"] - r["retrieval"]["frequency_top_1"] for r in runs]
    assert tested["deltas"] == pytest.approx(expected)
    assert tested["ci95"][0] <= tested["delta_mean"] <= tested["ci95"][1]
    assert "frequency top-1" in (cv / "report.md").read_text()


def test_frequency_chance_is_the_best_ranking_that_ignores_the_query():
    import itertools

    from seqssl.evaluate.retrieval import top_k_accuracy
    rng = np.random.default_rng(4)
    key_ids = list("AAAAABBBCD")
    queries, keys = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    got = top_k_accuracy(queries, keys, [1, 2, 3], key_ids=key_ids)
    for k in (1, 2, 3):
        best = max(np.mean([key in order[:k] for key in key_ids]) for order in itertools.permutations("ABCD"))
        assert got[f"frequency_top_{k}"] == pytest.approx(best)
        assert got[f"random_top_{k}"] == pytest.approx(k / 4)
    constant = top_k_accuracy(np.ones((10, 3)), keys, [1], key_ids=key_ids)  # every query alike: ties count against
    assert constant["top_1"] <= constant["frequency_top_1"]
