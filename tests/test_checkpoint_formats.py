"""Checkpoints as people have them: ``pytorch_model.bin`` (ChemBERTa) read with ``weights_only`` (a crafted pickle is
refused and its payload never runs), and a model that ships its own code (MolFormer) loaded only with
``--trust-remote-code``. Tiny local models, nothing downloaded."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import PicklePayload, run_cli
from tiny_models import protbert_directory

SEQUENCES = ["CASSLGQGAYEQYF", "CASSPDRGNTEAFF", "CASRQGGSYNEQFF", "CSARDRGGTDTQYF"]


def embed(tmp_path, encoder, name, *flags):
    data = tmp_path / "seqs.csv"
    pd.DataFrame({"cdr3_b_aa": SEQUENCES}).to_csv(data, index=False)
    out = tmp_path / f"{name}.csv"
    code = run_cli(["embed", "--encoder", str(encoder), "--data", str(data), "--columns", "cdr3_b_aa", "--out",
                    str(out), *flags])
    if code:
        return code, None
    frame = pd.read_csv(out)
    return code, frame[[c for c in frame.columns if c.startswith("emb_")]].to_numpy()


def as_bin(source, target):
    """The same model with its weights as a pickled ``pytorch_model.bin`` instead of safetensors."""
    from safetensors.torch import load_file
    shutil.copytree(source, target)
    weights = load_file(str(target / "model.safetensors"))
    (target / "model.safetensors").unlink()
    torch.save(weights, target / "pytorch_model.bin")


def test_pytorch_model_bin_loads_the_same_weights(tmp_path):
    protbert_directory(tmp_path / "safe")
    as_bin(tmp_path / "safe", tmp_path / "bin")
    code_a, safe = embed(tmp_path, tmp_path / "safe", "safe")
    code_b, pickled = embed(tmp_path, tmp_path / "bin", "bin")
    assert code_a == code_b == 0
    np.testing.assert_allclose(pickled, safe, rtol=1e-6, atol=1e-6)


def test_a_crafted_pickle_is_refused_and_its_payload_never_runs(tmp_path, capsys):
    protbert_directory(tmp_path / "safe")
    as_bin(tmp_path / "safe", tmp_path / "evil")
    marker = tmp_path / "payload-ran"
    weights = torch.load(tmp_path / "evil" / "pytorch_model.bin", weights_only=True)
    torch.save({**weights, "extra": PicklePayload(marker)}, tmp_path / "evil" / "pytorch_model.bin")
    code, _ = embed(tmp_path, tmp_path / "evil", "evil")
    assert code == 2 and not marker.exists()
    assert "refused to load pytorch_model.bin" in capsys.readouterr().err


CONFIG_CODE = '''
from transformers import BertConfig


class ShiftedConfig(BertConfig):
    model_type = "shifted-bert"
'''
MODEL_CODE = '''
from transformers import BertModel

from .configuration_shifted import ShiftedConfig


class ShiftedModel(BertModel):
    """BERT whose hidden states are all raised by one: visible in any pooled embedding."""

    config_class = ShiftedConfig

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        out.last_hidden_state = out.last_hidden_state + 1.0
        return out
'''


def custom_code_directory(path):
    """The ProtBert-style model re-declared as a custom architecture whose code ships in the directory."""
    protbert_directory(path)
    (path / "configuration_shifted.py").write_text(CONFIG_CODE)
    (path / "modeling_shifted.py").write_text(MODEL_CODE)
    config = json.loads((path / "config.json").read_text())
    config.update(model_type="shifted-bert", architectures=["ShiftedModel"],
                  auto_map={"AutoConfig": "configuration_shifted.ShiftedConfig",
                            "AutoModel": "modeling_shifted.ShiftedModel"})
    (path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("pickled", [False, True])
def test_remote_code_runs_only_when_the_user_opts_in(tmp_path, capsys, pickled):
    protbert_directory(tmp_path / "plain")
    custom_code_directory(tmp_path / "custom")
    if pickled:
        as_bin(tmp_path / "custom", tmp_path / "custom-bin")
    model = tmp_path / ("custom-bin" if pickled else "custom")
    code, _ = embed(tmp_path, model, "refused")
    assert code == 2 and "--trust-remote-code" in capsys.readouterr().err
    code, shifted = embed(tmp_path, model, "trusted", "--trust-remote-code")
    _, plain = embed(tmp_path, tmp_path / "plain", "plain")
    assert code == 0
    np.testing.assert_allclose(shifted, plain + 1.0, rtol=1e-5, atol=1e-5)  # the shipped code ran


def test_crossval_model_arm_takes_the_flag(tmp_path, small_binding_csv):
    custom_code_directory(tmp_path / "custom")
    args = ["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa", "--label-column", "label",
            "--arms", f"model:{tmp_path / 'custom'}", "--mode", "probe", "--folds", "2", "--quiet"]
    assert run_cli([*args, "--out", str(tmp_path / "refused")]) == 2
    assert run_cli([*args, "--trust-remote-code", "--out", str(tmp_path / "cv")]) == 0
    assert "custom" in json.loads((tmp_path / "cv" / "results.json").read_text())["arms"]


def test_predict_runs_a_fine_tuned_custom_code_model_only_with_the_flag(tmp_path, small_binding_csv, capsys):
    custom_code_directory(tmp_path / "custom")
    model = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa", "--label-column", "label",
                    "--encoder", str(tmp_path / "custom"), "--trust-remote-code", "--mode", "probe", "--out",
                    str(model), "--quiet"]) == 0
    args = ["predict", "--model", str(model), "--data", str(small_binding_csv), "--columns", "cdr3_b_aa"]
    assert run_cli([*args, "--out", str(tmp_path / "refused.csv")]) == 2
    assert "--trust-remote-code" in capsys.readouterr().err
    assert run_cli([*args, "--trust-remote-code", "--out", str(tmp_path / "p.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(pd.read_csv(small_binding_csv))
