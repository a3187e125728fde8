"""Molecules featurised once: graph codes rebuild exactly the features of ``mol_to_graph`` (both atom feature sets),
a batch gathered from the memory-mapped labelled cache equals torch_geometric's own batch of those graphs, and
``finetune --mode gcn`` trains streamed or in memory, saves, and ``predict`` reproduces its test scores."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import run_cli
from seqssl.config import load_config
from seqssl.data.builtin import builtin_path

pytest.importorskip("torch_geometric")
from torch_geometric.data import Batch  # noqa: E402

from seqssl.data.molecules import mol_to_graph, parse_smiles  # noqa: E402
from seqssl.data.molecules.codes import atom_codes, bond_codes, graph_from_codes  # noqa: E402
from seqssl.tasks.labelled_stream import load_streamed  # noqa: E402

BBBP = builtin_path("bbbp")


@pytest.fixture(scope="module")
def molecules(tmp_path_factory):
    root = tmp_path_factory.mktemp("graphs")
    frame = pd.read_csv(BBBP)
    from rdkit import Chem
    frame = frame[[Chem.MolFromSmiles(s) is not None for s in frame["smiles"]]].iloc[:240].reset_index(drop=True)
    frame["side"] = np.where(np.arange(len(frame)) % 5 == 0, "test", np.where(np.arange(len(frame)) % 5 == 1,
                                                                               "valid", "train"))
    frame[["smiles", "BBBP", "side"]].to_csv(root / "bbbp.csv", index=False)
    return root


@pytest.mark.parametrize("feature_set", ["full", "simple"])
def test_codes_rebuild_the_graph_features(molecules, feature_set):
    belka = pd.read_csv(builtin_path("belka_sample"))["molecule_smiles"].iloc[:40].tolist()  # [Dy], charges, rings
    edges = ["[Na+]", "[CH2]C", "C[C@H](N)O", "F/C=C/F", "[NH4+].[Cl-]", "*C(=O)O", "[Uuo]", "c1ccccc1-c1ccco1",
             "C#N", "[2H]C([2H])([2H])O", "O=[N+]([O-])c1ccccc1", "[Fe+2]", "C1CC2CCC1C2", "[Si](C)(C)(C)C"]
    for smiles in pd.read_csv(molecules / "bbbp.csv")["smiles"].iloc[:60].tolist() + belka + edges:
        mol = parse_smiles(smiles)
        want, got = mol_to_graph(mol, atom_set=feature_set), graph_from_codes(atom_codes(mol), *bond_codes(mol),
                                                                              feature_set=feature_set)
        assert torch.equal(want.x, got.x) and torch.equal(want.edge_index, got.edge_index)
        assert torch.equal(want.edge_attr, got.edge_attr)


def test_a_cached_batch_equals_torch_geometric_batching(molecules, tmp_path):
    cfg = load_config(None, {"data": {"path": str(molecules / "bbbp.csv"), "columns": ["smiles"], "label_column":
                                      "BBBP", "alphabet": "smiles", "block_rows": 50, "cache_dir": str(tmp_path)},
                             "model": {"max_length": 256}, "quiet": True})
    data = load_streamed(cfg, molecular=True, graphs=True)
    positions = np.array([17, 3, 200, 51, 99, 0, 150])  # across blocks (record batches), out of order
    smiles = pd.read_csv(molecules / "bbbp.csv")["smiles"].to_numpy()
    want = Batch.from_data_list([mol_to_graph(parse_smiles(smiles[i])) for i in positions])
    got = data.encoded.graph_batch(positions)
    for name in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(getattr(want, name), getattr(got, name)), name
    assert got.num_graphs == len(positions)
    # a cache with graphs serves a run without them (no second featurisation)
    again = load_streamed(cfg, data.tokenizer, molecular=True)
    assert again.encoded.path == data.encoded.path


@pytest.mark.parametrize("stream", [True, False])
def test_gcn_mode_trains_saves_and_predicts_its_own_test_scores(molecules, tmp_path, stream):
    out = tmp_path / "gcn"
    argv = ["finetune", "--data", str(molecules / "bbbp.csv"), "--columns", "smiles", "--label-column", "BBBP",
            "--alphabet", "smiles", "--mode", "gcn", "--split-column", "side", "--epochs", "2", "--batch-size", "32",
            "--out", str(out), "--quiet", "--max-length", "256", "--gcn-hidden", "24", "--gcn-layers", "2"]
    assert run_cli(argv + (["--stream", "--cache-dir", str(tmp_path / "cache")] if stream else [])) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 48 and 0.0 <= metrics["test"]["auroc"] <= 1.0
    manifest = json.loads((out / "seqssl_model.json").read_text())
    assert manifest["mode"] == "gcn" and manifest["graph"]["kind"] == "gcn"
    assert (manifest["graph"]["hidden"], manifest["graph"]["layers"]) == (24, 2)  # the gcn arm's settings, by flag
    from safetensors.torch import load_file
    weights = load_file(str(out / "graph_model.safetensors"))
    assert weights["atom_in.weight"].shape[0] == 24
    assert {k.split(".")[1] for k in weights if k.startswith("convs.")} == {"0", "1"}
    test = pd.read_csv(molecules / "bbbp.csv").query("side == 'test'")
    test.to_csv(tmp_path / "test.csv", index=False)
    assert run_cli(["predict", "--model", str(out), "--data", str(tmp_path / "test.csv"), "--out",
                    str(tmp_path / "pred.csv")]) == 0
    scores = pd.read_csv(tmp_path / "pred.csv")["y_score"].to_numpy()
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(test["BBBP"], scores) == pytest.approx(metrics["test"]["auroc"], abs=1e-6)


def test_graph_modes_refuse_bond_angles_on_a_streamed_cache_before_work(molecules, tmp_path, capsys):
    argv = ["finetune", "--data", str(molecules / "bbbp.csv"), "--columns", "smiles", "--label-column", "BBBP",
            "--alphabet", "smiles", "--mode", "gcn", "--split-column", "side", "--out", str(tmp_path / "o"), "--quiet",
            "--gcn-bond-angles", "--stream", "--cache-dir", str(tmp_path / "cache")]
    assert run_cli(argv) == 2
    assert "crossval.gcn.bond_angles: the streamed cache holds no bond angles" in capsys.readouterr().err
    assert not (tmp_path / "o" / "seqssl_model.json").exists()


def test_graph_modes_refuse_an_encoder_and_other_alphabets(molecules, tmp_path, capsys):
    base = ["finetune", "--data", str(molecules / "bbbp.csv"), "--columns", "smiles", "--label-column", "BBBP",
            "--mode", "gat", "--out", str(tmp_path / "o"), "--quiet"]
    assert run_cli(base) == 2
    assert "--mode gat reads molecules as graphs" in capsys.readouterr().err
    assert run_cli(base + ["--alphabet", "smiles", "--encoder", str(tmp_path)]) == 2
    assert "reads no encoder" in capsys.readouterr().err


def test_streamed_gcn_reads_the_training_labels_batch_by_batch(molecules, tmp_path):
    """A streamed training set's labels are read for each batch's rows (and one row for the output count), never
    gathered whole: the fit runs with a training subset whose whole-column ``labels`` fails."""
    from seqssl.tasks.labelled_stream import LabelledRows, streamed_split
    from seqssl.transfer.modes import get_mode
    cfg = load_config(None, {"data": {"path": str(molecules / "bbbp.csv"), "columns": ["smiles"], "label_column":
                                      "BBBP", "alphabet": "smiles", "split_column": "side",
                                      "cache_dir": str(tmp_path)},
                             "model": {"max_length": 256}, "quiet": True, "finetune": {"epochs": 2, "batch_size": 32},
                             "crossval": {"gcn": {"hidden": 16, "layers": 1}}})
    data = load_streamed(cfg, molecular=True, graphs=True)
    split = streamed_split(data.encoded, 0.1, 10_000, 0)
    reads: list[int] = []

    class WholeColumnRefused(LabelledRows):
        @property
        def labels(self):
            raise AssertionError("the training labels were gathered whole")

        def labels_at(self, positions):
            reads.append(len(positions))
            return super().labels_at(positions)

    train = WholeColumnRefused(data.encoded, data.encoded.subset(split.train).positions)
    fitted = get_mode("gcn").configured(cfg).fit(None, train, data.encoded.subset(split.val), cfg.finetune,
                                                 data.task, device=torch.device("cpu"), precision="fp32", seed=0,
                                                 progress=False, desc="gcn")
    assert len(fitted.details["history"]) == 2
    assert reads[0] == 1 and max(reads[1:]) == 32 and sum(reads[1:]) == 2 * len(train)
