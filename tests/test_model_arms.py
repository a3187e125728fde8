"""Models a user already has (``--arms model:PATH``, ``--init PATH``): tiny ESM, ProtBert-style BERT and
ChemBERTa-style RoBERTa models built here with their own tokenizers, read with those tokenizers, transferred
in every mode on the same folds as the other arms, and continued-pretrained."""
import hashlib
import json

import pandas as pd
import pytest
import torch

from conftest import run_cli
from crossval_checks import check_binary_metrics_against_predictions
from seqssl.data.builtin import builtin_path
from seqssl.models.encoder import load_encoder
from tiny_models import esm_directory, protbert_directory, roberta_smiles_directory


@pytest.fixture(scope="module")
def smiles_rows():
    return pd.read_csv(builtin_path("bbbp")).sample(160, random_state=1)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    moses = pd.read_csv(builtin_path("moses")).SMILES.iloc[:300].tolist()
    return {"esm": (root / "esm_tiny", esm_directory(root / "esm_tiny")),
            "protbert": (root / "protbert_tiny", protbert_directory(root / "protbert_tiny")),
            "roberta": (root / "chemberta_tiny", roberta_smiles_directory(root / "chemberta_tiny", moses))}


CASES = {"esm": ("casslgqf", "GILGFVFTL", "CASSLGQF", "GILGFVFTL"),  # lower case: ESM's vocabulary is upper case
         "protbert": ("CASSLGQF", "GILGFVFTL", "C A S S L G Q F", "G I L G F V F T L"),  # ProtBert reads spaces
         "roberta": ("CC(=O)Oc1ccccc1C(=O)O", "c1ccncc1", "CC(=O)Oc1ccccc1C(=O)O", "c1ccncc1")}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_ids_come_from_the_models_own_tokenizer(models, kind):
    """seqssl's ids, mapped by the encoder, are exactly what the model's tokenizer gives for the text a user
    would pass it (single sequences and pairs with the model's own template); the encoder then computes what
    the model computes."""
    path, (model, hf_tokenizer) = models[kind]
    encoder, tokenizer = load_encoder(path)
    first, second, their_first, their_second = CASES[kind]
    for ours, theirs in (((first,), (their_first,)), ((first, second), (their_first, their_second))):
        encoded = tokenizer.encode(*ours)
        reference = hf_tokenizer(*theirs)["input_ids"]
        assert encoder.input_map[torch.from_numpy(encoded.input_ids)].tolist() == reference
    pair = tokenizer.encode(first, second)
    ids, types = torch.from_numpy(pair.input_ids)[None], torch.from_numpy(pair.token_type_ids)[None]
    with torch.no_grad():
        ours = encoder.eval().token_states(ids, torch.ones_like(ids), types)
        theirs = model(**hf_tokenizer(their_first, their_second, return_tensors="pt")).last_hidden_state
    torch.testing.assert_close(ours, theirs)


def test_pair_segments_follow_the_models_template(models):
    """RoBERTa writes ``<s> a </s></s> b </s>`` and gives no segment ids: seqssl's segments switch where the
    second sequence starts."""
    _, tokenizer = load_encoder(models["roberta"][0])
    encoded = tokenizer.encode("CCO", "c1ccccc1")
    n_first = len(tokenizer.encode("CCO").input_ids)  # <s> CCO </s>
    assert encoded.token_type_ids.tolist() == [0] * (n_first + 1) + [1] * (len(encoded.input_ids) - n_first - 1)


