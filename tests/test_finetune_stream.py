"""``seqssl finetune --stream``: labelled files read block by block into the Arrow cache train exactly as the
in-memory table does (same split, same batches, same metrics); long multilabel files give the pivoted matrix of
the in-memory reader even when a block boundary cuts a molecule's rows; hash splits keep every group on one side;
the validation sample is bounded; worker processes write the same cache; impossible runs are refused before work."""
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conftest import run_cli
from seqssl.config import load_config
from seqssl.data.builtin import builtin_path
from seqssl.data.formats.readers import read_table
from seqssl.tasks.labelled_stream import ArrowLabelled, load_streamed, streamed_split
from seqssl.tasks.labels.multilabel import multilabel_targets

BELKA = builtin_path("belka_sample")
TINY = "model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"


@pytest.fixture(scope="module")
def binding(tmp_path_factory):
    """300 TCR–peptide rows with a split column (train, valid, test) and the labels written -1/1."""
    root = tmp_path_factory.mktemp("ftstream")
    frame = pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False).sample(300, random_state=0)
    frame["side"] = np.random.default_rng(0).choice(["train", "valid", "test"], len(frame), p=[0.6, 0.2, 0.2])
    frame["label"] = frame["label"].map({"0": "-1", "1": "1"})
    frame.to_csv(root / "data.csv", index=False)
    (root / "tiny.yaml").write_text(TINY)
    return root


def finetune(root, out, *extra):
    argv = ["finetune", "--data", str(root / "data.csv"), "--columns", "cdr3_b_aa,peptide", "--label-column",
            "label", "--positive-label", "1", "--split-column", "side", "--encoder", "none", "--max-steps", "12",
            "--epochs", "3", "--batch-size", "32", "--config", str(root / "tiny.yaml"), "--max-length", "40",
            "--out", str(out), "--quiet", *extra]
    assert run_cli(argv) == 0
    return json.loads((out / "metrics.json").read_text())


def test_streamed_finetune_equals_the_in_memory_one(binding, tmp_path):
    whole = finetune(binding, tmp_path / "whole")
    streamed = finetune(binding, tmp_path / "streamed", "--stream", "--block-rows", "47", "--cache-dir",
                        str(tmp_path / "cache"))
    for key in ("n_fit", "n_validation", "n_test", "epochs_run"):
        assert streamed[key] == whole[key]
    for part in ("validation", "test"):
        for metric in ("auroc", "average_precision", "accuracy"):
            assert streamed[part][metric] == pytest.approx(whole[part][metric], abs=1e-9)
    assert [h["train_loss"] for h in streamed["history"]] == pytest.approx([h["train_loss"] for h in
                                                                            whole["history"]], abs=1e-9)


def streamed(path, tmp_path, **data):
    cfg = load_config(None, {"data": {"path": str(path), "cache_dir": str(tmp_path / "cache"), "alphabet": "smiles",
                                     **data}, "model": {"max_length": 160}, "quiet": True})
    return load_streamed(cfg, molecular=True)


def test_long_multilabel_blocks_cut_inside_a_molecule_give_the_pivoted_matrix(tmp_path):
    """The BELKA sample in its long layout, every molecule measured against three proteins on three consecutive
    rows, read in blocks of 100 rows (which cut molecules apart), equals the in-memory pivot row for row."""
    sample = pd.read_csv(BELKA).iloc[:200]
    long = sample.loc[sample.index.repeat(3), ["molecule_smiles"]].reset_index(drop=True)
    long["protein_name"] = ["BRD4", "HSA", "sEH"] * len(sample)
    long["binds"] = np.random.default_rng(1).integers(0, 2, len(long))
    long.to_csv(tmp_path / "long.csv", index=False)
    data = streamed(tmp_path / "long.csv", tmp_path, columns=["molecule_smiles"], label_column="binds",
                    target_column="protein_name", task="multilabel", block_rows=100)
    _, expected, targets = multilabel_targets(read_table(tmp_path / "long.csv"), ["molecule_smiles"], ["binds"],
                                              "protein_name")
    assert data.encoded.meta["targets"] == targets == ["BRD4", "HSA", "sEH"]
    assert len(data.encoded) == 200
    np.testing.assert_array_equal(data.encoded.labels, expected)


def test_hash_split_keeps_groups_whole_and_bounds_the_validation_sample(tmp_path):
    frame = pd.read_csv(BELKA).iloc[:2000]
    frame[["molecule_smiles", "buildingblock1_smiles", "binds"]].to_csv(tmp_path / "wide.csv", index=False)
    data = streamed(tmp_path / "wide.csv", tmp_path, columns=["molecule_smiles"], label_column="binds",
                    task="classification", group_column="buildingblock1_smiles", block_rows=333)
    groups = frame["buildingblock1_smiles"].str.upper().to_numpy()
    for code in (0, 1):
        inside = set(groups[data.encoded.sides == code])
        outside = set(groups[data.encoded.sides != code])
        assert not inside & outside
    share = float(np.mean(data.encoded.sides == 1))
    assert 0.05 < share < 0.3  # val_fraction 0.15 of the groups (few large groups: a loose bound)
    split = streamed_split(data.encoded, 0.15, val_rows=50, seed=0)
    assert len(split.val) == 50 and data.encoded.meta["n_validation_rows"] == int(np.sum(data.encoded.sides == 1))
    assert set(split.val) <= set(np.flatnonzero(data.encoded.sides == 1)) and split.test is None


