"""Cross-validation folds and validation splits (random, stratified, grouped, scaffold, cluster, via
scikit-learn), and a fixed train/test split read from a column of the data."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from ...errors import InputError
from ..formats.table import SequenceTable, require_columns

SPLITS = ("random", "stratified", "grouped", "scaffold", "cluster")
GROUPED_SPLITS = ("grouped", "scaffold", "cluster")  # no group (Murcko scaffold, similarity cluster) on both sides
GROUP_WORDS = {  # grouped split: (what its groups are called, the error when none are given, the fix for too few)
    "grouped": ("groups", "--split grouped needs --group-column", "lower --folds or choose another --group-column"),
    "scaffold": ("scaffolds", "--split scaffold needs the Murcko scaffold groups of the SMILES column",
                 "lower --folds or use --split stratified"),
    "cluster": ("clusters", "--split cluster needs the similarity clusters of --cluster-column",
                "lower --folds, or tighten --cluster-threshold (smaller edit:K, higher identity:F) for more "
                "clusters"),
}
SPLIT_VALUES = {"train": "train", "test": "test", "valid": "valid", "validation": "valid"}
NAMED_TEST = "test:"  # test:NAME, one of several test sets, each also scored alone (seqssl.data.formats.benchmarks)
TRUE, FALSE = ("true", "1", "yes", "y", "t"), ("false", "0", "no", "n", "f", "")


class Split(NamedTuple):
    """Row indices of one evaluation: ``train`` (what models fit), ``val`` (early stopping and model
    choice) and ``test`` (scored once); ``None`` where a split has no such part."""

    train: np.ndarray
    val: np.ndarray | None = None
    test: np.ndarray | None = None


def default_split(stratified: bool, has_groups: bool, has_split_column: bool = False) -> str:
    """The split a run uses when ``--split`` is not given: the split column's, grouped when there are
    groups, else stratified for tasks that stratify (:attr:`seqssl.tasks.Task.stratified`), else random."""
    if has_split_column:
        return "column"
    if has_groups:
        return "grouped"
    return "stratified" if stratified else "random"


def resolve_split(cfg, stratified: bool) -> str:
    """``--split`` if given, ``cluster`` when only ``--cluster-threshold`` is (and no split column),
    else :func:`default_split` for the run's task and columns."""
    if cfg.crossval.split is None and cfg.crossval.cluster_threshold and not cfg.data.split_column:
        return "cluster"
    return cfg.crossval.split or default_split(stratified, cfg.data.group_column is not None,
                                               cfg.data.split_column is not None)


def make_folds(n_folds: int, labels: np.ndarray, groups: np.ndarray | None, split: str, seed: int,
               stratify: bool) -> list[Split]:
    """``Split(train, test=...)`` per fold (``val`` is carved later, :func:`carve_validation`).
    ``grouped``: no group on both sides, stratified by label when ``stratify`` (``StratifiedGroupKFold``).
    ``scaffold``: the same with Bemis–Murcko scaffolds as the groups (pass :func:`scaffold_groups` of the
    SMILES as ``groups``); ``cluster``: with similarity clusters (:func:`seqssl.data.splits.clusters.cluster_ids`)."""
    if split not in SPLITS:
        raise InputError(f"unknown split '{split}'", fix=f"use one of {', '.join(SPLITS)}")
    if n_folds < 2:
        raise InputError(f"--folds must be at least 2, got {n_folds}")
    index = np.zeros(len(labels))
    if stratify and split in GROUPED_SPLITS + ("stratified",):
        values, counts = np.unique(labels, return_counts=True)
        if len(counts) and counts.min() < n_folds:
            raise InputError(f"only {counts.min()} examples of class {values[counts.argmin()]:g} for "
                             f"{n_folds} stratified folds", fix="add data or lower --folds")
    if len(labels) < n_folds:  # before any splitter (scikit-learn's errors; no row at all)
        raise InputError(f"{len(labels)} examples cannot make {n_folds} folds", fix="add data or lower --folds")
    if split in GROUPED_SPLITS:
        noun, missing, fix = GROUP_WORDS[split]
        if groups is None:
            raise InputError(missing)
        if len(np.unique(groups)) < n_folds:
            raise InputError(f"{len(np.unique(groups))} {noun} is fewer than {n_folds} folds", fix=fix)
        splitter = (StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed) if stratify
                    else GroupKFold(n_folds, shuffle=True, random_state=seed))
        return [Split(tr, test=te) for tr, te in splitter.split(index, labels if stratify else None, groups)]
    if split == "stratified":
        if not stratify:
            raise InputError("--split stratified needs a classification task", fix="use --split random")
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return [Split(tr, test=te) for tr, te in splitter.split(index, labels)]
    return [Split(tr, test=te) for tr, te in KFold(n_folds, shuffle=True, random_state=seed).split(index)]


