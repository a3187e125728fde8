"""Molecular graphs as small integers, so that RDKit parses and featurises each molecule once (``finetune --stream``
writes them into the labelled cache) and a graph batch is rebuilt by table lookup.

Every atom feature of :func:`~seqssl.data.molecules.atom_features` is a one-hot block with an "other" bucket or a
0/1 flag, so an atom is fully described by the index of its value in each block and its flags (11 bytes, against
68 float32 one-hot columns), and a bond by its two atoms, its type's index and its two flags. :func:`atom_matrix`
and :func:`bond_matrix` expand the codes into exactly the features of :func:`~seqssl.data.molecules.mol_to_graph`
(tested equal), for either atom feature set. Written by hand: RDKit and torch_geometric featurise from a molecule
object, not from stored codes.
"""
from __future__ import annotations

import numpy as np
import torch

from .molecules import (
    ATOM_BLOCKS,
    ATOM_FEATURE_SETS,
    ATOM_FLAGS,
    BOND_TYPES,
    Chem,
    Data,
    atom_feature_dim,
)

ATOM_CODE_WIDTH = len(ATOM_BLOCKS) + len(ATOM_FLAGS)  # 9 block indices, then 2 flags
BOND_CODE_WIDTH = 3  # type index, in ring, conjugated


def _index(value, choices) -> int:
    return choices.index(value) if value in choices else len(choices)


def atom_codes(mol: Chem.Mol) -> np.ndarray:
    """``(atoms, 11)`` uint8: per atom the index of its value in each of :data:`ATOM_BLOCKS` (its length for
    "other"), then its ring and aromatic flags."""
    rows = []
    for atom in mol.GetAtoms():
        values = (atom.GetSymbol(), atom.GetDegree(), atom.GetValence(Chem.ValenceType.EXPLICIT),
                  atom.GetValence(Chem.ValenceType.IMPLICIT), atom.GetFormalCharge(), atom.GetNumRadicalElectrons(),
                  atom.GetChiralTag(), atom.GetHybridization(), atom.GetTotalNumHs())
        rows.append([_index(v, choices) for v, (_, choices) in zip(values, ATOM_BLOCKS)]
                    + [int(atom.IsInRing()), int(atom.GetIsAromatic())])
    return np.asarray(rows, dtype=np.uint8).reshape(-1, ATOM_CODE_WIDTH)


def bond_codes(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """``(pairs (bonds, 2) int32, codes (bonds, 3) uint8)``: each bond's begin and end atom, then its type's index
    in :data:`BOND_TYPES` and its ring and conjugation flags."""
    pairs, codes = [], []
    for bond in mol.GetBonds():
        pairs.append((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()))
        codes.append((_index(bond.GetBondType(), BOND_TYPES), int(bond.IsInRing()), int(bond.GetIsConjugated())))
    return np.asarray(pairs, dtype=np.int32).reshape(-1, 2), np.asarray(codes, dtype=np.uint8).reshape(-1, 3)


def atom_matrix(codes: np.ndarray, feature_set: str = "full") -> np.ndarray:
    """The float32 atom features of ``feature_set`` from :func:`atom_codes` (the columns of ``atom_features``)."""
    blocks, flags = ATOM_FEATURE_SETS[feature_set]
    parts = [np.eye(len(choices) + 1, dtype=np.float32)[codes[:, k]]
             for k, (name, choices) in enumerate(ATOM_BLOCKS) if name in blocks]
    parts += [codes[:, len(ATOM_BLOCKS) + k:len(ATOM_BLOCKS) + k + 1].astype(np.float32)
              for k, name in enumerate(ATOM_FLAGS) if name in flags]
    out = np.concatenate(parts, axis=1) if parts else np.zeros((len(codes), 0), dtype=np.float32)
    return out.reshape(len(codes), atom_feature_dim(feature_set))


def bond_matrix(codes: np.ndarray) -> np.ndarray:
    """The float32 bond features (``bond_features``: type one-hot with "other", in ring, conjugated)."""
    kinds = np.eye(len(BOND_TYPES) + 1, dtype=np.float32)[codes[:, 0]]
    return np.concatenate([kinds, codes[:, 1:3].astype(np.float32)], axis=1)


def graph_from_codes(atoms: np.ndarray, pairs: np.ndarray, bonds: np.ndarray, feature_set: str = "full") -> Data:
    """The :class:`Data` of :func:`~seqssl.data.molecules.mol_to_graph` (without bond angles), from codes: each
    bond as the two directed edges i→j, j→i in bond order."""
    edge_index = np.stack([pairs, pairs[:, ::-1]], axis=1).reshape(-1, 2).T
    edge_attr = np.repeat(bond_matrix(bonds), 2, axis=0)
    return Data(x=torch.from_numpy(atom_matrix(atoms, feature_set)),
                edge_index=torch.from_numpy(np.ascontiguousarray(edge_index, dtype=np.int64)).reshape(2, -1),
                edge_attr=torch.from_numpy(edge_attr).reshape(-1, len(BOND_TYPES) + 3))


def batch_from_codes(atoms: np.ndarray, n_atoms: np.ndarray, pairs: np.ndarray, n_bonds: np.ndarray,
                     bonds: np.ndarray, feature_set: str = "full"):
    """The ``torch_geometric`` :class:`Batch` of several molecules' codes, concatenated in order (``n_atoms``,
    ``n_bonds``: per molecule): what ``Batch.from_data_list`` makes of their :func:`graph_from_codes` graphs,
    built in one pass of array operations."""
    from torch_geometric.data import Batch
    atom_start = np.cumsum(n_atoms) - n_atoms
    pairs = pairs.reshape(-1, 2).astype(np.int64) + np.repeat(atom_start, n_bonds)[:, None]
    edge_index = np.stack([pairs, pairs[:, ::-1]], axis=1).reshape(-1, 2).T
    ptr = np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64)
    return Batch(x=torch.from_numpy(atom_matrix(atoms.reshape(-1, ATOM_CODE_WIDTH), feature_set)),
                 edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)).reshape(2, -1),
                 edge_attr=torch.from_numpy(np.repeat(bond_matrix(bonds.reshape(-1, BOND_CODE_WIDTH)), 2, axis=0)),
                 batch=torch.from_numpy(np.repeat(np.arange(len(n_atoms)), n_atoms)), ptr=torch.from_numpy(ptr))
