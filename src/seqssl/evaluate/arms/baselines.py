"""``kmer``: the classical baseline every table carries (k-mer counts + a regularised linear model; for
per-residue tasks, a one-hot residue window + multinomial logistic regression)."""
from __future__ import annotations

from ...transfer.kmer import fit_kmer_baseline
from ...transfer.window import fit_window_baseline
from .base import Arm, register_arm


@register_arm
class Kmer(Arm):
    name = "kmer"
    baseline_rank = 1

    def fit(self, run, fold, unit, state):
        data, cfg, split = run.data, run.cfg, fold.split
        if run.task.per_token:
            model, details = fit_window_baseline(data.encoded.subset(unit.fit_idx), data.encoded.subset(split.val),
                                                 data.tokenizer.vocab_size, cfg.crossval.kmer_window, fold.seed)
            return model.predict(data.encoded.subset(split.test)), details
        rows, y = data.rows, data.targets
        model, details = fit_kmer_baseline([rows[i] for i in unit.fit_idx], y[unit.fit_idx],
                                           [rows[i] for i in split.val], y[split.val], run.task,
                                           cfg.crossval.kmer_max_k, fold.seed, data.case_sensitive)
        return model.predict([rows[i] for i in split.test]), details