def carve_validation(train: np.ndarray, labels: np.ndarray, groups: np.ndarray | None, fraction: float,
                     seed: int, stratify: bool, grouped_as: str = "grouped") -> Split:
    """Split training indices into ``Split(train=fit, val=validation)`` the same way the folds were made:
    with ``groups`` (a group column, :func:`scaffold_groups` or similarity clusters; ``grouped_as`` names
    which, for errors) no group — so no scaffold, no cluster — is on both sides. With fewer groups than
    ``1 / fraction`` (leave-one-peptide-out), the validation split is one whole group."""
    if not 0 < fraction < 0.5:
        raise InputError(f"finetune.val_fraction must be in (0, 0.5), got {fraction}")
    n_parts = max(2, min(int(round(1 / fraction)), len(train)))  # a small fold: fewer, larger parts
    if stratify:  # small folds: fewer, larger parts so each holds both classes
        n_parts = max(2, min(n_parts, int(np.unique(labels[train], return_counts=True)[1].min())))
    sub_groups = None if groups is None else groups[train]
    if sub_groups is not None:  # few groups (4 peptides): validation is one whole group, however large
        n_parts = min(n_parts, len(np.unique(sub_groups)))
    folds = make_folds(n_parts, labels[train], sub_groups, grouped_as if groups is not None else
                       ("stratified" if stratify else "random"), seed, stratify)
    return Split(train[folds[0].train], val=train[folds[0].test])


def scaffold_groups(smiles_list, acyclic: str = "together") -> np.ndarray:
    """Integer group per molecule: its Bemis–Murcko scaffold (Bemis & Murcko 1996), for ``groups=``.

    Acyclic molecules have the empty scaffold. ``acyclic="together"`` (default) puts them all in one
    group, as MoleculeNet's scaffold split does (Wu et al. 2018): chains are one chemotype and none is
    on both sides. ``"separate"`` gives each acyclic molecule its own group. SMILES must be valid (drop
    invalid ones first, e.g. with :func:`~seqssl.data.molecules.smiles_to_graphs` ``invalid="skip"``)."""
    from ..molecules import murcko_scaffold
    if acyclic not in ("together", "separate"):
        raise ValueError("acyclic must be 'together' or 'separate'")
    scaffolds = [murcko_scaffold(s) for s in smiles_list]
    if acyclic == "separate":
        scaffolds = [s or f" acyclic {i}" for i, s in enumerate(scaffolds)]  # a space is never in SMILES
    return np.unique(np.asarray(scaffolds, dtype=object).astype(str), return_inverse=True)[1].astype(np.int64)


def column_split(table: SequenceTable, column: str, validation_column: str | None = None) -> Split:
    """``Split(train, val, test)`` row indices from ``column`` (``train``/``test`` or ``test:NAME``, optional
    ``valid``/``validation``; any case) and ``validation_column`` (true marks a training row as
    validation). ``validation`` is ``None`` when no row is marked; train excludes it."""
    side = split_sides(table, column, validation_column)
    for name in ("train", "test"):
        if not (side == name).any():
            raise InputError(f"--split-column '{column}' has no {name} rows", path=table.path, column=column,
                             fix="mark some rows train and some test, or choose another --split")
    valid = np.flatnonzero(side == "valid")
    return Split(np.flatnonzero(side == "train"), val=valid if len(valid) else None,
                 test=np.flatnonzero(side == "test"))


def split_sides(table: SequenceTable, column: str, validation_column: str | None = None) -> np.ndarray:
    """Each row's side, ``train``, ``valid`` or ``test``, from ``column`` and ``validation_column`` (see
    :func:`column_split`); a streamed file's blocks are read one at a time by the same rule."""
    require_columns(table, [column] + ([validation_column] if validation_column else []))
    values = table.frame[column].fillna("").astype(str).str.strip().str.lower()
    side = values.map(lambda v: "test" if v.startswith(NAMED_TEST) else SPLIT_VALUES.get(v))
    bad = side.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"split value '{table.frame[column].iloc[i]}' is not train, test (or test:NAME) or valid",
                         path=table.path, line=table.line_of(i), column=column,
                         fix="mark each row train, test or valid, or choose another --split")
    side = side.to_numpy().copy()
    if validation_column:
        flags = table.frame[validation_column].fillna("").astype(str).str.strip().str.lower()
        unknown = ~flags.isin(TRUE + FALSE).to_numpy()
        if unknown.any():
            i = int(np.argmax(unknown))
            raise InputError(f"validation flag '{flags.iloc[i]}' is not true or false", path=table.path,
                             line=table.line_of(i), column=validation_column, fix="use True/False (or empty)")
        marked = flags.isin(TRUE).to_numpy()
        clash = marked & (side == "test")
        if clash.any():
            i = int(np.argmax(clash))
            raise InputError("a test row is marked as validation", path=table.path, line=table.line_of(i),
                             column=validation_column, fix="validation rows must come from the training side")
        side[marked] = "valid"
    return side
