"""TAPE's files as distributed (Rao et al. 2019): JSON and LMDB read as tables with TAPE's field names as columns,
per-residue classes as label strings (unlabelled where ``valid_mask`` is 0), LMDB pickles read by a restricted
unpickler that refuses a crafted pickle without running it, and the files run end to end through ``finetune``."""
import json
import pickle

import numpy as np
import pytest

from conftest import PicklePayload, run_cli
from seqssl.data.formats.readers import read_table
from seqssl.errors import InputError

lmdb = pytest.importorskip("lmdb")

RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
TINY = "model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"


def proteins(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(RESIDUES), int(rng.integers(12, 30)))) for _ in range(n)]


def write_lmdb(path, records, raw: dict | None = None):
    """A database as TAPE writes one: ``num_examples`` and one pickled record per index (``raw``: bytes as given)."""
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        txn.put(b"num_examples", pickle.dumps(len(records)))
        for i, record in enumerate(records):
            txn.put(str(i).encode(), (raw or {}).get(i, pickle.dumps(record)))
    env.close()


def secondary_structure(n: int):
    rng = np.random.default_rng(1)
    out = []
    for i, seq in enumerate(proteins(n)):
        mask = np.ones(len(seq), dtype=bool)
        mask[:2] = False  # unresolved residues
        out.append({"id": f"p{i}", "primary": seq, "protein_length": len(seq),
                    "ss3": rng.integers(0, 3, len(seq)), "ss8": rng.integers(0, 8, len(seq)), "valid_mask": mask,
                    "evolutionary": rng.normal(size=(len(seq), 30)).astype(np.float32),
                    "phi": rng.normal(size=len(seq)).astype(np.float32)})
    return out


def test_lmdb_records_become_rows_with_tape_field_names(tmp_path):
    records = secondary_structure(5)
    write_lmdb(tmp_path / "secondary_structure_train.lmdb", records)
    table = read_table(tmp_path / "secondary_structure_train.lmdb")
    assert list(table.frame["primary"]) == [r["primary"] for r in records]
    assert {"evolutionary", "phi", "valid_mask"}.isdisjoint(table.frame.columns)  # arrays seqssl cannot read
    for row, record in zip(table.frame.itertuples(), records):
        expected = "".join("." if not ok else str(v) for v, ok in zip(record["ss3"], record["valid_mask"]))
        assert row.ss3 == expected and row.ss3.startswith("..")
        assert row.protein_length == len(record["primary"])


def test_json_unwraps_one_element_lists(tmp_path):
    records = [{"primary": seq, "protein_length": len(seq), "log_fluorescence": [float(i) / 3],
                "num_mutations": i % 3, "id": str(i)} for i, seq in enumerate(proteins(4))]
    (tmp_path / "fluorescence_train.json").write_text(json.dumps(records))
    table = read_table(tmp_path / "fluorescence_train.json")
    assert table.frame["log_fluorescence"].tolist() == pytest.approx([i / 3 for i in range(4)])
    assert table.line_of(2) == 3