def test_scaffold_split_draws_each_molecules_scaffold_as_it_is_parsed(tmp_path):
    from seqssl.data.molecules import murcko_scaffold
    from seqssl.tasks.labelled_stream import group_draws
    frame = pd.read_csv(BELKA).iloc[:600]
    frame[["molecule_smiles", "binds"]].to_csv(tmp_path / "mols.csv", index=False)
    cfg = load_config(None, {"data": {"path": str(tmp_path / "mols.csv"), "cache_dir": str(tmp_path / "cache"),
                                      "alphabet": "smiles", "columns": ["molecule_smiles"], "label_column": "binds",
                                      "task": "classification", "block_rows": 128},
                             "crossval": {"split": "scaffold"}, "model": {"max_length": 160}, "quiet": True})
    data = load_streamed(cfg, molecular=True)
    smiles = frame["molecule_smiles"].tolist()
    expected = group_draws([murcko_scaffold(s) or f" acyclic {s}" for s in smiles], seed=0).astype(np.float32)
    assert np.array_equal(data.encoded.draws, expected)
    scaffolds = np.array([murcko_scaffold(s) for s in smiles])
    for code in (0, 1, 2):
        assert not set(scaffolds[data.encoded.sides == code]) & set(scaffolds[data.encoded.sides != code])


def test_worker_processes_write_the_same_cache(tmp_path):
    frame = pd.read_csv(BELKA).iloc[:900]
    frame[["molecule_smiles", "binds"]].to_csv(tmp_path / "wide.csv", index=False)
    one = streamed(tmp_path / "wide.csv", tmp_path / "a", columns=["molecule_smiles"], label_column="binds",
                   task="classification", block_rows=100)
    two = streamed(tmp_path / "wide.csv", tmp_path / "b", columns=["molecule_smiles"], label_column="binds",
                   task="classification", block_rows=100, jobs=2)
    left, right = (pa.ipc.open_file(pa.memory_map(str(d.encoded.path))).read_all() for d in (one, two))
    assert left.equals(right)


def test_parquet_blocks_sent_to_workers_as_record_batches_write_the_csvs_cache(tmp_path):
    """Parquet blocks travel to the worker processes as record batches (row groups of 70 cut into blocks of 100)
    and are read there as the row reader reads a CSV: padded text stripped, labels as text, errors by row."""
    import pyarrow.parquet as pq
    frame = pd.read_csv(BELKA).iloc[:450][["molecule_smiles", "binds"]].reset_index(drop=True)
    frame.loc[3, "molecule_smiles"] = "  " + frame.loc[3, "molecule_smiles"] + " "
    frame.to_csv(tmp_path / "wide.csv", index=False)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "wide.parquet", row_group_size=70)
    options = {"columns": ["molecule_smiles"], "label_column": "binds", "task": "classification", "block_rows": 100}
    from_csv = streamed(tmp_path / "wide.csv", tmp_path / "a", **options)
    from_parquet = streamed(tmp_path / "wide.parquet", tmp_path / "b", jobs=2, **options)
    left, right = (pa.ipc.open_file(pa.memory_map(str(d.encoded.path))).read_all() for d in (from_csv, from_parquet))
    assert left.num_rows == 450 and left.equals(right)
    frame.loc[321, "molecule_smiles"] = "C1CC"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "bad.parquet", row_group_size=70)
    from seqssl.errors import InputError
    with pytest.raises(InputError, match="line 322"):
        streamed(tmp_path / "bad.parquet", tmp_path / "c", jobs=2, **options)


def test_invalid_molecules_are_skipped_and_counted_or_named(tmp_path):
    frame = pd.DataFrame({"smiles": ["CCO", "C1CC", "c1ccccc1", "CC(=O)O"], "y": [0, 1, 0, 1]})
    frame.to_csv(tmp_path / "bad.csv", index=False)
    data = streamed(tmp_path / "bad.csv", tmp_path, columns=["smiles"], label_column="y", task="classification",
                    invalid_smiles="skip", block_rows=2)
    assert len(data.encoded) == 3 and data.encoded.meta["invalid_smiles_skipped"] == 1
    from seqssl.errors import InputError
    with pytest.raises(InputError, match="line 3"):
        streamed(tmp_path / "bad.csv", tmp_path / "again", columns=["smiles"], label_column="y",
                 task="classification", block_rows=2)


