"""Molecules as graphs: SMILES → RDKit molecule → ``torch_geometric`` :class:`Data` (atoms = nodes,
bonds = two directed edges), and Bemis–Murcko scaffolds for scaffold splits.

Atom and bond features follow the common molecular-GNN set (e.g. Wu et al. 2018, MoleculeNet; the
BELKA study's "complex features"): one-hot encodings with an "other" bucket, so unseen values never fail.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import InputError
from ...extras import require

require("rdkit", "molecules (SMILES parsing, scaffolds, molecular graphs)")  # the extra's name, not a traceback
require("torch_geometric", "molecular graphs")
from rdkit import Chem, rdBase  # noqa: E402
from rdkit.Chem import rdDistGeom  # noqa: E402
from rdkit.Chem.Scaffolds import MurckoScaffold  # noqa: E402
from torch_geometric.data import Data  # noqa: E402

# Common elements of drug-like and DNA-encoded-library molecules; BELKA marks the DNA linker with [Dy].
ELEMENTS = ("B", "Br", "C", "Cl", "F", "I", "N", "O", "P", "S", "Si", "Se", "Na", "K", "Li", "Dy")
DEGREES = tuple(range(7))
VALENCES = tuple(range(7))
IMPLICIT_VALENCES = tuple(range(5))
CHARGES = (-2, -1, 0, 1, 2)
RADICALS = (0, 1, 2)
CHIRALITY = (Chem.ChiralType.CHI_UNSPECIFIED, Chem.ChiralType.CHI_TETRAHEDRAL_CW,
             Chem.ChiralType.CHI_TETRAHEDRAL_CCW)
HYBRIDISATION = (Chem.HybridizationType.S, Chem.HybridizationType.SP, Chem.HybridizationType.SP2,
                 Chem.HybridizationType.SP3, Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2)
TOTAL_HS = tuple(range(5))
BOND_TYPES = (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC)

# One-hot blocks (each with one extra "other" column) and binary flags, in feature order.
ATOM_BLOCKS = (("element", ELEMENTS), ("degree", DEGREES), ("explicit_valence", VALENCES),
               ("implicit_valence", IMPLICIT_VALENCES), ("formal_charge", CHARGES),
               ("radical_electrons", RADICALS), ("chirality", CHIRALITY), ("hybridisation", HYBRIDISATION),
               ("total_hs", TOTAL_HS))
ATOM_FLAGS = ("in_ring", "aromatic")
ATOM_FEATURE_DIM = sum(len(v) + 1 for _, v in ATOM_BLOCKS) + len(ATOM_FLAGS)  # 68
# Seed 003 contrasts a simple and a complex atom feature set: "full" is every block above; "simple" keeps what a
# chemist would name first (element, degree, formal charge) and aromaticity
ATOM_FEATURE_SETS = {"full": ([name for name, _ in ATOM_BLOCKS], list(ATOM_FLAGS)),
                     "simple": (["element", "degree", "formal_charge"], ["aromatic"])}
BOND_FEATURE_DIM = len(BOND_TYPES) + 1 + 2  # type (+ other), in ring, conjugated: 7
BOND_ANGLE_FEATURE_DIM = BOND_FEATURE_DIM + 2  # + mean angle (radians), + "angle unavailable" flag: 9
EMBED_SEED = 0xF00D
INVALID_CHOICES = ("error", "skip")


def bond_feature_dim(bond_angles: bool = False) -> int:
    return BOND_ANGLE_FEATURE_DIM if bond_angles else BOND_FEATURE_DIM


def _one_hot(value, choices) -> list[float]:
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def _rdkit_reason(messages: str) -> str:
    """RDKit's log lines without timestamps and without the echoed input / caret lines."""
    reasons = []
    for line in messages.splitlines():
        text = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        text = text.replace("SMILES Parse Error: ", "").strip().rstrip(":")
        if not text or text.startswith("Failed parsing SMILES") or "~" in text and set(text) <= {"~", "^"}:
            continue
        if text not in reasons and (" " in text):
            reasons.append(text)
    return "; ".join(reasons[:2]) or "RDKit could not parse it"


