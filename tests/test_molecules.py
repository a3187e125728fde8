"""Molecular graphs (RDKit → torch_geometric), scaffold splits, focal loss, GCN/GAT models and their trainer."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from rdkit import Chem
from torch_geometric.data import Batch

from seqssl.config import FinetuneConfig
from seqssl.data.builtin import builtin_path
from seqssl.data.molecules import (
    ATOM_BLOCKS,
    ATOM_FEATURE_DIM,
    BOND_ANGLE_FEATURE_DIM,
    BOND_FEATURE_DIM,
    BOND_TYPES,
    CHARGES,
    ELEMENTS,
    mol_to_graph,
    murcko_scaffold,
    parse_smiles,
    smiles_to_graphs,
)
from seqssl.data.splits import carve_validation, make_folds, scaffold_groups
from seqssl.errors import InputError
from seqssl.losses import binary_loss, focal_loss
from seqssl.models.gnn import GraphPredictor
from seqssl.train.memory import PeakMemory
from seqssl.transfer.graph import fit_graph_model, predict_graphs

CPU = torch.device("cpu")


def block(x: torch.Tensor, name: str) -> torch.Tensor:
    """The one-hot columns (with the trailing "other") of atom-feature block ``name``."""
    start = 0
    for block_name, choices in ATOM_BLOCKS:
        if block_name == name:
            return x[:, start:start + len(choices) + 1]
        start += len(choices) + 1
    raise KeyError(name)


def graph(smiles: str, **kwargs):
    return mol_to_graph(parse_smiles(smiles), **kwargs)


@pytest.fixture(scope="module")
def bbbp():
    """All RDKit-valid BBBP molecules: (smiles, labels, graphs)."""
    frame = pd.read_csv(builtin_path("bbbp"))
    graphs, kept, skipped = smiles_to_graphs(frame["smiles"].tolist(), invalid="skip")
    assert skipped == len(frame) - len(graphs) > 0  # BBBP has SMILES RDKit rejects
    return frame["smiles"].to_numpy()[kept], frame["BBBP"].to_numpy()[kept].astype(float), graphs


# --- features -----------------------------------------------------------------------------------------

def test_benzene_graph():
    g = graph("c1ccccc1")
    assert g.x.shape == (6, ATOM_FEATURE_DIM) and g.x.dtype == torch.float32
    assert (block(g.x, "element")[:, ELEMENTS.index("C")] == 1).all()
    assert (g.x[:, -2:] == 1).all()  # in ring, aromatic
    assert g.edge_index.shape == (2, 12) and g.edge_index.dtype == torch.long
    assert g.edge_attr.shape == (12, BOND_FEATURE_DIM)
    assert (g.edge_attr[:, BOND_TYPES.index(Chem.BondType.AROMATIC)] == 1).all()
    assert (g.edge_attr[:, len(BOND_TYPES) + 1] == 1).all()  # in ring
    pairs = set(map(tuple, g.edge_index.T.tolist()))
    assert all((j, i) in pairs for i, j in pairs) and len(pairs) == 12  # both directions of every bond
    assert sorted(torch.bincount(g.edge_index[0]).tolist()) == [2] * 6


def test_charges_chirality_radicals():
    charge = block(graph("C[N+](C)(C)C").x, "formal_charge")
    assert charge[1, CHARGES.index(1)] == 1 and charge[0, CHARGES.index(0)] == 1
    assert block(graph("[O-]C=O").x, "formal_charge")[0, CHARGES.index(-1)] == 1
    r, s = block(graph("C[C@H](N)O").x, "chirality"), block(graph("C[C@@H](N)O").x, "chirality")
    assert not torch.equal(r[1], s[1]) and torch.equal(r[0], s[0])
    assert r[1].sum() == 1 and s[1].sum() == 1 and r[1, 0] == 0  # a specified tag, not "unspecified"
    radicals = block(graph("C[CH2]").x, "radical_electrons")
    assert radicals[1, 1] == 1 and radicals[0, 0] == 1  # one unpaired electron on the CH2
    hs = block(graph("C[CH2]").x, "total_hs")
    assert hs[0, 3] == 1 and hs[1, 2] == 1


@pytest.mark.parametrize("smiles,atoms", [("[Na+].[Cl-]", 2), ("C", 1)])
def test_molecule_without_bonds(smiles, atoms):
    g = graph(smiles, y=1.0)
    assert g.x.shape == (atoms, ATOM_FEATURE_DIM)
    assert g.edge_index.shape == (2, 0) and g.edge_attr.shape == (0, BOND_FEATURE_DIM)
    batch = Batch.from_data_list([g, graph("CCO", y=0.0)])
    for kind in ("gcn", "gat"):
        out = GraphPredictor(kind, ATOM_FEATURE_DIM, BOND_FEATURE_DIM, hidden=16, heads=2).eval()(batch)
        assert out.shape == (2,) and torch.isfinite(out).all()


def test_bond_angles():
    g = graph("c1ccccc1", bond_angles=True)
    assert g.edge_attr.shape == (12, BOND_ANGLE_FEATURE_DIM)
    angle, missing = g.edge_attr[:, -2], g.edge_attr[:, -1]
    assert (missing == 0).all() and ((angle >= 0) & (angle <= math.pi)).all()
    assert torch.allclose(torch.rad2deg(angle), torch.full((12,), 120.0), atol=6.0)
    linear = graph("CC#C", bond_angles=True).edge_attr  # sp carbon: ≈ 180° between C–C and C≡C
    assert (torch.rad2deg(linear[:, -2]) > 170).all()
    lone = graph("CC", bond_angles=True).edge_attr  # a bond without neighbouring bonds: flagged
    assert lone[:, -1].tolist() == [1.0, 1.0] and lone[:, -2].tolist() == [0.0, 0.0]


# --- invalid SMILES --------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,reason", [("C1CC", "unclosed ring"), ("C(C)(C)(C)(C)C", "valence")])
def test_invalid_smiles_error_names_line_and_reason(bad, reason, capfd):
    with pytest.raises(InputError) as err:
        smiles_to_graphs(["CCO", bad, "c1ccccc1"], path="mols.csv", column="smiles")
    text = str(err.value)
    assert text.startswith("mols.csv, line 3, column 'smiles': invalid SMILES")
    assert reason in text and "--invalid-smiles skip" in text and len(text.splitlines()) == 1
    assert capfd.readouterr().err == ""  # RDKit's own log line is captured, not printed


def test_invalid_smiles_skip():
    graphs, kept, skipped = smiles_to_graphs(["CCO", "C1CC", "c1ccccc1", "C(C)(C)(C)(C)C", "N"],
                                             invalid="skip", y=[0, 1, 0, 1, 1])
    assert skipped == 2 and kept.tolist() == [0, 2, 4]
    assert [g.num_nodes for g in graphs] == [3, 6, 1] and [float(g.y) for g in graphs] == [0, 0, 1]


# --- focal loss -----------------------------------------------------------------------------------------

def focal_reference(x, t, alpha, gamma, w=None):
    """Lin et al. 2017 eq. 5 elementwise in float64: -α_t (1 - p_t)^γ log p_t, weighted mean."""
    p = 1.0 / (1.0 + np.exp(-x))
    p_t = np.where(t == 1, p, 1 - p)
    a_t = 1.0 if alpha is None else np.where(t == 1, alpha, 1 - alpha)
    loss = -a_t * (1 - p_t) ** gamma * np.log(p_t)
    w = np.ones_like(x) if w is None else w
    return float(np.sum(np.where(w > 0, loss * w, 0.0)) / np.sum(w))


@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_focal_matches_reference(alpha, gamma):
    rng = np.random.default_rng(int(gamma * 10) + (0 if alpha is None else int(alpha * 100)))
    x, t = rng.normal(scale=3, size=(40, 3)), (rng.random((40, 3)) < 0.3).astype(float)
    got = focal_loss(torch.tensor(x), torch.tensor(t), alpha=alpha, gamma=gamma).item()
    assert got == pytest.approx(focal_reference(x, t, alpha, gamma), rel=1e-9)
    mask = (rng.random((40, 3)) < 0.7).astype(float)
    t_nan = np.where(mask > 0, t, np.nan)  # missing multilabel entries
    got = focal_loss(torch.tensor(x), torch.tensor(t_nan), alpha=alpha, gamma=gamma, mask=torch.tensor(mask))
    assert got.item() == pytest.approx(focal_reference(x, t, alpha, gamma, mask), rel=1e-9)


def test_focal_is_bce_at_gamma_zero_and_stable():
    x = torch.randn(64) * 4
    t = (torch.rand(64) < 0.5).float()
    bce = F.binary_cross_entropy_with_logits(x, t)
    assert torch.allclose(focal_loss(x, t, gamma=0.0), bce, rtol=1e-6, atol=0)
    assert torch.allclose(binary_loss("bce", x, t), bce, rtol=1e-6, atol=0)
    assert not torch.allclose(binary_loss("focal", x, t, gamma=2.0), bce)
    extreme = torch.tensor([100.0, -100.0, 100.0, -100.0], requires_grad=True)
    loss = focal_loss(extreme, torch.tensor([0.0, 1.0, 1.0, 0.0]), alpha=0.25, gamma=2.0)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.25 * 100 / 4 + 0.75 * 100 / 4, rel=1e-6)
    assert torch.isfinite(extreme.grad).all()
    with pytest.raises(ValueError):
        binary_loss("hinge", x, t)


# --- scaffolds ------------------------------------------------------------------------------------------

def test_murcko_scaffold_and_acyclic_groups():
    assert murcko_scaffold("Cc1ccccc1CCO") == "c1ccccc1"
    assert murcko_scaffold("CCCO") == ""
    together = scaffold_groups(["CCO", "CCN", "Cc1ccccc1"])
    separate = scaffold_groups(["CCO", "CCN", "Cc1ccccc1"], acyclic="separate")
    assert together[0] == together[1] != together[2] and len(set(separate.tolist())) == 3


def test_scaffold_folds_and_validation_keep_scaffolds_apart(bbbp):
    smiles, labels, _ = bbbp
    scaffolds = np.array([murcko_scaffold(s) for s in smiles])
    groups = scaffold_groups(smiles)
    folds = make_folds(5, labels, groups, "scaffold", seed=0, stratify=True)
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(smiles)))
    for train, _, test in folds:
        assert not set(scaffolds[train]) & set(scaffolds[test])
        assert set(labels[test]) == {0.0, 1.0}
        fit, val, _ = carve_validation(train, labels, groups, 0.15, seed=0, stratify=True)
        assert sorted(np.concatenate([fit, val]).tolist()) == sorted(train.tolist())
        assert not set(scaffolds[fit]) & set(scaffolds[val])
    # the check has teeth: a stratified split of the same molecules shares scaffolds across folds
    train, _, test = make_folds(5, labels, None, "stratified", seed=0, stratify=True)[0]
    assert set(scaffolds[train]) & set(scaffolds[test])
    with pytest.raises(InputError, match="scaffold"):
        make_folds(5, labels, None, "scaffold", seed=0, stratify=True)


# --- models ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gcn", "gat", "gatv2"])
@pytest.mark.parametrize("pooling", ["mean", "add", "max", "mean+max"])
def test_forward_shapes_and_permutation_invariance(kind, pooling):
    torch.manual_seed(0)
    smiles = ["CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "c1ccc2[nH]ccc2c1", "[Na+].[Cl-]"]
    batch = Batch.from_data_list([graph(s) for s in smiles])
    model = GraphPredictor(kind, ATOM_FEATURE_DIM, BOND_FEATURE_DIM, hidden=32, heads=4, pooling=pooling).eval()
    assert model(batch).shape == (4,)
    multi = GraphPredictor(kind, ATOM_FEATURE_DIM, BOND_FEATURE_DIM, hidden=32, pooling=pooling, n_outputs=3)
    assert multi(batch).shape == (4, 3)
    mol = parse_smiles("CC(=O)Nc1ccc(O)cc1")
    perm = np.random.default_rng(1).permutation(mol.GetNumAtoms()).tolist()
    shuffled = mol_to_graph(Chem.RenumberAtoms(mol, perm))
    original = graph("CC(=O)Nc1ccc(O)cc1")
    assert not torch.equal(shuffled.x, original.x)  # the renumbering did reorder the atoms
    with torch.no_grad():
        a = model(Batch.from_data_list([original]))
        b = model(Batch.from_data_list([shuffled]))
    assert torch.allclose(a, b, atol=1e-5)


def test_peak_memory_sees_an_allocation():
    with PeakMemory(CPU) as base:
        pass
    with PeakMemory(CPU) as mem:
        big = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        big[::4096] += 1
    del big
    assert mem.peak_mb > base.peak_mb + 150


# --- training -------------------------------------------------------------------------------------------

DETAILS = {"history", "best_val", "epochs_run", "stopped_early", "best_epoch", "batch_size", "epoch_seconds",
           "peak_memory_mb"}


@pytest.mark.parametrize("kind,loss", [("gcn", "bce"), ("gat", "focal")])
def test_fit_graph_model_learns_and_is_reproducible(bbbp, kind, loss):
    _, labels, graphs = bbbp
    rng = np.random.default_rng(0)
    idx = rng.choice(len(graphs), 300, replace=False)
    train, val = idx[:240], idx[240:]
    cfg = FinetuneConfig(epochs=4, patience=10, batch_size=32, lr=1e-3)
    runs = []
    for _ in range(2):
        model, details = fit_graph_model(kind, [graphs[i] for i in train], labels[train], [graphs[i] for i in val],
                                         labels[val], cfg, "classification", device=CPU, seed=0, loss=loss,
                                         focal_alpha=0.25 if loss == "focal" else None,
                                         model_kwargs={"hidden": 64})
        runs.append(predict_graphs(model, [graphs[i] for i in train], "classification", CPU))
    assert DETAILS <= set(details) and details["epochs_run"] == 4 and details["batch_size"] == 32
    assert details["epoch_seconds"] > 0 and details["peak_memory_mb"] > 0
    history = details["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(labels[train], runs[0]) > 0.65  # better than chance (0.5) on the training set
    np.testing.assert_array_equal(runs[0], runs[1])  # same seed ⇒ identical predictions


def test_fit_graph_model_multilabel_and_regression(bbbp):
    _, labels, graphs = bbbp
    graphs, labels = graphs[:160], labels[:160]
    y = np.stack([labels, 1 - labels], 1)
    y[::3, 1] = np.nan  # missing labels are masked out of the loss and the metric
    cfg = FinetuneConfig(epochs=2, patience=5, batch_size=32)
    model, details = fit_graph_model("gcn", graphs[:120], y[:120], graphs[120:], y[120:], cfg, "multilabel",
                                     device=CPU, seed=0, loss="focal", model_kwargs={"hidden": 32})
    assert "val_map" in details["history"][0] and 0 < details["best_val"] <= 1
    scores = predict_graphs(model, graphs[:5], "multilabel", CPU)
    assert scores.shape == (5, 2) and ((scores > 0) & (scores < 1)).all()
    values = labels * 10 + 5
    model, details = fit_graph_model("gcn", graphs[:120], values[:120], graphs[120:], values[120:], cfg,
                                     "regression", device=CPU, seed=0, model_kwargs={"hidden": 32})
    assert "val_spearman" in details["history"][0]
    assert abs(predict_graphs(model, graphs[:120], "regression", CPU).mean() - values[:120].mean()) < 3
    with pytest.raises(InputError, match="focal"):
        fit_graph_model("gcn", graphs[:120], values[:120], graphs[120:], values[120:], cfg, "regression",
                        device=CPU, seed=0, loss="focal")


def test_simple_atom_features_are_element_degree_charge_and_aromaticity():
    """Seed 003's simple feature set: 17 + 8 + 6 one-hot columns and one flag, read off RDKit by hand."""
    from seqssl.data.molecules import ELEMENTS, atom_feature_dim
    mol = Chem.MolFromSmiles("c1ccccc1[N+](=O)[O-]")
    graph = mol_to_graph(mol, atom_set="simple")
    assert atom_feature_dim("simple") == 32 and graph.x.shape == (mol.GetNumAtoms(), 32)
    assert mol_to_graph(mol).x.shape[1] == atom_feature_dim("full") == 68
    for atom, row in zip(mol.GetAtoms(), graph.x.numpy()):
        element, degree, charge, aromatic = row[:17], row[17:25], row[25:31], row[31]
        assert element.argmax() == ELEMENTS.index(atom.GetSymbol()) and element.sum() == 1
        assert degree.argmax() == atom.GetDegree() and charge.argmax() == atom.GetFormalCharge() + 2
        assert aromatic == float(atom.GetIsAromatic())


@pytest.mark.parametrize("rows, chunk_rows", [(1, 4), (7, 3), (1000, 64), (1000, 1000), (999, 1 << 20)])
def test_label_moments_read_by_chunks_equal_numpys(rows, chunk_rows):
    """Chan, Golub and LeVeque's merge of chunk moments gives NumPy's mean and population std of the whole column,
    for a column far from zero too (where the textbook sum of squares loses digits)."""
    from seqssl.transfer.graph import label_moments
    values = 1e6 + np.random.default_rng(rows).normal(3.0, 2.0, rows)
    reads = []

    def labels_at(positions):
        reads.append(len(positions))
        return values[positions].astype(np.float32).astype(np.float64)

    mean, std = label_moments(labels_at, rows, chunk_rows)
    want = values.astype(np.float32).astype(np.float64)
    assert mean == pytest.approx(want.mean(), rel=1e-12) and std == pytest.approx(want.std(), rel=1e-9, abs=1e-9)
    assert max(reads) <= chunk_rows and sum(reads) == rows
