"""``seqssl evaluate lm``: masked-token accuracy and perplexity on held-out sequences (seed 001's Table 1). The MLM
head is saved with an encoder pretrained with ``mlm``; the figures are recomputed by hand from the saved head and
from a ``transformers`` masked-LM model fed its own tokenizer's ids; an encoder without a head is refused."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from conftest import run_cli
from seqssl.augment import mlm_corrupt
from seqssl.data.builtin import builtin_path
from tiny_models import PROTBERT_VOCAB, SIZE

TINY = "model:\n  hidden_size: 32\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 64\n"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    background = pd.read_csv(builtin_path("background_cdr3b"), dtype=str)["cdr3_b_aa"]
    background.iloc[:2000].to_frame().to_csv(root / "train.csv", index=False)
    background.iloc[2000:2100].to_frame().to_csv(root / "held_out.csv", index=False)
    (root / "tiny.yaml").write_text(TINY)
    return root


def lm_figures(tmp_path, encoder, data, *flags):
    out = tmp_path / f"lm-{encoder.name}.json"
    code = run_cli(["evaluate", "lm", "--encoder", str(encoder), "--data", str(data), "--columns", "cdr3_b_aa",
                    "--out", str(out), *flags])
    return code, (json.loads(out.read_text()) if code == 0 else None)


def test_mlm_encoder_saves_its_head_and_the_figures_match_a_hand_computation(corpora, tmp_path, capsys):
    from seqssl.data.dataset import encode_table
    from seqssl.data.formats.readers import read_table
    from seqssl.models.encoder import load_encoder
    from seqssl.objectives.mlm import TokenPredictionHead
    runs = {}
    for steps in (0, 150):
        out = tmp_path / f"mlm-{steps}"
        args = ["pretrain", "--data", str(corpora / "train.csv"), "--columns", "cdr3_b_aa", "--objective", "mlm",
                "--batch-size", "64", "--lr", "0.003", "--config", str(corpora / "tiny.yaml"), "--out", str(out),
                "--quiet"]
        assert run_cli([*args, "--max-steps", str(max(steps, 1))]) == 0
        assert (out / "mlm_head.safetensors").exists() and json.loads((out / "seqssl.json").read_text())["heads"]
        code, runs[steps] = lm_figures(tmp_path, out, corpora / "held_out.csv")
        assert code == 0
    assert "perplexity: " in capsys.readouterr().out
    trained = runs[150]
    assert trained["perplexity"] < 0.8 * runs[0]["perplexity"]  # learning lowers held-out perplexity
    assert trained["masked_tokens"] >= trained["sequences"]  # at least one masked residue per sequence
    # by hand: the same seeded positions, the saved head on the encoder's states, cross entropy summed
    encoder, tokenizer = load_encoder(tmp_path / "mlm-150")
    head = TokenPredictionHead.load(encoder, tokenizer.vocab_size, tmp_path / "mlm-150" / "mlm_head.safetensors")
    encoder.eval()
    encoded = encode_table(read_table(str(corpora / "held_out.csv")), ["cdr3_b_aa"], tokenizer, encoder.max_tokens)
    generator = torch.Generator().manual_seed(0)
    nats, count, correct = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), 128):
            batch = encoded.padded(np.arange(start, min(start + 128, len(encoded))))
            corrupted, selected = mlm_corrupt(batch["input_ids"], 0.15, 1.0, 0.0, generator=generator)
            assert (corrupted[selected] == 4).all()  # every selected residue is [MASK]
            logits = head(encoder.token_states(corrupted, batch["attention_mask"], batch["token_type_ids"]))[selected]
            nats += float(F.cross_entropy(logits, batch["input_ids"][selected], reduction="sum"))
            correct += int((logits.argmax(-1) == batch["input_ids"][selected]).sum())
            count += int(selected.sum())
    assert trained["masked_tokens"] == count
    assert trained["perplexity"] == pytest.approx(math.exp(nats / count), rel=1e-5)
    assert trained["masked_accuracy"] == pytest.approx(correct / count)


def test_an_encoder_without_a_head_is_refused(corpora, tmp_path, capsys):
    out = tmp_path / "simclr"
    assert run_cli(["pretrain", "--data", str(corpora / "train.csv"), "--columns", "cdr3_b_aa", "--objective",
                    "simclr", "--max-steps", "1", "--batch-size", "16", "--config", str(corpora / "tiny.yaml"),
                    "--out", str(out), "--quiet"]) == 0
    code, _ = lm_figures(tmp_path, out, corpora / "held_out.csv")
    assert code == 2 and "without an MLM head" in capsys.readouterr().err


def test_a_transformers_masked_lm_is_scored_on_its_own_ids(corpora, tmp_path):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer
    path = tmp_path / "protbert-mlm"
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(PROTBERT_VOCAB) + "\n")
    tokenizer = BertTokenizer(str(path / "vocab.txt"), do_lower_case=False)
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(PROTBERT_VOCAB), max_position_embeddings=130, **SIZE)).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    code, got = lm_figures(tmp_path, path, corpora / "held_out.csv", "--mask-rate", "0.3", "--seed", "5")
    assert code == 0
    # by hand, in the model's own ids: seqssl's masked positions (its generator, its [CLS] a [SEP] layout, which
    # is the tokenizer's too), the tokenizer's mask id, the model's logits over its vocabulary
    from seqssl.data.tokenizers.model_tokenizer import ModelTokenizer
    ours = ModelTokenizer.from_directory(path)
    sequences = pd.read_csv(corpora / "held_out.csv")["cdr3_b_aa"].tolist()
    generator = torch.Generator().manual_seed(5)
    nats, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(sequences), 128):
            chunk = sequences[start:start + 128]
            from seqssl.data.padding import pad_batch
            seqssl_ids = [ours.encode(s).input_ids for s in chunk]
            batch = pad_batch(seqssl_ids, [np.zeros_like(x) for x in seqssl_ids])
            _, selected = mlm_corrupt(batch["input_ids"], 0.3, 1.0, 0.0, generator=generator)
            hf = tokenizer([" ".join(s) for s in chunk], padding=True, return_tensors="pt")
            assert hf["input_ids"].shape == batch["input_ids"].shape
            masked = hf["input_ids"].masked_fill(selected, tokenizer.mask_token_id)
            logits = model(input_ids=masked, attention_mask=hf["attention_mask"]).logits[selected]
            nats += float(F.cross_entropy(logits, hf["input_ids"][selected], reduction="sum"))
            count += int(selected.sum())
    assert got["masked_tokens"] == count
    assert got["perplexity"] == pytest.approx(math.exp(nats / count), rel=1e-5)