def parse_smiles(smiles: str, *, where: dict | None = None) -> Chem.Mol:
    """A sanitised RDKit molecule, or :class:`InputError` with RDKit's own reason (silenced from stderr).

    ``where``: ``{"path", "line", "column"}`` naming the offending cell in the message."""
    where = where or {}
    text = "" if smiles is None else str(smiles).strip()
    reason = None
    with rdBase.CaptureErrorLog() as capture:
        mol = Chem.MolFromSmiles(text, sanitize=False) if text else None
        if mol is not None:
            try:
                Chem.SanitizeMol(mol)
            except Exception as err:  # AtomValenceException, KekulizeException, ...
                reason, mol = str(err).strip(), None
    if mol is None:
        reason = "empty SMILES" if not text else (reason or _rdkit_reason(capture.messages))
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise InputError(f"invalid SMILES '{shown}' ({reason})", path=where.get("path"), line=where.get("line"),
                         column=where.get("column"),
                         fix="correct the SMILES, or drop such rows with --invalid-smiles skip")
    return mol


def atom_feature_dim(feature_set: str = "full") -> int:
    blocks, flags = ATOM_FEATURE_SETS[feature_set]
    return sum(len(choices) + 1 for name, choices in ATOM_BLOCKS if name in blocks) + len(flags)


def atom_features(atom: Chem.Atom, feature_set: str = "full") -> list[float]:
    """One atom's features: the one-hot blocks and flags of ``feature_set`` (:data:`ATOM_FEATURE_SETS`), in the
    order of :data:`ATOM_BLOCKS` and :data:`ATOM_FLAGS`."""
    blocks, flags = ATOM_FEATURE_SETS[feature_set]
    values = {"element": atom.GetSymbol(), "degree": atom.GetDegree(),
              "explicit_valence": atom.GetValence(Chem.ValenceType.EXPLICIT),
              "implicit_valence": atom.GetValence(Chem.ValenceType.IMPLICIT),
              "formal_charge": atom.GetFormalCharge(), "radical_electrons": atom.GetNumRadicalElectrons(),
              "chirality": atom.GetChiralTag(), "hybridisation": atom.GetHybridization(),
              "total_hs": atom.GetTotalNumHs()}
    out = []
    for name, choices in ATOM_BLOCKS:
        if name in blocks:
            out += _one_hot(values[name], choices)
    flag_values = {"in_ring": atom.IsInRing(), "aromatic": atom.GetIsAromatic()}
    return out + [float(flag_values[name]) for name in ATOM_FLAGS if name in flags]


def bond_features(bond: Chem.Bond) -> list[float]:
    return _one_hot(bond.GetBondType(), BOND_TYPES) + [float(bond.IsInRing()), float(bond.GetIsConjugated())]


def _conformer_positions(mol: Chem.Mol) -> np.ndarray | None:
    """Heavy-atom 3-D coordinates from ETKDGv3 (Riniker & Landrum 2015) with a fixed seed, or ``None``."""
    with_h = Chem.AddHs(mol)  # hydrogens appended after the heavy atoms: indices unchanged
    for random_coords in (False, True):
        params = rdDistGeom.ETKDGv3()
        # rdkit's generated stubs declare these property setters as (*args, **kwargs) and mistype them
        params.randomSeed = EMBED_SEED  # type: ignore[assignment]
        params.useRandomCoords = random_coords  # type: ignore[assignment]
        with rdBase.BlockLogs():
            if rdDistGeom.EmbedMolecule(with_h, params) == 0:
                return with_h.GetConformer().GetPositions()[: mol.GetNumAtoms()]
    return None


