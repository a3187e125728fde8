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
