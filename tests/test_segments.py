"""Inputs of several sequence columns (CDR3α, CDR3β, peptide; or six CDRs): ``[CLS] a [SEP] b [SEP] c [SEP]``
with segment id ``i`` for column ``i``, through tokenisation, truncation, the encoder's segment embeddings,
pretraining, fine-tuning, prediction, embedding, cross-validation and the k-mer and knn baselines.

The three-column table is the bundled MIRA binding slice with one more real sequence column: each row's
CDR3β is joined by the CDR3β of the row before it (``partner``), so the peptide stays last."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

import seqssl
from conftest import levenshtein, run_cli
from crossval_checks import check_binary_metrics_against_predictions
from seqssl.config import ModelConfig
from seqssl.data.dataset import encode_table
from seqssl.data.formats.readers import read_table
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.data.tokenizers.vocab import longest_first, truncate_encoded
from seqssl.errors import InputError
from seqssl.models.encoder import SequenceEncoder, load_encoder, transformers_config
from seqssl.transfer.kmer import KmerFeatures
from seqssl.transfer.knn import rows_edit_similarity
from tiny_models import esm_directory, protbert_directory

COLUMNS = ["cdr3_b_aa", "partner", "peptide"]
TRIPLE = ["--columns", ",".join(COLUMNS), "--label-column", "label"]
TINY = ["--epochs", "1", "--batch-size", "32", "--quiet"]


@pytest.fixture
def three_column_csv(tmp_path, small_binding_csv):
    """The 240 binding rows with a second CDR3 column before the peptide and a train/test column."""
    frame = pd.read_csv(small_binding_csv, dtype=str)
    frame.insert(1, "partner", np.roll(frame["cdr3_b_aa"].to_numpy(), 1))
    frame["split"] = np.where(np.arange(len(frame)) % 4 == 0, "test", "train")
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    return path


def reference_longest_first(lengths: list[int], budget: int) -> list[int]:
    """The rule one token at a time: cut the longest member, the earliest of equally long ones."""
    keep = list(lengths)
    while sum(keep) > budget:
        keep[keep.index(max(keep))] -= 1
    return keep


# --- tokenisation -----------------------------------------------------------------------------------------


def test_one_and_two_columns_keep_their_ids():
    """Worked by hand from the vocabulary ([PAD] [UNK] [CLS] [SEP] [MASK] A C D E F G H I K L M N P Q R S T V W
    Y X: C=6, A=5, S=20, K=13), as seqssl has always written them."""
    tok = SequenceTokenizer()
    single, pair = tok.encode("CAS"), tok.encode("CAS", "KA")
    assert single.input_ids.tolist() == [2, 6, 5, 20, 3] and single.token_type_ids.tolist() == [0] * 5
    assert pair.input_ids.tolist() == [2, 6, 5, 20, 3, 13, 5, 3]
    assert pair.token_type_ids.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    cut = truncate_encoded(tok.encode("CASSL", "KAY"), 6)  # 3 residues left: 5+3 → 3+3 → 2+3 → 2+2 → 1+2
    assert cut.input_ids.tolist() == [2, 6, 3, 13, 5, 3] and cut.token_type_ids.tolist() == [0, 0, 0, 1, 1, 1]


def test_three_columns_get_one_segment_each(three_column_csv):
    tok = SequenceTokenizer()
    triple = tok.encode("CAS", "KA", "GIL")
    assert triple.input_ids.tolist() == [2, 6, 5, 20, 3, 13, 5, 3, 10, 12, 14, 3]
    assert triple.token_type_ids.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    table = read_table(three_column_csv)
    encoded = encode_table(table, COLUMNS, tok, None)
    for ids, types, row in zip(encoded.input_ids[:20], encoded.token_type_ids[:20], table.frame[COLUMNS].values):
        assert [tok.decode(ids[types == i]) for i in range(3)] == list(row)
        assert (ids[types == 1][-1], ids[types == 2][-1]) == (3, 3)  # each [SEP] in its column's segment
    two = encode_table(table, COLUMNS[::2], tok, None)
    assert all(np.array_equal(a, tok.encode(*r).input_ids) for a, r in
               zip(two.input_ids[:20], table.frame[COLUMNS[::2]].values))


def test_bad_cell_is_named_by_its_column(tmp_path, three_column_csv):
    frame = pd.read_csv(three_column_csv, dtype=str)
    frame.loc[5, "partner"] = "CASS1F"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError) as err:
        encode_table(read_table(tmp_path / "bad.csv"), COLUMNS, SequenceTokenizer(), None)
    assert "line 7" in str(err.value) and "partner" in str(err.value)


# --- truncation -------------------------------------------------------------------------------------------


def test_longest_first_matches_the_rule_one_token_at_a_time():
    rng = np.random.default_rng(0)
    for _ in range(300):
        lengths = rng.integers(1, 30, rng.integers(1, 7)).tolist()
        budget = int(rng.integers(len(lengths), sum(lengths) + 3))
        assert longest_first(lengths, budget) == reference_longest_first(lengths, budget)


def test_truncating_three_columns_keeps_each_and_counts_the_rows(tmp_path):
    tok = SequenceTokenizer()
    cut = truncate_encoded(tok.encode("A" * 10, "C" * 4, "D" * 9), 16)  # 12 residues fit: 4 from each
    assert tok.decode(cut.input_ids) == "AAAA" + "CCCC" + "DDDD" and len(cut.input_ids) == 16
    assert cut.token_type_ids.tolist() == [0] * 6 + [1] * 5 + [2] * 5 and cut.truncated
    tight = truncate_encoded(tok.encode("A" * 10, "C" * 4, "D" * 9), 5)  # never below one residue per column
    assert tok.decode(tight.input_ids) == "ACD"
    frame = pd.DataFrame({"a": ["A" * 10, "CASS"], "b": ["C" * 4, "KA"], "c": ["D" * 9, "GIL"]})
    frame.to_csv(tmp_path / "long.csv", index=False)
    encoded = encode_table(read_table(tmp_path / "long.csv"), ["a", "b", "c"], tok, 16, "truncate")
    assert encoded.meta["truncated_rows"] == 1 and encoded.lengths().tolist() == [16, 13]
    with pytest.raises(InputError, match="exceeds the model's maximum"):
        encode_table(read_table(tmp_path / "long.csv"), ["a", "b", "c"], tok, 16)


# --- the encoder's segment embeddings ---------------------------------------------------------------------


def test_type_vocab_size_follows_the_number_of_columns():
    sizes = [transformers_config(ModelConfig(), 26, n).type_vocab_size for n in (1, 2, 3, 6)]
    assert sizes == [2, 2, 3, 6]
    assert transformers_config(ModelConfig(segments=4), 26, 2).type_vocab_size == 4
    with pytest.raises(InputError, match="model.segments"):
        transformers_config(ModelConfig(segments=0), 26, 2)


def test_an_encoder_with_two_segments_refuses_three_columns(tmp_path, three_column_csv):
    tok = SequenceTokenizer()
    SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1, intermediate_size=32),
                          tok.vocab_size).save(tmp_path / "two", tok)
    with pytest.raises(InputError) as err:
        seqssl.embed(three_column_csv, tmp_path / "two", COLUMNS)
    assert "2 segment" in str(err.value) and "3 were given" in str(err.value)
    assert "model.segments: 3" in err.value.fix
    assert seqssl.embed(three_column_csv, tmp_path / "two", COLUMNS[1:]).shape == (240, 16)


# --- models users bring -----------------------------------------------------------------------------------


def test_a_two_type_bert_model_refuses_three_columns(tmp_path, three_column_csv, capsys):
    """ProtBert-style BERT has two token types: three columns are refused with a fix, not an index error."""
    protbert_directory(tmp_path / "protbert")
    assert run_cli(["finetune", "--data", str(three_column_csv), *TRIPLE, "--encoder", str(tmp_path / "protbert"),
                    "--out", str(tmp_path / "ft"), *TINY]) == 2
    assert "2 segment (token type) embeddings" in capsys.readouterr().err
    with pytest.raises(InputError) as err:
        seqssl.embed(three_column_csv, tmp_path / "protbert", COLUMNS)
    assert "3 were given" in str(err.value) and "ESM" in err.value.fix


def test_a_model_without_token_types_reads_the_extended_pair_template(tmp_path, three_column_csv):
    """ESM: ``<cls> a <eos> b <eos> c <eos>`` (its pair template extended), its own token ids, segment id per
    column on seqssl's side; the model itself reads no segment ids. Truncation keeps every column."""
    _, hf = esm_directory(tmp_path / "esm")
    encoder, tok = load_encoder(tmp_path / "esm")
    encoded = tok.encode("CASS", "GIL", "KAY")
    pieces = [hf(s, add_special_tokens=False)["input_ids"] for s in ("CASS", "GIL", "KAY")]
    cls, eos = hf.cls_token_id, hf.eos_token_id
    expected = [cls, *pieces[0], eos, *pieces[1], eos, *pieces[2], eos]
    assert encoder.input_map[torch.from_numpy(encoded.input_ids)].tolist() == expected
    assert encoded.token_type_ids.tolist() == [0] * 6 + [1] * 4 + [2] * 4
    assert tok.encode("CASS", "GIL").input_ids.tolist() == encoded.input_ids[:10].tolist()  # the pair is unchanged
    cut = tok.truncate(encoded, ("CASSLLLLLL", "GIL", "KAY"), 9)
    assert encoder.input_map[torch.from_numpy(cut.input_ids)].tolist() == [cls, pieces[0][0], eos, *pieces[1][:2], eos,
                                                                          *pieces[2][:2], eos]
    vectors = seqssl.embed(three_column_csv, tmp_path / "esm", COLUMNS)
    assert vectors.shape == (240, 32) and np.isfinite(vectors).all()


