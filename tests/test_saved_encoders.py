"""Saved encoders behave in the libraries people use: transformers loads them with no untrained weights, the
tokenizer upper-cases residues and knows its maximum length, sentence-transformers gives seqssl's vectors,
and a model card says what the model is."""
import json

import numpy as np
import pytest
import torch

import seqssl
from conftest import run_cli

SEQUENCES = ["CASSLGQAYEQYF", "cassPDRGEQYF", "CSARDRTGNGYTF"]


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    from seqssl.data.builtin import builtin_path
    out = tmp_path_factory.mktemp("enc") / "cdr3_simclr"
    assert run_cli(["pretrain", "--data", str(builtin_path("background_cdr3b")), "--columns", "cdr3_b_aa",
                    "--objective", "simclr", "--max-steps", "3", "--batch-size", "32", "--out", str(out),
                    "--quiet"]) == 0
    return out


def test_transformers_loads_every_weight_and_tokenizes_like_seqssl(encoder_dir):
    from transformers import AutoModel, AutoTokenizer
    model, info = AutoModel.from_pretrained(str(encoder_dir), add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    assert tokenizer("cassl")["input_ids"] == tokenizer("CASSL")["input_ids"]
    max_tokens = model.config.max_position_embeddings - 2
    assert tokenizer.model_max_length == max_tokens
    assert len(tokenizer("A" * 500, truncation=True)["input_ids"]) == max_tokens
    batch = tokenizer(SEQUENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        first_token = model.eval()(**batch).last_hidden_state[:, 0].numpy()
    np.testing.assert_allclose(first_token, seqssl.embed(SEQUENCES, encoder=encoder_dir), atol=1e-5)


def test_sentence_transformers_gives_seqssls_embeddings(encoder_dir, capfd):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    model = sentence_transformers.SentenceTransformer(str(encoder_dir), device="cpu")
    np.testing.assert_allclose(model.encode(SEQUENCES), seqssl.embed(SEQUENCES, encoder=encoder_dir), atol=1e-5)
    printed = capfd.readouterr()
    assert "MISSING" not in printed.err + printed.out  # no untrained pooler built and reported


def test_the_model_card_says_what_the_model_is(encoder_dir):
    card = (encoder_dir / "README.md").read_text()
    meta = json.loads((encoder_dir / "seqssl.json").read_text())
    assert "objective: `simclr`" in card and f"steps: {meta['steps']}" in card and meta["steps"] == 3
    assert "background_cdr3b" in card and "add_pooling_layer=False" in card and "SentenceTransformer" in card
    pooling = json.loads((encoder_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_cls_token"] and not pooling["pooling_mode_mean_tokens"]


def test_the_model_card_names_only_the_settings_it_knows():
    from seqssl.models.card import model_card
    info = {"objective": "mlm", "steps": 10, "final_loss": 1.5}
    bare = model_card("enc", info, "bert", 1000, 64, 32)
    assert "- steps: 10; final loss 1.5000" in bare and "None" not in bare
    with_config = {**info, "config": {"pretrain": {"batch_size": 256, "lr": 0.003}}}
    configured = model_card("enc", with_config, "bert", 1000, 64, 32)
    assert "- steps: 10, batch size 256, learning rate 0.003; final loss 1.5000" in configured
