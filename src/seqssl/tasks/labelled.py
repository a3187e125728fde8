"""Labelled data, read once: the table, its sequence columns, the task's labels, groups, negative types and
the tokenised rows, validated together (file, line and column on every error). ``seqssl finetune`` and
``seqssl crossval`` both start here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import task_name
from ..data.dataset import EncodedDataset, encode_table, sequences_of
from ..data.formats import default_columns
from ..data.formats.readers import SequenceTable, read_table, require_columns
from ..data.splits import GROUPED_SPLITS, Split, carve_validation, column_split, resolve_split
from ..data.tokenizers.alphabets import labelled_tokenizer
from ..errors import InputError
from ..lengths import length_limit
from . import Task, get_task


@dataclass
class LabelledData:
    """One labelled file, ready for splitting and for every arm: ``rows`` are the sequences as string
    tuples (one per column), ``encoded`` their token ids with the labels (``encoded.labels``, or per
    residue ``encoded.token_labels``), ``groups`` what no split may put on both sides (a group column,
    Murcko scaffolds or similarity clusters; ``group_split`` names which: grouped, scaffold or cluster),
    ``negative_types`` the kind of each negative (metrics per kind)."""

    table: SequenceTable
    columns: list[str]
    rows: list[tuple]
    encoded: EncodedDataset
    tokenizer: Any  # SequenceTokenizer, SmilesTokenizer or BPETokenizer
    task: Task
    groups: np.ndarray | None = None
    negative_types: np.ndarray | None = None
    group_split: str = "grouped"

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def fold_labels(self) -> np.ndarray:
        """One label per example, for stratified splitting (:meth:`Task.fold_labels`)."""
        return self.task.fold_labels(self.encoded)

    @property
    def targets(self) -> np.ndarray | None:
        """What per-example models fit (a matrix for multilabel)."""
        return self.encoded.labels

    @property
    def case_sensitive(self) -> bool:
        return getattr(self.tokenizer, "case_sensitive", False)

    def first_column(self) -> list[str]:
        return [r[0] for r in self.rows]


def load_labelled(cfg, tokenizer=None, *, molecular: bool = False) -> LabelledData:
    """Read ``cfg.data.path`` for ``cfg.data.task``. ``tokenizer``: an encoder's own (default: from
    ``--alphabet``; for ``smiles``, fitted on this table's sequence columns). ``molecular``: the first
    column holds molecules that must parse in RDKit (``--invalid-smiles error|skip``)."""
    task = get_task(task_name(cfg.data))
    if not cfg.data.path:
        raise InputError("no labelled data", fix="pass --data PATH")
    task.check_label_source(cfg.data)
    table, v_skipped = with_v_gene_cdrs(read_table(cfg.data.path), cfg.data)
    columns = default_columns(cfg.data.path, cfg.data.columns)
    task.check_columns(columns)
    tokenizer = tokenizer or labelled_tokenizer(cfg.data, table, columns)
    table, labels = task.read_labels(table, columns, cfg.data)
    skipped = None
    if molecular and not task.per_token:
        table, keep, skipped = valid_molecules(table, columns if cfg.data.alphabet == "smiles" else columns[:1],
                                               cfg.data.invalid_smiles)
        labels = labels.subset(keep)
    rows = sequences_of(table, columns)
    encoded = encode_table(table, columns, tokenizer, length_limit(cfg.model), cfg.data.too_long)
    task.attach(encoded, labels, rows)
    encoded.rows = rows
    if skipped is not None:
        encoded.meta = {**encoded.meta, "invalid_smiles_skipped": skipped}
    if cfg.data.v_gene_columns:
        encoded.meta = {**encoded.meta, "v_genes_skipped": v_skipped}
    data = LabelledData(table, columns, rows, encoded, tokenizer, task)
    data.groups = split_groups(cfg, data)
    data.negative_types = negative_types(cfg, data)
    encoded.group_keys = metric_groups(cfg, data)
    return data


def with_v_gene_cdrs(table: SequenceTable, data_cfg) -> tuple[SequenceTable, int]:
    """With ``data.v_gene_columns``: their CDR1/CDR2 columns added to the labelled table (every V gene column must
    be there; unknown genes are an error or, with ``--unknown-v-genes skip``, rows dropped and counted) and put
    before their CDR3 among ``data.columns`` (:func:`~seqssl.data.v_genes.expand_columns`). Returns the table and
    the count."""
    if not data_cfg.v_gene_columns:
        return table, 0
    from ..data.v_genes import add_cdr_columns, expand_columns
    expand_columns(data_cfg)
    table, _, skipped = add_cdr_columns(table, data_cfg.v_gene_columns, organism=data_cfg.organism,
                                        unknown=data_cfg.unknown_v_genes)
    return table, skipped


def metric_groups(cfg, data: LabelledData) -> np.ndarray | None:
    """What per-group metrics and nearest-neighbour rules group by: ``--group-metric COL``, else for two
    or more sequence columns the last (e.g. the peptide after CDR3α and CDR3β), else none. Per-residue tasks
    have none."""
    if data.task.per_token:
        return None
    if cfg.data.group_metric:
        return group_values(data.table, cfg.data.group_metric, "--group-metric")
    if len(data.columns) >= 2:
        return np.array([r[-1].strip().upper() for r in data.rows], dtype=object)
    return None


def group_values(table: SequenceTable, column: str, flag: str = "--group-column") -> np.ndarray:
    """The one rule for group columns: values as text, stripped, upper-cased (``cassl`` is ``CASSL``)."""
    if column not in table.frame.columns:
        raise InputError(f"missing column '{column}' ({flag})", path=table.path)
    return table.frame[column].astype(str).str.strip().str.upper().to_numpy()


def split_groups(cfg, data: LabelledData) -> np.ndarray | None:
    """Murcko scaffolds under ``--split scaffold``, similarity clusters of ``--cluster-column`` under
    ``--split cluster`` (computed once, here), else the ``--group-column`` values, else none."""
    split = resolve_split(cfg, data.task.stratified)
    check_cluster_options(cfg, split)
    data.group_split = split if split in GROUPED_SPLITS else "grouped"
    if split == "scaffold":
        from ..data.splits import scaffold_groups
        return scaffold_groups(data.first_column())
    if split == "cluster":
        from ..data.splits.clusters import cluster_ids
        return cluster_ids(cluster_sequences(cfg, data), cfg.crossval.cluster_threshold, progress=not cfg.quiet)
    return group_values(data.table, cfg.data.group_column) if cfg.data.group_column else None


def check_cluster_options(cfg, split: str) -> None:
    """``--split cluster`` needs ``--cluster-threshold`` (a valid one) and no ``--group-column``; the
    cluster options mean nothing under another split."""
    from ..data.splits.clusters import SPEC_FIX, parse_threshold
    options = cfg.crossval.cluster_threshold or cfg.crossval.cluster_column
    if split != "cluster":
        if options:
            raise InputError(f"--cluster-threshold/--cluster-column are used by --split cluster, not --split {split}",
                             fix="drop them or pass --split cluster")
        return
    if not cfg.crossval.cluster_threshold:
        raise InputError("--split cluster needs --cluster-threshold", fix=SPEC_FIX)
    parse_threshold(cfg.crossval.cluster_threshold)
    if cfg.data.group_column:
        raise InputError("--split cluster and --group-column both set what may not straddle train and test",
                         fix="drop --group-column, or use --split grouped without --cluster-threshold")


def cluster_sequences(cfg, data: LabelledData) -> list[str]:
    """The sequences ``--split cluster`` clusters: ``--cluster-column`` (default the first sequence column),
    stripped, and upper-cased unless the alphabet is case-sensitive (SMILES)."""
    column = cfg.crossval.cluster_column or data.columns[0]
    if column in data.columns:
        values = [r[data.columns.index(column)] for r in data.rows]
    elif column in data.table.frame.columns:
        values = data.table.frame[column].fillna("").astype(str).tolist()
    else:
        raise InputError(f"missing column '{column}' (--cluster-column)", path=data.table.path)
    values = [str(v).strip() for v in values]
    return values if data.case_sensitive else [v.upper() for v in values]


def negative_types(cfg, data: LabelledData) -> np.ndarray | None:
    """``--negative-type-column``: each row's kind of negative (empty for positives)."""
    column = cfg.data.negative_type_column
    if not column:
        return None
    if data.task.per_token:
        raise InputError("--negative-type-column is for per-sequence tasks, not token-classification")
    if column not in data.table.frame.columns:
        raise InputError(f"missing column '{column}' (--negative-type-column)", path=data.table.path)
    return data.table.frame[column].fillna("").astype(str).str.strip().to_numpy()