def test_a_crafted_pickle_is_refused_without_running(tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    records = secondary_structure(3)
    write_lmdb(tmp_path / "evil.lmdb", records, raw={1: pickle.dumps({**records[1], "x": PicklePayload(marker)})})
    with pytest.raises(InputError, match=r"record 1\): refused an LMDB value \(refused global io.open\)"):
        read_table(tmp_path / "evil.lmdb")
    assert not marker.exists()
    assert run_cli(["pretrain", "--data", str(tmp_path / "evil.lmdb"), "--columns", "primary", "--objective", "mlm",
                    "--max-steps", "1", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert not marker.exists() and "refused an LMDB value" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["secondary_structure", "fluorescence", "remote_homology"])
def test_tape_files_run_through_finetune(tmp_path, task):
    (tmp_path / "tiny.yaml").write_text(TINY)
    rng = np.random.default_rng(2)
    if task == "secondary_structure":
        path, label, kind = tmp_path / "secondary_structure_train.lmdb", "ss3", "token-classification"
        write_lmdb(path, secondary_structure(40))
    elif task == "fluorescence":
        path, label, kind = tmp_path / "fluorescence_train.json", "log_fluorescence", "regression"
        path.write_text(json.dumps([{"primary": s, "log_fluorescence": [float(rng.normal())]}
                                    for s in proteins(40)]))
    else:
        path, label, kind = tmp_path / "remote_homology_train.lmdb", "fold_label", "multiclass"
        write_lmdb(path, [{"primary": s, "fold_label": int(i % 3), "protein_length": len(s)}
                          for i, s in enumerate(proteins(45))])
    out = tmp_path / "model"
    assert run_cli(["finetune", "--data", str(path), "--columns", "primary", "--label-column", label, "--task", kind,
                    "--encoder", "none", "--epochs", "1", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out),
                    "--quiet"]) == 0
    assert (out / "metrics.json").exists()


def test_a_tape_task_directory_is_read_with_its_own_split_and_each_test_set_scored(tmp_path):
    directory = tmp_path / "remote_homology"
    directory.mkdir()
    sizes = {"train": 45, "valid": 12, "test_fold_holdout": 9, "test_family_holdout": 7}
    for seed, (part, n) in enumerate(sizes.items()):
        write_lmdb(directory / f"remote_homology_{part}.lmdb",
                   [{"primary": s, "fold_label": int(i % 3)} for i, s in enumerate(proteins(n, seed))])
    (directory / "remote_homology_train.json").write_text("[]")  # the JSON twin of an LMDB file is not read twice
    table = read_table(directory)
    assert table.frame["split"].value_counts().to_dict() == {
        "train": 45, "valid": 12, "test:test_fold_holdout": 9, "test:test_family_holdout": 7}
    (tmp_path / "tiny.yaml").write_text(TINY)
    out = tmp_path / "model"
    assert run_cli(["finetune", "--data", str(directory), "--columns", "primary", "--label-column", "fold_label",
                    "--task", "multiclass", "--split-column", "split", "--encoder", "none",
                    "--epochs", "1", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 16 and metrics["n_validation"] == 12 and metrics["n_fit"] == 45
    assert {"test", "test:test_fold_holdout", "test:test_family_holdout"} <= set(metrics)
    # the pooled accuracy is the size-weighted mean of the two sets' accuracies
    pooled = (9 * metrics["test:test_fold_holdout"]["accuracy"] + 7 * metrics["test:test_family_holdout"]["accuracy"])
    assert metrics["test"]["accuracy"] == pytest.approx(pooled / 16)


def test_a_glue_folder_uses_train_and_scores_each_dev_set(tmp_path):
    from test_glue import glue_tsv
    folder = tmp_path / "MNLI"
    folder.mkdir()
    labels = {"entailment": "entailment", "neutral": "neutral", "contradiction": "contradiction"}
    glue_tsv(folder / "train.tsv", 48, labels)
    glue_tsv(folder / "dev_matched.tsv", 12, labels)
    glue_tsv(folder / "dev_mismatched.tsv", 10, labels)
    (folder / "test_matched.tsv").write_text("index\tsentence1\tsentence2\n0\tA b.\tC d.\n")  # no labels: left out
    table = read_table(folder)
    assert table.frame["split"].value_counts().to_dict() == {"train": 48, "test:matched": 12, "test:mismatched": 10}
    out = tmp_path / "model"
    (tmp_path / "tiny.yaml").write_text(TINY)
    assert run_cli(["finetune", "--data", str(folder), "--columns", "sentence1,sentence2", "--label-column", "label",
                    "--task", "multiclass", "--alphabet", "text", "--split-column", "split", "--encoder", "none",
                    "--epochs", "1", "--max-length", "96", "--config", str(tmp_path / "tiny.yaml"), "--out", str(out),
                    "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test:matched", "test:mismatched"} <= set(metrics) and metrics["n_test"] == 22


def test_crossval_reports_each_named_test_set_as_a_subset(tmp_path):
    from sklearn.metrics import accuracy_score
    directory = tmp_path / "remote_homology"
    directory.mkdir()
    for seed, (part, n) in enumerate({"train": 45, "valid": 12, "test_fold_holdout": 9,
                                      "test_family_holdout": 7}.items()):
        write_lmdb(directory / f"remote_homology_{part}.lmdb",
                   [{"primary": s, "fold_label": int(i % 3)} for i, s in enumerate(proteins(n, seed))])
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(directory), "--columns", "primary", "--label-column", "fold_label",
                    "--task", "multiclass", "--split", "column", "--split-column", "split", "--arms", "kmer",
                    "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    fold = results["arms"]["kmer"]["folds"][0]
    predictions = __import__("pandas").read_csv(out / "predictions.csv")
    table = read_table(directory)
    names = table.frame["split"].to_numpy()[predictions["row"].to_numpy()]
    for name in ("test_fold_holdout", "test_family_holdout"):
        rows = predictions[names == f"test:{name}"]
        assert fold[f"accuracy@{name}"] == pytest.approx(accuracy_score(rows["y_true"], rows["y_pred"]))
