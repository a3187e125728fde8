"""The folds of a cross-validation, and what each fold's pretraining may see.

Per fold: the training rows, a validation split carved from them (grouped and stratified like the folds,
or read from the split column), the test rows (exact duplicates of training rows dropped with
``--remove-duplicates``), and the pretraining corpus: the unlabelled corpora stripped of every test-fold
sequence (and, for labelled corpora under a grouped split, of the test fold's group labels) plus the
training fold's own rows."""
from __future__ import annotations

import numpy as np

from ..data.corpus import Corpus, load_corpus
from ..data.formats import default_columns
from ..data.formats.readers import expand_paths
from ..data.splits import Split, make_folds, resolve_split
from ..lengths import length_limit
from ..tasks.labelled import LabelledData, carve, cluster_sequences, fixed_split
from .leakage import duplicate_report, sequence_key, similarity_leakage


def plan_folds(cfg, data: LabelledData) -> tuple[list[tuple[np.ndarray, Split]], str, bool]:
    """``([(whole training fold, Split(fit, val, test))], split name, validation read from a column)``.
    A fixed split from a column is one "fold": its train (+ validation) rows against its test rows."""
    split = resolve_split(cfg, data.task.stratified)
    fixed = fixed_split(cfg, data)
    if fixed is None:
        folds = make_folds(cfg.crossval.folds, data.fold_labels, data.groups, split, cfg.seed, data.task.stratified)
        return [(f.train, carve(data, f.train, cfg.finetune.val_fraction, cfg.seed + k)._replace(test=f.test))
                for k, f in enumerate(folds)], split, False
    if fixed.val is not None:
        return [(np.sort(np.concatenate([fixed.train, fixed.val])), fixed)], split, True
    return [(fixed.train, carve(data, fixed.train, cfg.finetune.val_fraction, cfg.seed)._replace(test=fixed.test))], \
        split, False


def deduplicated_test(cfg, data: LabelledData, train_all: np.ndarray, split: Split) -> tuple[Split, dict]:
    """The fold's leakage counts, and its split with exact duplicates of training rows left out of the
    test rows when ``--remove-duplicates``; under ``--split cluster`` also the most similar train–test
    pair of the clustered column (:func:`~seqssl.evaluate.leakage.similarity_leakage`)."""
    test = split.test
    assert test is not None  # every evaluation split has test rows
    duplicates, exact = duplicate_report(data.rows, train_all, test, sequence_key(data.case_sensitive),
                                         cfg.data.columns)
    if cfg.crossval.remove_duplicates:
        test = test[~exact]
        split = split._replace(test=test)
    duplicates["removed_from_test"] = int(exact.sum()) if cfg.crossval.remove_duplicates else 0
    if resolve_split(cfg, data.task.stratified) == "cluster":
        duplicates.update(similarity_leakage(cluster_sequences(cfg, data), train_all, test,
                                             cfg.crossval.cluster_threshold))
    return split, duplicates


def extra_corpus(cfg, tokenizer) -> Corpus | None:
    """The ``--pretrain-data`` corpora, tokenised with the labelled data's tokenizer and deduplicated."""
    if not cfg.data.pretrain_data:
        return None
    columns = cfg.data.pretrain_columns or cfg.data.columns[:1]
    parts = [load_corpus(p, default_columns(p, columns), tokenizer, length_limit(cfg.model),
                         cfg.data.pretrain_label_column, cfg.data.too_long, cfg.data)
             for path in cfg.data.pretrain_data for p in expand_paths(path)]
    return Corpus.concat(parts).deduplicated()


def fold_corpus(data: LabelledData, extra: Corpus | None, train_all: np.ndarray, test: np.ndarray,
                germline: frozenset[str] = frozenset()) -> tuple[Corpus, int, int]:
    """``(corpus, entries removed for containing a test sequence, entries removed for a test group's label)``.
    Columns named in ``germline`` (CDR1/CDR2 looked up from V genes, shared by thousands of receptors) are not
    test sequences: their strings would remove almost every corpus entry and say nothing of the test rows."""
    kept = [i for i, column in enumerate(data.columns) if column not in germline]
    test_sequences = {data.rows[i][c] for i in test for c in kept}
    parts = [Corpus([data.rows[i] for i in train_all], data.encoded.subset(train_all),
                    case_sensitive=data.case_sensitive)]
    removed = removed_labels = 0
    if extra is not None:
        clean, removed = extra.without(test_sequences)
        if data.groups is not None and clean.labels is not None:
            # grouped by what the corpus labels name (e.g. peptide vs epitope): held-out groups'
            # labels must not teach the encoder either
            clean, removed_labels = clean.without_labels(set(data.groups[test]))
        parts.insert(0, clean)
    return Corpus.concat(parts).deduplicated(), removed, removed_labels
