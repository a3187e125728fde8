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

from operator import methodcaller

import numpy as np
import torch

from . import (
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


def _lookup(choices, key=lambda v: v) -> tuple[np.ndarray, int]:
    """A table from a value's integer key (shifted to start at 0) to its index in ``choices``, "other" (its length)
    for every key not among them, and the shift."""
    keys = [int(key(v)) for v in choices]
    shift = -min(keys + [0])
    table = np.full(max(keys + [0]) + shift + 2, len(choices), dtype=np.uint8)
    for i, k in enumerate(keys):
        table[k + shift] = i
    return table, shift


_ATOM_TABLES = [_lookup(choices, Chem.GetPeriodicTable().GetAtomicNumber if name == "element" else int)
                for name, choices in ATOM_BLOCKS]
_BOND_TABLE = _lookup(BOND_TYPES, int)


def _codes(raw: np.ndarray, tables: list) -> np.ndarray:
    """Each column of raw integer keys through its :func:`_lookup` table (keys outside it: "other")."""
    out = np.empty(raw.shape, dtype=np.uint8)
    for k, (table, shift) in enumerate(tables):
        column = raw[:, k] + shift
        inside = (column >= 0) & (column < len(table))
        out[:, k] = np.where(inside, table[np.clip(column, 0, len(table) - 1)], table[-1])
    return out


_ATOM_READERS = (  # the order of ATOM_BLOCKS, then ATOM_FLAGS (enums are ints)
    Chem.Atom.GetAtomicNum, Chem.Atom.GetDegree, methodcaller("GetValence", Chem.ValenceType.EXPLICIT),
    methodcaller("GetValence", Chem.ValenceType.IMPLICIT), Chem.Atom.GetFormalCharge, Chem.Atom.GetNumRadicalElectrons,
    Chem.Atom.GetChiralTag, Chem.Atom.GetHybridization, Chem.Atom.GetTotalNumHs, Chem.Atom.IsInRing,
    Chem.Atom.GetIsAromatic)
_BOND_READERS = (Chem.Bond.GetBeginAtomIdx, Chem.Bond.GetEndAtomIdx, Chem.Bond.GetBondType, Chem.Bond.IsInRing,
                 Chem.Bond.GetIsConjugated)


def _atom_keys(mol: Chem.Mol) -> list[list]:
    """Per key (the block values' integer keys, then the two flags), its value for every atom. Column by column,
    each atom's Python wrapper made once: making the wrappers, not reading values, was most of the cost
    (``list(mol.GetAtoms())`` alone ~5 µs an atom, ``GetAtomWithIdx`` ~3.5, a read ~0.4)."""
    atoms = [mol.GetAtomWithIdx(i) for i in range(mol.GetNumAtoms())]
    return [list(map(read, atoms)) for read in _ATOM_READERS]


def _bond_keys(mol: Chem.Mol) -> list[list]:
    """Per key (begin atom, end atom, type, in ring, conjugated), its value for every bond."""
    bonds = [mol.GetBondWithIdx(i) for i in range(mol.GetNumBonds())]
    return [list(map(read, bonds)) for read in _BOND_READERS]


def _atom_array(keys: list[list]) -> np.ndarray:
    raw = np.array(keys, dtype=np.int64).reshape(ATOM_CODE_WIDTH, -1).T
    out = np.empty(raw.shape, dtype=np.uint8)
    out[:, :len(ATOM_BLOCKS)] = _codes(raw[:, :len(ATOM_BLOCKS)], _ATOM_TABLES)
    out[:, len(ATOM_BLOCKS):] = raw[:, len(ATOM_BLOCKS):]
    return out


def _bond_arrays(keys: list[list]) -> tuple[np.ndarray, np.ndarray]:
    raw = np.array(keys, dtype=np.int64).reshape(5, -1).T
    codes = np.empty((len(raw), BOND_CODE_WIDTH), dtype=np.uint8)
    codes[:, :1] = _codes(raw[:, 2:3], [_BOND_TABLE])
    codes[:, 1:] = raw[:, 3:]
    return raw[:, :2].astype(np.int32), codes


def atom_codes(mol: Chem.Mol) -> np.ndarray:
    """``(atoms, 11)`` uint8: per atom the index of its value in each of :data:`ATOM_BLOCKS` (its length for
    "other"), then its ring and aromatic flags. RDKit's values are read as integers and mapped by table lookup
    (the element by atomic number: a dummy atom, 0, is "other" as its symbol ``*`` is)."""
    return _atom_array(_atom_keys(mol))


def bond_codes(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """``(pairs (bonds, 2) int32, codes (bonds, 3) uint8)``: each bond's begin and end atom, then its type's index
    in :data:`BOND_TYPES` and its ring and conjugation flags."""
    return _bond_arrays(_bond_keys(mol))


class BlockCodes:
    """:func:`block_codes` built one molecule at a time (:meth:`add`), the keys turned into arrays every
    :attr:`CHUNK` molecules: a streamed block holds neither its RDKit molecules (~45 KB each) nor one Python list
    per atom, only the uint8 codes."""
    CHUNK = 2048

    def __init__(self) -> None:
        self._atom_keys: list[list] = [[] for _ in _ATOM_READERS]
        self._bond_keys: list[list] = [[] for _ in _BOND_READERS]
        self._pending = 0
        self._n_atoms: list[int] = []
        self._n_bonds: list[int] = []
        self._atoms: list[np.ndarray] = []
        self._pairs: list[np.ndarray] = []
        self._bonds: list[np.ndarray] = []

    def add(self, mol: Chem.Mol) -> None:
        per_atom, per_bond = _atom_keys(mol), _bond_keys(mol)
        for column, values in zip(self._atom_keys, per_atom):
            column += values
        for column, values in zip(self._bond_keys, per_bond):
            column += values
        self._n_atoms.append(len(per_atom[0]))
        self._n_bonds.append(len(per_bond[0]))
        self._pending += 1
        if self._pending == self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        self._atoms.append(_atom_array(self._atom_keys))
        pairs, bonds = _bond_arrays(self._bond_keys)
        self._pairs.append(pairs.astype(np.int16))
        self._bonds.append(bonds)
        self._atom_keys, self._bond_keys = [[] for _ in _ATOM_READERS], [[] for _ in _BOND_READERS]
        self._pending = 0

    def result(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``name → (values concatenated, per-molecule counts)`` for ``atoms`` (11 a row), ``pairs`` (2) and
        ``bonds`` (3)."""
        self._flush()
        n_atoms, n_bonds = np.asarray(self._n_atoms, dtype=np.int64), np.asarray(self._n_bonds, dtype=np.int64)
        return {"atoms": (np.concatenate(self._atoms).reshape(-1), n_atoms * ATOM_CODE_WIDTH),
                "pairs": (np.concatenate(self._pairs).reshape(-1), n_bonds * 2),
                "bonds": (np.concatenate(self._bonds).reshape(-1), n_bonds * BOND_CODE_WIDTH)}


def block_codes(molecules) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The codes of many molecules at once, ``name → (values concatenated, per-molecule counts)`` for ``atoms``
    (11 a row), ``pairs`` (2) and ``bonds`` (3): a table lookup per chunk of molecules instead of one per
    molecule (:class:`BlockCodes`)."""
    codes = BlockCodes()
    for mol in molecules:
        codes.add(mol)
    return codes.result()


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
