"""End-to-end: `seqssl crossval`, `pretrain`, `embed` and `finetune` on a slice of the bundled data."""
import json

import pandas as pd
import pytest

from conftest import run_cli
from crossval_checks import check_binary_metrics_against_predictions


def _crossval_args(data, corpus, out, seed=0):
    return ["crossval", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--task", "pair-classification", "--arms", "none,simclr,kmer", "--folds", "2",
            "--group-column", "cdr3_b_aa", "--negative-type-column", "neg_type",
            "--pretrain-data", str(corpus), "--pretrain-columns", "cdr3_b_aa", "--max-steps", "6",
            "--epochs", "2", "--batch-size", "32", "--seed", str(seed), "--out", str(out), "--quiet"]


@pytest.fixture
def crossval_run(tmp_path, small_binding_csv, small_corpus_csv):
    out = tmp_path / "cv"
    assert run_cli(_crossval_args(small_binding_csv, small_corpus_csv, out)) == 0
    return out


def test_crossval_writes_the_contract(crossval_run, small_binding_csv):
    results = json.loads((crossval_run / "results.json").read_text())
    assert results["task"] == "pair-classification" and results["primary_metric"] == "auroc"
    assert set(results["arms"]) == {"none", "simclr", "kmer", "kmer[per-value]"}
    for body in results["arms"].values():
        assert len(body["folds"]) == 2
        assert {"accuracy", "auroc", "average_precision", "auroc@swapped", "auroc@background"} <= set(body["mean"])
    comp = {(c["arm"], c["baseline"], c["metric"]) for c in results["comparisons"]}
    assert ("simclr", "none", "auroc") in comp and ("simclr", "kmer", "auroc") in comp
    assert {"config", "versions", "seed"} <= set(results)
    preds = pd.read_csv(crossval_run / "predictions.csv")
    assert list(preds.columns) == ["row", "fold", "arm", "y_true", "y_score"]
    assert len(preds) == 4 * 240 and preds.groupby("arm")["row"].nunique().eq(240).all()
    # every fold's AUROC, AP, accuracy (pooled and per negative type) is scikit-learn's on the scores written
    negative_types = pd.read_csv(small_binding_csv, dtype=str, keep_default_na=False)["neg_type"].to_numpy()
    assert check_binary_metrics_against_predictions(crossval_run, negative_types) == 4 * 2
    assert (crossval_run / "report.md").exists() and (crossval_run / "metrics.png").stat().st_size > 1000
    # no leakage: the 40 labelled CDR3β planted in the corpus are removed from each fold's corpus
    # whenever they sit in that fold's test set
    labelled = pd.read_csv(small_binding_csv)
    planted = set(labelled["cdr3_b_aa"].iloc[:40])
    for fold in results["leakage"]:
        test_rows = preds[(preds.fold == fold["fold"]) & (preds.arm == "kmer")]["row"]
        in_test = planted & set(labelled["cdr3_b_aa"].iloc[test_rows])
        assert fold["pretrain_removed_test_sequences"] == len(in_test)
    assert (crossval_run / "encoders" / "simclr" / "fold_0" / "model.safetensors").exists()
    retrieval = results["arms"]["simclr"]["retrieval"]  # CDR3β → its peptide among the test peptides
    assert 0.0 <= retrieval["top_1"] <= retrieval["top_5"] <= 1.0 and "retrieval" not in results["arms"]["kmer"]


def test_same_seed_gives_identical_results(crossval_run, tmp_path, small_binding_csv, small_corpus_csv):
    again = tmp_path / "cv2"
    assert run_cli(_crossval_args(small_binding_csv, small_corpus_csv, again)) == 0
    first = json.loads((crossval_run / "results.json").read_text())
    second = json.loads((again / "results.json").read_text())
    for arm in first["arms"]:
        assert first["arms"][arm]["folds"] == second["arms"][arm]["folds"]
    pd.testing.assert_frame_equal(pd.read_csv(crossval_run / "predictions.csv"),
                                  pd.read_csv(again / "predictions.csv"))


def test_pretrain_embed_finetune(tmp_path, small_binding_csv, small_corpus_csv):
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective",
                    "simclr", "--out", str(enc), "--max-steps", "3", "--batch-size", "32", "--quiet"]) == 0
    assert (enc / "config.yaml").exists() and (enc / "pretrain_history.csv").exists()
    emb = tmp_path / "emb.parquet"
    assert run_cli(["embed", "--encoder", str(enc), "--data", str(small_binding_csv), "--columns",
                    "cdr3_b_aa,peptide", "--out", str(emb)]) == 0
    frame = pd.read_parquet(emb)
    assert frame.shape == (240, 1 + 6 + 64) and frame["id"].tolist()[:2] == ["0", "1"]  # id, the input, vectors
    assert list(frame.columns[1:3]) == ["cdr3_b_aa", "v_b_gene"] and frame.columns[-1] == "emb_63"
    ft = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--task", "pair-classification", "--encoder", str(enc),
                    "--mode", "full", "--epochs", "1", "--out", str(ft), "--quiet"]) == 0
    metrics = json.loads((ft / "metrics.json").read_text())
    assert 0.0 <= metrics["validation"]["auroc"] <= 1.0
    assert (ft / "encoder" / "model.safetensors").exists() and (ft / "head.safetensors").exists()