def valid_molecules(table: SequenceTable, columns: list[str], policy: str, each=None):
    """``(table, kept positions, number skipped)``: every SMILES must parse in RDKit; ``policy`` error
    names the file, line, column and RDKit's reason, ``skip`` drops those rows and counts them. ``each``: called
    with each kept row's molecule of the first of ``columns``, in order, as it is parsed (RDKit once per molecule;
    nothing is held here)."""
    from ..extras import require
    require("rdkit", "SMILES checks (--alphabet smiles, molecule arms)")
    from ..data.molecules import parse_smiles
    require_columns(table, columns)
    cells = {c: [str(v).strip() for v in table.frame[c].tolist()] for c in columns}
    keep = []
    for i in range(len(table)):
        try:
            parsed = [parse_smiles(cells[c][i], where={"path": table.path, "line": table.line_of(i), "column": c})
                      for c in columns]
        except InputError:
            if policy != "skip":
                raise
            continue
        keep.append(i)
        if each is not None:
            each(parsed[0])
    kept = np.asarray(keep, dtype=np.int64)
    return table.subset(kept), kept, len(table) - len(kept)


def parsed_molecules(table: SequenceTable, columns: list[str], policy: str):
    """:func:`valid_molecules` and the kept rows' RDKit molecules of the first of ``columns`` (parsed once)."""
    molecules: list = []
    table, kept, skipped = valid_molecules(table, columns, policy, molecules.append)
    return table, kept, skipped, molecules