def test_the_cache_is_reused_and_memory_mapped(binding, tmp_path):
    cfg = {"data": {"path": str(binding / "data.csv"), "columns": ["cdr3_b_aa", "peptide"], "label_column": "label",
                    "positive_label": "1", "split_column": "side", "cache_dir": str(tmp_path)}, "quiet": True}
    first = load_streamed(load_config(None, cfg))
    stamp = first.encoded.path.stat().st_mtime_ns
    again = load_streamed(load_config(None, cfg))
    assert again.encoded.path == first.encoded.path and again.encoded.path.stat().st_mtime_ns == stamp
    assert isinstance(again.encoded, ArrowLabelled) and len(again.encoded) == 300


@pytest.mark.parametrize("extra, message", [
    (["--mode", "probe"], "--mode probe fits every training row at once"),
    (["--task", "multiclass"], "multiclass needs the whole table"),
    (["--split", "cluster", "--cluster-threshold", "edit:1"], "--split cluster needs every row first"),
])
def test_impossible_streamed_runs_are_refused_before_reading(binding, tmp_path, extra, message, capsys):
    argv = ["finetune", "--data", str(binding / "data.csv"), "--columns", "cdr3_b_aa,peptide", "--label-column",
            "label", "--stream", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--quiet",
            *extra]
    assert run_cli(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()  # refused before a row was read


def test_test_fraction_needs_stream(binding, tmp_path, capsys):
    assert run_cli(["finetune", "--data", str(binding / "data.csv"), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--positive-label", "1", "--test-fraction", "0.2", "--out",
                    str(tmp_path / "out"), "--quiet", "--config", str(binding / "tiny.yaml")]) == 2
    assert "--test-fraction" in capsys.readouterr().err


def test_a_directory_of_shards_is_read_as_one_file(tmp_path):
    frame = pd.read_csv(BELKA).iloc[:600][["molecule_smiles", "binds"]]
    frame.to_csv(tmp_path / "whole.csv", index=False)
    (tmp_path / "shards").mkdir()
    frame.iloc[:250].to_csv(tmp_path / "shards" / "part-0.csv", index=False)
    frame.iloc[250:].to_parquet(tmp_path / "shards" / "part-1.parquet", index=False)
    whole = streamed(tmp_path / "whole.csv", tmp_path / "a", columns=["molecule_smiles"], label_column="binds",
                     task="classification", block_rows=100)
    shards = streamed(tmp_path / "shards", tmp_path / "b", columns=["molecule_smiles"], label_column="binds",
                      task="classification", block_rows=100)
    assert len(shards.encoded) == len(whole.encoded) == 600
    np.testing.assert_array_equal(shards.encoded.labels, whole.encoded.labels)
    np.testing.assert_array_equal(shards.encoded.sides, whole.encoded.sides)
    np.testing.assert_array_equal(shards.encoded.lengths(), whole.encoded.lengths())


def test_the_split_and_its_subsets_read_the_map_by_record_batch(tmp_path):
    """Several record batches (block_rows 333): the sides found batch by batch are the whole column's (marked, and
    with no row marked validation, drawn below val_fraction), positions are int32, and a subset's labels are the
    rows' own, gathered across batches."""
    from seqssl.tasks.labelled_stream import side_positions
    frame = pd.read_csv(BELKA).iloc[:2000]
    frame[["molecule_smiles", "buildingblock1_smiles", "binds"]].to_csv(tmp_path / "wide.csv", index=False)
    data = streamed(tmp_path / "wide.csv", tmp_path, columns=["molecule_smiles"], label_column="binds",
                    task="classification", group_column="buildingblock1_smiles", block_rows=333)
    base = data.encoded
    assert len(base.table.column("side").chunks) >= 6
    sides, draws, labels = base.sides, base.draws, base.labels  # whole columns, copied out for the check
    found = side_positions(base, 0.15)
    for code, positions in enumerate(found):
        assert positions.dtype == np.int32 and np.array_equal(positions, np.flatnonzero(sides == code))
    unmarked = np.where(sides == 1, 0, sides)  # as if no row were marked validation: the draw decides
    chunks = list(base.side_chunks())
    base.side_chunks = lambda: ((start, np.where(s == 1, 0, s), d) for start, s, d in chunks)
    train, val, _ = side_positions(base, 0.5)
    assert np.array_equal(val, np.flatnonzero((unmarked == 0) & (draws < 0.5)))
    assert np.array_equal(train, np.flatnonzero((unmarked == 0) & (draws >= 0.5)))
    rows = np.random.default_rng(0).choice(len(base), 300, replace=False)
    subset = base.subset(rows)
    assert np.array_equal(subset.labels, labels[rows]) and subset.positions.dtype == np.int32
    assert np.array_equal(subset.subset(np.arange(10)).labels, labels[rows[:10]])
    from seqssl.data.collate import iterate_batches
    assert not any(isinstance(v, np.ndarray) and len(v) == len(rows) and v.dtype.kind == "f"
                   for v in vars(subset).values())  # no label array held: batches gather their own
    seen = 0
    for positions, batch in iterate_batches(subset, 64, np.random.default_rng(1)):
        assert np.array_equal(batch["labels"].numpy(), labels[rows[positions]])
        seen += len(positions)
    assert seen == len(rows)