def test_runs_are_registered_and_listed(crossval_run, capsys, small_binding_csv):
    from seqssl.runs import list_runs
    runs = list_runs()
    assert len(runs) == 1 and runs[0]["command"] == "crossval" and runs[0]["peak_memory_mb"] > 0
    assert set(runs[0]["metrics"]) == {"none_auroc", "simclr_auroc", "kmer_auroc", "kmer[per-value]_auroc"}
    assert (crossval_run / "run.json").exists()
    capsys.readouterr()
    assert run_cli(["runs", "list"]) == 0 and runs[0]["id"] in capsys.readouterr().out
    assert run_cli(["runs", "show", runs[0]["id"][:15]]) == 0 and '"crossval"' in capsys.readouterr().out
    assert run_cli(["runs", "show", "nope"]) == 2
    # a failed run and a run from Python are registered too, with their status
    assert run_cli(["crossval", "--data", "missing.csv", "--columns", "a", "--label-column", "y", "--arms", "kmer",
                    "--out", str(crossval_run.parent / "failed")]) == 2
    import seqssl
    from seqssl.config import load_config
    cfg = load_config(None, {"data": {"path": str(small_binding_csv), "columns": ["cdr3_b_aa", "peptide"],
                                      "label_column": "label"}, "crossval": {"arms": ["kmer"], "folds": 2},
                             "out": str(crossval_run.parent / "from_python"), "quiet": True})
    seqssl.crossval(cfg)
    runs = list_runs()
    assert [r["status"] for r in runs[-2:]] == ["failed", "finished"] and "file not found" in runs[-2]["error"]
    assert runs[-1]["out"] == str((crossval_run.parent / "from_python").resolve())
    assert runs[-1]["primary_metric"] == "auroc" and runs[-1]["mode"] == "full"


def test_killed_crossval_resumes_from_its_finished_parts(crossval_run, tmp_path, small_binding_csv,
                                                         small_corpus_csv, monkeypatch, capsys):
    """Fold 1 of simclr and kmer 'lost' (their parts and the final files deleted): --resume recomputes only
    those, and the results equal the uninterrupted run's."""
    import shutil

    import seqssl.evaluate.arms.encoders as cv  # where crossval arms pretrain
    reference = json.loads((crossval_run / "results.json").read_text())
    resumed = tmp_path / "resumed"
    shutil.copytree(crossval_run, resumed)
    for name in ("simclr.json", "simclr.parquet", "kmer.json", "kmer.parquet"):
        (resumed / "parts" / "fold_1" / name).unlink()
    shutil.rmtree(resumed / "encoders" / "simclr" / "fold_1" / "checkpoints")
    for name in ("results.json", "predictions.csv", "report.md"):
        (resumed / name).unlink()
    calls = []
    real = cv.build_pretrained_encoder
    monkeypatch.setattr(cv, "build_pretrained_encoder", lambda *a, **k: calls.append(k["desc"]) or real(*a, **k))
    assert run_cli([*_crossval_args(small_binding_csv, small_corpus_csv, resumed), "--resume"]) == 0
    assert calls == ["simclr fold 1"]
    got = json.loads((resumed / "results.json").read_text())
    for arm in ("none", "simclr", "kmer"):
        assert got["arms"][arm]["folds"] == reference["arms"][arm]["folds"], arm
    assert pd.read_csv(resumed / "predictions.csv").equals(pd.read_csv(crossval_run / "predictions.csv"))
    # a setting that a newer seqssl added (absent from the old config.yaml) at its default is accepted
    import yaml
    saved = yaml.safe_load((resumed / "config.yaml").read_text())
    del saved["finetune"]["val_rows"]
    (resumed / "config.yaml").write_text(yaml.safe_dump(saved))
    assert run_cli([*_crossval_args(small_binding_csv, small_corpus_csv, resumed), "--resume"]) == 0
    # another setting than --arms is refused, naming it
    capsys.readouterr()
    assert run_cli([*_crossval_args(small_binding_csv, small_corpus_csv, resumed), "--epochs", "3", "--resume"]) == 2
    assert "finetune.epochs was 2, this run has 3" in capsys.readouterr().err


