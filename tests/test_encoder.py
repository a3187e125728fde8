import torch

from seqssl.config import ModelConfig
from seqssl.data.collate import pad_batch
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder, load_encoder


def _inputs(tok, pairs):
    encs = [tok.encode(a, b) for a, b in pairs]
    return pad_batch([e.input_ids for e in encs], [e.token_type_ids for e in encs])


def test_saved_encoder_loads_with_automodel(tmp_path):
    from transformers import AutoModel
    tok = SequenceTokenizer()
    torch.manual_seed(0)
    enc = SequenceEncoder.build(ModelConfig(hidden_size=32, num_heads=4, num_layers=1), tok.vocab_size).eval()
    enc.save(tmp_path, tok, meta={"objective": "simclr"})
    assert (tmp_path / "model.safetensors").exists()
    batch = _inputs(tok, [("CASSLGQAYEQYF", "KAYNVTQAF"), ("CAW", "HTTDPSFLGRY")])
    hf = AutoModel.from_pretrained(str(tmp_path)).eval()
    with torch.no_grad():
        ours = enc.token_states(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        theirs = hf(**batch).last_hidden_state
        reloaded, tok2 = load_encoder(tmp_path)
        again = reloaded.eval()(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(enc(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]), again)
    assert tok2.vocab == tok.vocab


def test_mean_pooling_ignores_padding_and_specials():
    tok = SequenceTokenizer()
    torch.manual_seed(0)
    enc = SequenceEncoder.build(ModelConfig(hidden_size=32, num_heads=4, num_layers=1, pooling="mean"),
                                tok.vocab_size).eval()
    alone = _inputs(tok, [("CAS", None)])
    padded = _inputs(tok, [("CAS", None), ("CASSLGQAYEQYFAAA", None)])
    with torch.no_grad():
        a = enc(**{k: v for k, v in alone.items()})
        b = enc(**{k: v for k, v in padded.items()})[:1]
        states = enc.token_states(alone["input_ids"], alone["attention_mask"], alone["token_type_ids"])
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[0], states[0, 1:4].mean(0))  # residues only, not [CLS]/[SEP]


def test_esm_style_encoder_builds_and_round_trips(tmp_path):
    tok = SequenceTokenizer()
    enc = SequenceEncoder.build(ModelConfig(architecture="esm", hidden_size=32, num_heads=4, num_layers=1),
                                tok.vocab_size).eval()
    enc.save(tmp_path, tok)
    reloaded, _ = load_encoder(tmp_path)
    batch = _inputs(tok, [("CASS", "KAY")])
    with torch.no_grad():
        torch.testing.assert_close(enc(batch["input_ids"], batch["attention_mask"]),
                                   reloaded.eval()(batch["input_ids"], batch["attention_mask"]))


ESM2_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N",
              "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>"]


def _user_esm_directory(path):
    """What a user's ESM-2 download holds (config, safetensors weights, EsmTokenizer files), tiny."""
    from transformers import EsmConfig, EsmModel, EsmTokenizer
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(ESM2_VOCAB) + "\n")
    tokenizer = EsmTokenizer(str(path / "vocab.txt"))
    torch.manual_seed(0)
    config = EsmConfig(vocab_size=len(ESM2_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=64, max_position_embeddings=66, position_embedding_type="rotary",
                       pad_token_id=tokenizer.pad_token_id, mask_token_id=tokenizer.mask_token_id,
                       token_dropout=False)
    model = EsmModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))
    return model, tokenizer


def test_a_users_own_esm_directory_is_an_encoder(tmp_path, small_binding_csv):
    """--encoder DIR with a plain transformers directory: seqssl's ids are mapped to the model's own, so
    the encoder computes exactly what the model computes on its own tokenizer's ids; fine-tuning runs and
    its saved encoder loads in seqssl and in transformers with the model's tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    from conftest import run_cli
    model, hf_tok = _user_esm_directory(tmp_path / "esm")
    encoder, tok = load_encoder(tmp_path / "esm")
    sequences = ["CASSLGQF", "MKTAYIAKQRQISFVKSHFSRQ"]
    batch = _inputs(tok, [(s, None) for s in sequences])
    reference = hf_tok(sequences, padding=True, return_tensors="pt")
    assert torch.equal(encoder.input_map[batch["input_ids"]], reference["input_ids"])
    with torch.no_grad():
        ours = encoder.eval().token_states(batch["input_ids"], batch["attention_mask"])
        theirs = model(**reference).last_hidden_state
    torch.testing.assert_close(ours, theirs)
    out = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--encoder", str(tmp_path / "esm"), "--mode", "full", "--epochs", "1",
                    "--out", str(out), "--quiet"]) == 0
    again, _ = load_encoder(out / "encoder")
    assert torch.equal(again.input_map, encoder.input_map)
    plain = AutoModel.from_pretrained(str(out / "encoder"))
    their_tok = AutoTokenizer.from_pretrained(str(out / "encoder"))
    with torch.no_grad():
        ids = their_tok(sequences, padding=True, return_tensors="pt")
        torch.testing.assert_close(again.eval().token_states(batch["input_ids"], batch["attention_mask"]),
                                   plain.eval()(**ids).last_hidden_state)