def compute_bond_angles(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """Per bond, the mean angle (radians, in [0, π]) between it and the bonds sharing one of its atoms,
    from an ETKDG conformer; ``(angles, unavailable)`` where ``unavailable`` is 1 when embedding failed
    or the bond has no neighbouring bond (angle then 0). Symmetric in the bond's direction."""
    n = mol.GetNumBonds()
    angles, missing = np.zeros(n), np.ones(n)
    pos = _conformer_positions(mol) if n else None
    if pos is None:
        return angles, missing
    for bond in mol.GetBonds():
        values = []
        for centre, other in ((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()),
                              (bond.GetEndAtomIdx(), bond.GetBeginAtomIdx())):
            u = pos[other] - pos[centre]
            for nb in mol.GetAtomWithIdx(centre).GetNeighbors():
                if nb.GetIdx() == other:
                    continue
                v = pos[nb.GetIdx()] - pos[centre]
                cos = u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12)
                values.append(math.acos(min(1.0, max(-1.0, cos))))
        if values:
            angles[bond.GetIdx()], missing[bond.GetIdx()] = float(np.mean(values)), 0.0
    return angles, missing


def mol_to_graph(mol: Chem.Mol, y=None, bond_angles: bool = False, atom_set: str = "full") -> Data:
    """``Data(x [atoms, atom dim], edge_index [2, 2·bonds], edge_attr [2·bonds, bond dim], y)``; ``atom_set``:
    which atom features (:data:`ATOM_FEATURE_SETS`: ``full``, 68 columns, or ``simple``).

    Each bond is two directed edges (i→j, j→i) with the same features; a molecule without bonds has an
    empty ``edge_index`` of shape (2, 0). ``y``: a scalar or a vector (stored as a ``(1, ...)`` float row so
    that batching stacks graphs). ``bond_angles``: append the mean bond angle and its flag."""
    x = torch.tensor([atom_features(a, atom_set) for a in mol.GetAtoms()], dtype=torch.float32)
    x = x.reshape(mol.GetNumAtoms(), atom_feature_dim(atom_set))
    feats = [bond_features(b) for b in mol.GetBonds()]
    if bond_angles:
        angle, missing = compute_bond_angles(mol)
        feats = [f + [float(a), float(m)] for f, a, m in zip(feats, angle, missing)]
    src, dst, attr = [], [], []
    for bond, f in zip(mol.GetBonds(), feats):
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        src += [i, j]
        dst += [j, i]
        attr += [f, f]
    data = Data(x=x, edge_index=torch.tensor([src, dst], dtype=torch.long).reshape(2, -1),
                edge_attr=torch.tensor(attr, dtype=torch.float32).reshape(-1, bond_feature_dim(bond_angles)))
    if y is not None:
        data.y = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(1, -1)
    return data


def smiles_to_graphs(smiles_list, *, path: str | None = None, first_line: int = 2, column: str | None = None,
                     invalid: str = "error", y=None, bond_angles: bool = False
                     ) -> tuple[list[Data], np.ndarray, int]:
    """Graphs for the valid SMILES: ``(graphs, kept_indices, n_skipped)``.

    ``invalid="error"`` raises :class:`InputError` naming line ``first_line + index`` (CSV convention of
    :mod:`seqssl.data.formats.readers`: the header is line 1, row i is line i + 2); ``"skip"`` drops such rows.
    ``y``: optional labels, one (scalar or vector) per SMILES, attached to each kept graph."""
    if invalid not in INVALID_CHOICES:
        raise InputError(f"unknown --invalid-smiles '{invalid}'", fix="use error or skip")
    graphs, kept = [], []
    for i, smiles in enumerate(smiles_list):
        try:
            mol = parse_smiles(smiles, where={"path": path, "line": first_line + i, "column": column})
        except InputError:
            if invalid == "error":
                raise
            continue
        graphs.append(mol_to_graph(mol, None if y is None else y[i], bond_angles=bond_angles))
        kept.append(i)
    return graphs, np.asarray(kept, dtype=np.int64), len(smiles_list) - len(kept)


def murcko_scaffold(smiles_or_mol) -> str:
    """Canonical SMILES of the Bemis–Murcko scaffold (Bemis & Murcko 1996: ring systems and the linkers
    between them, side chains removed; stereo dropped); ``""`` for an acyclic molecule."""
    mol = parse_smiles(smiles_or_mol) if isinstance(smiles_or_mol, str) else smiles_or_mol
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