def test_probe_mode_freezes_the_encoder_and_matches_a_hand_fitted_probe(tmp_path, small_binding_csv,
                                                                         small_corpus_csv):
    """--mode probe: the encoder is unchanged, and the test scores equal scikit-learn's logistic
    regression refitted by hand on the same standardised embeddings with the chosen strength."""
    import numpy as np
    import torch
    from safetensors.torch import load_file
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from seqssl.api import labelled_table
    from seqssl.config import load_config
    from seqssl.models.encoder import embed_dataset, load_encoder
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--max-steps", "3",
                    "--batch-size", "32", "--out", str(enc), "--quiet"]) == 0
    ft = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--encoder", str(enc), "--mode", "probe", "--out", str(ft),
                    "--quiet"]) == 0
    before, after = load_file(str(enc / "model.safetensors")), load_file(str(ft / "encoder" / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)
    metrics = json.loads((ft / "metrics.json").read_text())
    assert metrics["mode"] == "probe" and 0.0 <= metrics["validation"]["auroc"] <= 1.0
    probe = load_file(str(ft / "probe.safetensors"))
    strength = json.loads((ft / "probe.json").read_text())["strength"]
    # refit by hand on the same split (seeded carve of the validation rows, as the command does)
    from seqssl.data.splits import carve_validation
    cfg = load_config(None, {"data": {"path": str(small_binding_csv), "columns": ["cdr3_b_aa", "peptide"],
                                      "label_column": "label"}})
    encoder, tokenizer = load_encoder(str(enc))
    _, _, encoded, _ = labelled_table(cfg, tokenizer)
    fit_idx, val_idx, _ = carve_validation(np.arange(len(encoded)), encoded.labels, None, cfg.finetune.val_fraction,
                                        cfg.seed, True)
    x = embed_dataset(encoder, encoded, torch.device("cpu"))
    scaler = StandardScaler().fit(x[fit_idx])
    reference = LogisticRegression(C=strength, max_iter=2000, solver="liblinear", random_state=0)
    reference.fit(scaler.transform(x[fit_idx]), encoded.labels[fit_idx])
    assert np.allclose(probe["coef"].numpy(), reference.coef_, atol=1e-5)
    assert np.allclose(probe["mean"].numpy(), scaler.mean_, atol=1e-5)


@pytest.mark.parametrize("mode", ["probe", "lora"])
def test_crossval_transfer_modes(mode, tmp_path, small_binding_csv, small_corpus_csv):
    out = tmp_path / "cv"
    args = _crossval_args(small_binding_csv, small_corpus_csv, out)
    assert run_cli([*args, "--mode", mode]) == 0
    results = json.loads((out / "results.json").read_text())
    runs = results["arms"]["simclr"]["runs"]
    if mode == "probe":
        assert all(r["mode"] == "probe" and r["strength"] is not None for r in runs)
    else:
        assert all(r["epochs_run"] >= 1 for r in runs)
    assert results["config"]["finetune"]["mode"] == mode
    assert check_binary_metrics_against_predictions(out) == 4 * 2  # none, simclr, kmer, kmer[per-value]


def test_several_modes_share_one_pretraining_and_compare_like_with_like(crossval_run, tmp_path, small_binding_csv,
                                                                        small_corpus_csv, monkeypatch):
    """--mode probe,full: every encoder arm in each mode from one pretraining per fold, compared with
    ``none`` in the same mode (and with k-mers, which have no mode); the full-mode rows are the same
    experiment as a full-only run."""
    import seqssl.evaluate.arms.encoders as cv  # where crossval arms pretrain
    calls = []
    real = cv.build_pretrained_encoder
    monkeypatch.setattr(cv, "build_pretrained_encoder", lambda *a, **k: calls.append(k["desc"]) or real(*a, **k))
    out = tmp_path / "modes"
    assert run_cli([*_crossval_args(small_binding_csv, small_corpus_csv, out), "--mode", "probe,full"]) == 0
    assert calls == ["simclr fold 0", "simclr fold 1"]
    results = json.loads((out / "results.json").read_text())
    assert set(results["arms"]) == {"none[probe]", "none[full]", "simclr[probe]", "simclr[full]", "kmer",
                                    "kmer[per-value]"}
    assert results["config"]["crossval"]["modes"] == ["probe", "full"]
    assert all(r["mode"] == "probe" for r in results["arms"]["simclr[probe]"]["runs"])
    pairs = {(c["arm"], c["baseline"]) for c in results["comparisons"]}
    assert {("simclr[probe]", "none[probe]"), ("simclr[full]", "none[full]"), ("simclr[probe]", "kmer"),
            ("kmer", "none[probe]")} <= pairs and ("simclr[probe]", "none[full]") not in pairs
    reference = json.loads((crossval_run / "results.json").read_text())
    for arm in ("none", "simclr"):
        assert results["arms"][f"{arm}[full]"]["folds"] == reference["arms"][arm]["folds"], arm
    assert results["arms"]["kmer"]["folds"] == reference["arms"]["kmer"]["folds"]


def test_lora_trains_only_adapters_and_head_and_merges_to_the_same_function(tmp_path, small_binding_csv,
                                                                           small_corpus_csv):
    """--mode lora: base weights unchanged, adapters saved by peft; the merged encoder (--merge) computes
    what the base encoder + reloaded adapter computes."""
    import numpy as np
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file

    from seqssl.api import labelled_table
    from seqssl.config import load_config
    from seqssl.models.encoder import embed_dataset, load_encoder
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--max-steps", "3",
                    "--batch-size", "32", "--out", str(enc), "--quiet"]) == 0
    ft = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--encoder", str(enc), "--mode", "lora", "--merge",
                    "--lora-rank", "3", "--epochs", "2", "--lr", "0.01", "--out", str(ft), "--quiet"]) == 0
    adapter = load_file(str(ft / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in k for k in adapter)
    assert {v.shape[0] for k, v in adapter.items() if "lora_A" in k} == {3}  # --lora-rank: r rows of A
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)  # B starts at 0: it trained
    base, _ = load_encoder(str(enc))
    merged, tokenizer = load_encoder(str(ft / "encoder"))
    changed = [k for k, v in load_file(str(ft / "encoder" / "model.safetensors")).items()
               if not torch.equal(v, load_file(str(enc / "model.safetensors"))[k])]
    assert changed and all(("query" in k or "value" in k) and "weight" in k for k in changed)
    base.backbone = PeftModel.from_pretrained(base.backbone, str(ft / "adapter"))
    cfg = load_config(None, {"data": {"path": str(small_binding_csv), "columns": ["cdr3_b_aa", "peptide"],
                                      "label_column": "label"}})
    _, _, encoded, _ = labelled_table(cfg, tokenizer)
    cpu = torch.device("cpu")
    assert np.allclose(embed_dataset(base, encoded, cpu), embed_dataset(merged, encoded, cpu), atol=1e-5)