def test_protein_model_arms_in_probe_full_and_lora(models, small_binding_csv, tmp_path):
    """ESM and ProtBert models as crossval arms in every transfer mode, named after their directories, with
    their provenance in results.json and the report's note that leakage accounting does not cover them."""
    out = tmp_path / "cv"
    esm, protbert = models["esm"][0], models["protbert"][0]
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--arms", f"kmer,model:{esm},model:{protbert}",
                    "--mode", "probe,full,lora", "--folds", "2", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    expected = {f"{name}[{mode}]" for name in ("esm_tiny", "protbert_tiny") for mode in ("probe", "full", "lora")}
    assert expected <= set(results["arms"])
    for name, path in (("esm_tiny", esm), ("protbert_tiny", protbert)):
        provenance = results["external_models"][name]
        assert provenance["config_sha256"] == hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    predictions = pd.read_csv(out / "predictions.csv")
    counts = predictions.groupby("arm").size()
    assert counts["esm_tiny[lora]"] == counts["kmer"] == 240
    full, lora = (predictions[predictions.arm == f"esm_tiny[{m}]"].y_score.to_numpy() for m in ("full", "lora"))
    assert not (full == lora).all()  # the adapters and the full model trained differently
    assert "not pretrained on its folds" in (out / "report.md").read_text()
    runs = pd.read_csv(out / "run_table.csv")  # seed 003's run table: per arm and mode, cost and metrics
    row = runs[(runs.arm == "esm_tiny[lora]")].iloc[0]
    assert row["mode"] == "lora" and int(row["batch size"]) == 128 and float(row["peak memory (MB)"]) > 0
    assert row["data"] == small_binding_csv.name and row["split"].startswith(results["split"])  # data set, split
    assert row["run id"] == json.loads((out / "run.json").read_text())["id"] == results["run_id"]
    assert row["test auroc"] == pytest.approx(results["arms"]["esm_tiny[lora]"]["mean"]["auroc"])
    assert runs["test auroc std"].dtype == float and runs["peak memory (MB)"].dtype == float  # numbers, not text


def test_smiles_roberta_arm_in_probe_full_and_lora(models, smiles_rows, tmp_path):
    """A ChemBERTa-style RoBERTa with a BPE tokenizer runs on SMILES (no protein alphabet in its way)."""
    data = tmp_path / "bbbp.csv"
    smiles_rows.to_csv(data, index=False)
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(data), "--columns", "smiles", "--label-column", "BBBP",
                    "--task", "classification", "--alphabet", "smiles", "--arms", f"kmer,model:{models['roberta'][0]}",
                    "--mode", "probe,full,lora", "--folds", "2", "--epochs", "1", "--out", str(out),
                    "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {f"chemberta_tiny[{mode}]" for mode in ("probe", "full", "lora")} <= set(results["arms"])
    assert check_binary_metrics_against_predictions(out) == 2 * len(results["arms"])  # scikit-learn on the scores


def test_unknown_model_directory_and_name_clash_are_clear(models, small_binding_csv, tmp_path, capsys):
    args = ["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--out", str(tmp_path / "cv"), "--quiet", "--arms"]
    assert run_cli([*args, f"kmer,model:{tmp_path / 'nowhere'}"]) != 0
    assert "nowhere" in capsys.readouterr().err
    other = tmp_path / "elsewhere" / "esm_tiny"
    other.parent.mkdir()
    other.symlink_to(models["esm"][0])
    assert run_cli([*args, f"model:{models['esm'][0]},model:{other}"]) != 0
    assert "rename one of the directories" in capsys.readouterr().err


def test_continued_pretraining_changes_weights_and_keeps_the_tokenizer(models, tmp_path):
    """``pretrain --init`` trains the model's own weights on new molecules and saves its own tokenizer: the
    result loads in transformers and tokenises exactly as the original does."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer
    base = models["roberta"][0]
    corpus = tmp_path / "moses.csv"
    pd.read_csv(builtin_path("moses")).iloc[300:500].to_csv(corpus, index=False)
    out = tmp_path / "continued"
    assert run_cli(["pretrain", "--data", str(corpus), "--columns", "SMILES", "--init", str(base),
                    "--objective", "mlm", "--max-steps", "3", "--batch-size", "16", "--out", str(out),
                    "--quiet"]) == 0
    before, after = load_file(base / "model.safetensors"), load_file(out / "model.safetensors")
    assert set(before) == set(after)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "c1ccncc1", "CN1CCC[C@H]1c2cccnc2"]
    original, kept = AutoTokenizer.from_pretrained(str(base)), AutoTokenizer.from_pretrained(str(out))
    assert original(smiles)["input_ids"] == kept(smiles)["input_ids"]
    assert AutoModel.from_pretrained(str(out)).config.model_type == "roberta"
    assert json.loads((out / "seqssl.json").read_text())["init"] == str(base)
