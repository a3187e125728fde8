"""``kmer``: the classical baseline every table carries (k-mer counts + a regularised linear model; for
per-residue tasks, a one-hot residue window + multinomial logistic regression)."""
from __future__ import annotations

from dataclasses import dataclass

from ...options import option
from ...transfer.kmer import fit_kmer_baseline, fit_kmer_per_value
from ...transfer.window import fit_window_baseline
from .base import Arm, register_arm

PER_VALUE = "per-value"  # the row kmer[per-value]: one model per value of the last column (each peptide)


@dataclass
class KmerOptions:
    """``crossval.kmer``: the longest k counted (every k from 1 up to it), and for per-residue tasks the window."""

    max_k: int = option(3, "k-mers of every length 1..max_k counted", at_least=1, old="kmer_max_k")
    window: int = option(3, "per-residue tasks: one-hot residues within ±window of each position", at_least=0,
                         old="kmer_window")


@register_arm
class Kmer(Arm):
    """``kmer``: k-mer counts of every column, crossed with the last (the peptide), in one regularised linear
    model; on binary pair data also ``kmer[per-value]``, one model per peptide (:class:`PerValueKmer`), the
    stronger k-mer baseline on benchmarks with many peptides, so a table never compares with the weaker alone."""

    name = "kmer"
    baseline_rank = 1
    Options = KmerOptions

    def modes(self, modes, data=None):
        grouped = data is not None and data.task.binary and not data.task.per_token and \
            data.encoded.group_keys is not None and len(data.columns) >= 2
        return [None, PER_VALUE] if grouped else [None]

    def fit(self, run, fold, unit, state):
        data, options, split = run.data, self.options(run.cfg), fold.split
        if run.task.per_token:
            model, details = fit_window_baseline(data.encoded.subset(unit.fit_idx), data.encoded.subset(split.val),
                                                 data.tokenizer.vocab_size, options.window, fold.seed)
            return model.predict(data.encoded.subset(split.test)), details
        rows, y = data.rows, data.targets
        fit = fit_kmer_per_value if unit.mode == PER_VALUE else fit_kmer_baseline
        model, details = fit([rows[i] for i in unit.fit_idx], y[unit.fit_idx],
                                           [rows[i] for i in split.val], y[split.val], run.task,
                                           options.max_k, fold.seed, data.case_sensitive)
        return model.predict([rows[i] for i in split.test]), details