def test_label_fractions_make_a_learning_curve_on_the_same_test_folds(crossval_run, tmp_path, small_binding_csv,
                                                                      small_corpus_csv, monkeypatch):
    import seqssl.evaluate.arms.encoders as cv  # where crossval arms pretrain
    calls = []
    real = cv.build_pretrained_encoder
    monkeypatch.setattr(cv, "build_pretrained_encoder", lambda *a, **k: calls.append(k["desc"]) or real(*a, **k))
    out = tmp_path / "curve"
    assert run_cli([*_crossval_args(small_binding_csv, small_corpus_csv, out), "--label-fractions", "0.25,1"]) == 0
    assert calls == ["simclr fold 0", "simclr fold 1"]  # pretrained once per fold, not once per fraction
    results = json.loads((out / "results.json").read_text())
    assert set(results["arms"]) == {f"{a}@{f}" for a in ("none", "simclr", "kmer", "kmer[per-value]")
                                    for f in ("0.25", "1")}
    for arm in ("none", "simclr", "kmer"):
        small = [r["n_fit"] for r in results["arms"][f"{arm}@0.25"]["runs"]]
        full = [r["n_fit"] for r in results["arms"][f"{arm}@1"]["runs"]]
        assert all(abs(s - f / 4) <= 2 for s, f in zip(small, full)), (small, full)
    pairs = {(c["arm"], c["baseline"]) for c in results["comparisons"]}
    assert ("simclr@0.25", "none@0.25") in pairs and ("simclr@0.25", "none@1") not in pairs
    # the full-label arm is the same experiment as a run without fractions
    reference = json.loads((crossval_run / "results.json").read_text())
    for arm in ("none", "simclr", "kmer"):
        assert results["arms"][f"{arm}@1"]["folds"] == reference["arms"][arm]["folds"], arm
    preds = pd.read_csv(out / "predictions.csv")
    assert preds.groupby("arm")["row"].nunique().eq(240).all() and preds["arm"].nunique() == 8
    assert (out / "label_fractions.png").stat().st_size > 1000
    assert "label_fractions.png" in (out / "report.md").read_text()


def test_console_summary_keeps_arm_names_with_brackets():
    """simclr[probe] is an arm name, not rich markup: the console summary prints it whole."""
    import io

    from rich.console import Console

    from seqssl.report import print_summary
    results = {"task": "classification", "primary_metric": "auroc", "n_folds": 2, "split": "stratified",
               "comparisons": [], "config": {"finetune": {"epochs": 3, "select": "best"}},
               "arms": {"simclr[probe]": {"mean": {"auroc": 0.7}, "std": {"auroc": 0.01}, "folds": [{}, {}],
                                          "runs": [{"mode": "probe"}, {"mode": "probe"}]}}}
    out = io.StringIO()
    print_summary(results, Console(file=out, width=200))
    assert "simclr[probe]" in out.getvalue()
