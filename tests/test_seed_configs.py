"""The configs that reproduce the seeds' evaluations: every ``configs/*.yaml`` loads and validates (default suite);
the TAPE, GLUE and seed configs run end to end on small slices in the layouts their readers have (slow)."""
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from seqssl.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
RESIDUES = list("ACDEFGHIKLMNPQRSTVWY")
SLICE = ["--pretrain-max-steps", "3", "--finetune-max-steps", "3", "--quiet"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_loads_and_validates(path):
    cfg = load_config(str(path), {})
    assert cfg.to_dict()  # unknown keys, bad choices and out-of-range values raise in load_config


def test_seed_001_no_longer_lets_the_noiser_leak_the_residue():
    assert load_config(str(ROOT / "configs" / "seed_001.yaml"), {}).pretrain.adversarial_mask_types == "mask"


def tape_directory(root: Path, task: str, label: str, fields) -> Path:
    """A TAPE-layout task directory of LMDB files (``fields(i, sequence)``: the record's label fields)."""
    lmdb = pytest.importorskip("lmdb")
    directory = root / task
    directory.mkdir()
    parts = {"fluorescence": ["train", "valid", "test"], "stability": ["train", "valid", "test"],
             "remote_homology": ["train", "valid", "test_fold_holdout", "test_superfamily_holdout",
                                 "test_family_holdout"],
             "secondary_structure": ["train", "valid", "cb513", "ts115", "casp12"]}[task]
    rng = np.random.default_rng(0)
    for part in parts:
        n = 60 if part == "train" else 16
        env = lmdb.open(str(directory / f"{task}_{part}.lmdb"), map_size=1 << 24)
        with env.begin(write=True) as txn:
            txn.put(b"num_examples", pickle.dumps(n))
            for i in range(n):
                sequence = "".join(rng.choice(RESIDUES, int(rng.integers(15, 40))))
                txn.put(str(i).encode(), pickle.dumps({"primary": sequence, "protein_length": len(sequence),
                                                       **fields(i, sequence, rng)}))
        env.close()
    return directory


TAPE = {
    "fluorescence": lambda i, s, rng: {"log_fluorescence": np.array([rng.normal()], dtype=np.float32)},
    "stability": lambda i, s, rng: {"stability_score": np.array([rng.normal()], dtype=np.float32)},
    "remote_homology": lambda i, s, rng: {"fold_label": i % 3},
    "secondary_structure": lambda i, s, rng: {"ss3": rng.integers(0, 3, len(s)), "ss8": rng.integers(0, 8, len(s)),
                                             "valid_mask": np.ones(len(s), dtype=bool)},
}


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TAPE))
def test_tape_configs_run_on_tape_layout(tmp_path, task):
    directory = tape_directory(tmp_path, task, "", TAPE[task])
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--config", str(ROOT / "configs" / f"tape_{task}.yaml"), "--data", str(directory),
                    "--out", str(out), *SLICE]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"none[full]", "mlm[full]", "kmer"} <= set(results["arms"])
    named = {"remote_homology": "test_fold_holdout", "secondary_structure": "cb513"}.get(task)
    if named:  # each of the benchmark's test sets scored on its own
        assert any(key.endswith(f"@{named}") for key in results["arms"]["kmer"]["folds"][0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rte", "mnli"])
def test_glue_configs_run_on_glue_folders(tmp_path, name):
    from test_glue import glue_tsv
    folder = tmp_path / name.upper()
    folder.mkdir()
    if name == "rte":
        labels = {"entailment": "entailment", "neutral": "not_entailment", "contradiction": "not_entailment"}
        glue_tsv(folder / "train.tsv", 100, labels)
        glue_tsv(folder / "dev.tsv", 16, labels)
    else:
        labels = {"entailment": "entailment", "neutral": "neutral", "contradiction": "contradiction"}
        for file, n in (("train.tsv", 100), ("dev_matched.tsv", 16), ("dev_mismatched.tsv", 14)):
            glue_tsv(folder / file, n, labels)
            frame = pd.read_csv(folder / file, sep="\t", quoting=3, dtype=str)
            frame.rename(columns={"label": "gold_label"}).to_csv(folder / file, sep="\t", index=False, quoting=3)
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--config", str(ROOT / "configs" / f"glue_{name}.yaml"), "--data", str(folder),
                    "--out", str(out), *SLICE]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"none[probe]", "simsiam[full]"} <= set(results["arms"])
    if name == "mnli":
        assert {"accuracy@matched", "accuracy@mismatched"} <= set(results["arms"]["kmer"]["folds"][0])


@pytest.mark.slow
def test_seed_000_config_runs_end_to_end_on_a_slice(tmp_path, small_binding_csv):
    """Its own batch of 1,024 from the bundled 100k CDR3β corpus, for 3 steps; 240 labelled rows."""
    from seqssl.data.builtin import builtin_path
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--config", str(ROOT / "configs" / "seed_000.yaml"), "--data", str(small_binding_csv),
                    "--pretrain-data", str(builtin_path("background_cdr3b")), "--out", str(out), *SLICE]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["n_folds"] == 3 and results["primary_metric"] == "accuracy"
    assert {"none", "simclr", "kmer"} <= set(results["arms"])


@pytest.mark.slow
def test_seed_001_config_pretrains_with_its_own_settings(tmp_path, small_corpus_csv):
    """The paper's settings (noiser, schedule, masking) with the encoder and noiser shrunk to fit a test."""
    import seqssl
    cfg = load_config(str(ROOT / "configs" / "seed_001.yaml"),
                      {"data": {"path": str(small_corpus_csv), "columns": ["cdr3_b_aa"]}, "out": str(tmp_path / "o"),
                       "model": {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32},
                       "pretrain": {"max_steps": 4, "batch_size": 16, "noiser_embedding_size": 8,
                                    "noiser_hidden_size": 8}, "quiet": True})
    path = seqssl.pretrain(cfg)
    meta = json.loads((Path(path) / "seqssl.json").read_text())
    assert meta["objective"] == "adversarial-mlm" and (Path(path) / "mlm_head.safetensors").exists()