def fixed_split(cfg, data: LabelledData) -> Split | None:
    """``Split(train, val or None, test)`` from ``--split-column`` when the split is ``column``."""
    split = resolve_split(cfg, data.task.stratified)
    if split != "column":
        if cfg.data.split_column:
            raise InputError(f"--split-column is used by --split column, not --split {split}",
                             fix="drop --split or pass --split column")
        return None
    if not cfg.data.split_column:
        raise InputError("--split column needs --split-column COL", fix="name the column holding train/test")
    return column_split(data.table, cfg.data.split_column, cfg.data.validation_column)


def named_test_sets(cfg, data: LabelledData, test: np.ndarray | None) -> dict[str, np.ndarray]:
    """The rows of each named test set (``test:NAME`` in the split column) among ``test``, when there are several
    or any is named; empty otherwise (one plain test set)."""
    if test is None or not cfg.data.split_column or cfg.data.split_column not in data.table.frame.columns:
        return {}
    from ..data.formats.benchmarks import test_set_names
    names = test_set_names(data.table.frame[cfg.data.split_column].to_numpy()[test])
    if set(names) == {"test"}:
        return {}
    return {str(name): test[names == name] for name in dict.fromkeys(names)}


def carve(data: LabelledData, train: np.ndarray, fraction: float, seed: int) -> Split:
    """A validation split carved from ``train`` like the folds (grouped, stratified as the task says). For one
    class label per example, what models fit must hold two classes."""
    split = carve_validation(train, data.fold_labels, data.groups, fraction, seed, data.task.stratified,
                             grouped_as=data.group_split)
    labels = data.encoded.labels
    if data.task.stratified and labels is not None and labels.ndim == 1 and len(np.unique(labels[split.train])) < 2:
        why = f": each of its {data.group_split} groups holds one class" if data.groups is not None else ""
        raise InputError(f"the training rows of a split hold one class only ({labels[split.train][0]:g}){why}",
                         path=data.table.path, fix="add data, lower --folds, or group by a column whose groups "
                                                   "mix the classes (or --split stratified)")
    return split