# --- pretraining, fine-tuning, prediction, embedding ------------------------------------------------------


def test_pretrain_and_embed_on_three_columns(tmp_path, three_column_csv):
    """The encoder gets a segment embedding per column; ``--stream`` keeps the segment ids; the saved tokenizer
    gives seqssl's ids in transformers for one and two columns, and seqssl embeds three."""
    from transformers import AutoTokenizer
    for name, extra in (("enc", []), ("streamed", ["--stream", "--cache-dir", str(tmp_path / "cache")])):
        assert run_cli(["pretrain", "--data", str(three_column_csv), "--columns", ",".join(COLUMNS),
                        "--objective", "mlm", "--max-steps", "2", "--batch-size", "32", "--out",
                        str(tmp_path / name), "--quiet", *extra]) == 0
        assert json.loads((tmp_path / name / "config.json").read_text())["type_vocab_size"] == 3
    hf, tok = AutoTokenizer.from_pretrained(str(tmp_path / "enc")), SequenceTokenizer()
    assert hf("CAS")["input_ids"] == tok.encode("CAS").input_ids.tolist()
    pair = hf("CAS", "KA")
    assert (pair["input_ids"], pair["token_type_ids"]) == ([2, 6, 5, 20, 3, 13, 5, 3], [0, 0, 0, 0, 0, 1, 1, 1])
    out = tmp_path / "emb.parquet"
    assert run_cli(["embed", "--encoder", str(tmp_path / "enc"), "--data", str(three_column_csv), "--columns",
                    ",".join(COLUMNS), "--out", str(out)]) == 0
    written = pd.read_parquet(out)
    assert written["id"].tolist()[:3] == ["r0", "r1", "r2"] and written.shape == (240, 1 + 8 + 64)  # + input columns
    np.testing.assert_allclose(written.filter(like="emb_").to_numpy(),
                               seqssl.embed(three_column_csv, tmp_path / "enc", COLUMNS), atol=1e-5)


