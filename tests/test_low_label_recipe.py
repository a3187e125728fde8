"""The low-label recipe: a lower learning rate for the encoder than for the head, and a fixed epoch budget
instead of early stopping on a validation set too small to trust."""
import numpy as np
import pytest
import torch

from seqssl.config import Config
from seqssl.data.dataset import EncodedDataset
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder
from seqssl.train.optim import build_optimizer
from seqssl.transfer.finetune import fine_tune


def _data(n: int, seed: int) -> EncodedDataset:
    tok = SequenceTokenizer()
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=rng.integers(8, 14))) for _ in range(n)]
    encs = [tok.encode(s) for s in seqs]
    labels = np.array([float("W" in s) for s in seqs], dtype=np.float32)
    return EncodedDataset([e.input_ids for e in encs], [e.token_type_ids for e in encs], labels)


def _setup(**finetune):
    cfg = Config()
    cfg.model.hidden_size, cfg.model.num_layers, cfg.model.intermediate_size = 32, 1, 64
    for key, value in {"epochs": 4, "batch_size": 16, "patience": 1, **finetune}.items():
        setattr(cfg.finetune, key, value)
    torch.manual_seed(0)
    return cfg, SequenceEncoder.build(cfg.model, SequenceTokenizer().vocab_size)


def test_optimizer_puts_the_slow_parameters_in_their_own_groups():
    cfg, encoder = _setup()
    head = torch.nn.Linear(32, 1)
    params = list(encoder.parameters()) + list(head.parameters())
    optimizer = build_optimizer(params, cfg.finetune, slow=encoder.parameters(), slow_lr=1e-5)
    by_lr = {}
    for group in optimizer.param_groups:
        by_lr.setdefault(group["lr"], set()).update(id(p) for p in group["params"])
    assert by_lr[1e-5] == {id(p) for p in encoder.parameters()}
    assert by_lr[cfg.finetune.lr] == {id(p) for p in head.parameters()}
    plain = build_optimizer(params, cfg.finetune)  # without slow parameters: the two usual groups
    assert len(plain.param_groups) == 2 and {g["lr"] for g in plain.param_groups} == {cfg.finetune.lr}


def test_encoder_lr_moves_the_encoder_less_than_the_head():
    cfg, encoder = _setup(encoder_lr=1e-7, lr=1e-2)
    before = [p.detach().clone() for p in encoder.parameters()]
    model, _ = fine_tune(encoder, _data(96, 0), _data(32, 1), cfg.finetune, "classification",
                         device=torch.device("cpu"), progress=False)
    encoder_change = max(float((p - b).abs().max()) for p, b in zip(model.encoder.parameters(), before))
    assert encoder_change < 1e-4  # AdamW moves each weight by about lr per step
    cfg2, encoder2 = _setup(lr=1e-2)
    model2, _ = fine_tune(encoder2, _data(96, 0), _data(32, 1), cfg2.finetune, "classification",
                          device=torch.device("cpu"), progress=False)
    assert max(float((p - b).abs().max()) for p, b in zip(model2.encoder.parameters(), before)) > 1e-3


def test_select_last_trains_the_whole_budget_and_keeps_the_last_weights():
    from seqssl.tasks import task_metrics
    from seqssl.transfer.finetune import predict
    val = _data(48, 1)
    for select in ("last", "best"):
        cfg, encoder = _setup(select=select, epochs=5, patience=10, lr=3e-3)
        model, details = fine_tune(encoder, _data(96, 0), val, cfg.finetune, "classification",
                                   device=torch.device("cpu"), progress=False)
        assert details["epochs_run"] == 5 and not details["stopped_early"]
        score = task_metrics("classification", val.labels, predict(model, val, "classification",
                                                                    torch.device("cpu")))["auroc"]
        values = [h["val_auroc"] for h in details["history"]]
        # the returned weights score what the last epoch scored (last) or the best epoch (best)
        assert score == pytest.approx(values[-1] if select == "last" else max(values))


@pytest.mark.parametrize("select", ["best", "last"])
def test_select_is_validated_and_recorded(select):
    from seqssl.config import load_config
    cfg = load_config(None, {"finetune": {"select": select}})
    assert cfg.finetune.select == select
    from seqssl.errors import InputError
    with pytest.raises(InputError, match="best or last"):
        load_config(None, {"finetune": {"select": "median"}})
