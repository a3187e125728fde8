"""The per-value pair head (``--mode per-value``): a shared output plus one per value of the last column seen in
training; unseen values get the shared output alone; in a crossval table beside the joined head."""
import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from crossval_checks import check_binary_metrics_against_predictions
from seqssl.config import FinetuneConfig, ModelConfig
from seqssl.data.dataset import EncodedDataset
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.errors import InputError
from seqssl.models.encoder import SequenceEncoder
from seqssl.transfer.finetune import PerValuePredictor, build_predictor, predict


def _pairs(values: list[str]):
    tok = SequenceTokenizer()
    encoded = [tok.encode("CASSLGQAYEQYF", v) for v in values]
    data = EncodedDataset([e.input_ids for e in encoded], [e.token_type_ids for e in encoded],
                          labels=np.zeros(len(values), dtype=np.float32))
    data.group_keys = np.array(values)
    return tok, data


def test_a_seen_value_adds_its_own_output_and_an_unseen_one_gets_the_shared_output():
    tok, data = _pairs(["KAYNVTQAF", "GILGFVFTL", "NLVPMVATV"])
    torch.manual_seed(0)
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1, intermediate_size=32),
                                    tok.vocab_size)
    model = PerValuePredictor(encoder, FinetuneConfig(head_dropout=0.0), ["GILGFVFTL", "KAYNVTQAF"]).eval()
    index = model.batch_extras(data)["value_index"]
    assert index.tolist() == [2, 1, 0]  # sorted values, 1-based; NLVPMVATV unseen
    with torch.no_grad():
        batch = data.padded(range(3))
        outputs = model.head(encoder(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]))
        logits = model({**batch, "value_index": torch.from_numpy(index)})
    assert torch.allclose(logits[0], outputs[0, 0] + outputs[0, 2])
    assert torch.allclose(logits[1], outputs[1, 0] + outputs[1, 1])
    assert torch.allclose(logits[2], outputs[2, 0])
    scores = predict(model, data, "pair-classification", torch.device("cpu"))  # batches carry the index
    assert np.allclose(scores, torch.sigmoid(logits).numpy(), atol=1e-6)


def test_the_per_value_head_is_refused_where_there_are_no_values():
    tok, data = _pairs(["KAYNVTQAF"])
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_heads=2, num_layers=1, intermediate_size=32),
                                    tok.vocab_size)
    with pytest.raises(InputError, match="binary pair tasks"):
        build_predictor(encoder, FinetuneConfig(), "regression", data, per_value=True)
    data.group_keys = None
    with pytest.raises(InputError, match="binary pair tasks"):
        build_predictor(encoder, FinetuneConfig(), "pair-classification", data, per_value=True)


def test_crossval_compares_the_joined_and_the_per_value_heads(tmp_path, small_binding_csv):
    (tmp_path / "c.yaml").write_text("crossval:\n  embedding_map: false\nmodel:\n  hidden_size: 16\n  num_heads: 2\n"
                                     "  num_layers: 1\n  intermediate_size: 32\n")
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--arms", "none,kmer", "--mode", "full,per-value", "--folds", "2", "--epochs", "1",
                    "--group-column", "cdr3_b_aa", "--config", str(tmp_path / "c.yaml"), "--out", str(out),
                    "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"none[full]", "none[per-value]", "kmer"} <= set(results["arms"])
    assert check_binary_metrics_against_predictions(out) == 2 * len(results["arms"])  # scikit-learn on the scores