def test_finetune_and_predict_on_three_columns(tmp_path, three_column_csv):
    """Fine-tuning reads the three columns (task pair-classification by default), sizes a new encoder to them,
    and ``predict`` reproduces its test scores."""
    from sklearn.metrics import roc_auc_score
    model = tmp_path / "model"
    assert run_cli(["finetune", "--data", str(three_column_csv), *TRIPLE, "--split-column", "split",
                    "--out", str(model), *TINY]) == 0
    manifest = json.loads((model / "seqssl_model.json").read_text())
    assert manifest["task"] == "pair-classification" and manifest["columns"] == COLUMNS
    assert json.loads((model / "encoder" / "config.json").read_text())["type_vocab_size"] == 3
    frame = pd.read_csv(three_column_csv, dtype=str)
    test = frame[frame.split == "test"]
    predicted = seqssl.predict(model, test.drop(columns=["label"]))
    assert list(predicted.columns[:4]) == ["id", *COLUMNS]
    recorded = json.loads((model / "metrics.json").read_text())["test"]["auroc"]
    assert roc_auc_score(test.label.astype(float), predicted.y_score) == pytest.approx(recorded, abs=1e-6)
    with pytest.raises(InputError, match="3 sequence column"):
        seqssl.predict(model, test, columns=COLUMNS[:2])


# --- cross-validation and the baselines -------------------------------------------------------------------


def test_crossval_on_three_columns_with_the_baselines(tmp_path, three_column_csv):
    """Every kind of arm on three columns: a random encoder, one pretrained per fold (its corpus holds the
    three-column training rows), a model without token types, and the k-mer and knn baselines."""
    esm_directory(tmp_path / "esm")
    out, config = tmp_path / "cv", tmp_path / "no_map.yaml"
    config.write_text("crossval:\n  embedding_map: false\n")  # t-SNE would take most of the test's time
    arms = f"none,mlm,model:{tmp_path / 'esm'},kmer,knn"
    assert run_cli(["crossval", "--data", str(three_column_csv), *TRIPLE, "--arms", arms, "--folds", "2",
                    "--max-steps", "2", "--config", str(config), "--out", str(out), *TINY]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "pair-classification" and set(results["arms"]) == {
        "none", "mlm", "esm", "kmer", "kmer[per-value]", "knn"}
    assert all(len(body["folds"]) == 2 for body in results["arms"].values())
    assert check_binary_metrics_against_predictions(out) == 6 * 2  # each fold's metrics: scikit-learn's
    assert "auroc_per_group" in results["arms"]["kmer"]["mean"]  # grouped by the last column, the peptide
    assert json.loads((out / "encoders" / "mlm" / "fold_0" / "config.json").read_text())["type_vocab_size"] == 3
    assert len(pd.read_csv(out / "predictions.csv")) == 6 * 240


def test_kmer_features_have_a_block_per_column_and_cross_each_with_the_last():
    rows = [("AAC", "CA", "P1"), ("CA", "AC", "P2"), ("AC", "CC", "P1")]
    features = KmerFeatures(max_k=2).fit(rows)
    widths = [len(v.vocabulary_) for v in features.vectorizers]
    raw = features._raw(rows[:1]).toarray()[0]
    blocks = np.split(raw, np.cumsum(widths))
    first, second, third, crossed = blocks
    assert first[features.vectorizers[0].vocabulary_["aa"]] == 1 and third.sum() == 3  # p, 1, p1
    assert len(crossed) == 2 * (widths[0] + widths[1])  # two peptides × (column 1 + column 2 k-mers)
    for start, own, width in ((0, first, widths[0]), (2 * widths[0], second, widths[1])):
        per_peptide = crossed[start:start + 2 * width].reshape(2, width)
        assert np.array_equal(per_peptide[0], own) and not per_peptide[1].any()
    pair = KmerFeatures(max_k=2).fit([(a, c) for a, _, c in rows])  # two columns: the pair's features as before
    assert pair._raw([("AAC", "P1")]).shape[1] == widths[0] + widths[2] + 2 * widths[0]


def test_knn_sums_edit_distances_over_the_compared_columns():
    from seqssl.evaluate.arms.knn import compared
    queries, references = [("CASSL", "CAVR"), ("CAS", "CAVRD")], [("CASL", "CAR"), ("CASSLE", "CAVRD")]
    similarity = rows_edit_similarity(queries, references)
    for i, q in enumerate(queries):
        for j, r in enumerate(references):
            distance = sum(levenshtein(a, b) for a, b in zip(q, r))
            longer = sum(max(len(a), len(b)) for a, b in zip(q, r))
            assert similarity[i, j] == pytest.approx(1 - distance / longer)
    one = rows_edit_similarity([("CASSL",)], [("CASL",)])
    assert one[0, 0] == pytest.approx(1 - 1 / 5)
    assert compared([("cass", "cav", "GIL")]) == [("CASS", "CAV")] and compared([("cass", "GIL")]) == [("CASS",)]
