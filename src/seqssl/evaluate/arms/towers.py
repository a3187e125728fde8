"""Arms of objectives that train two towers (``clip``, or a sum with it): pretrained per fold on the training
fold's *binding* pairs, then fine-tuned in each transfer mode like any pretrained arm, plus one row more,
``zero-shot``: a test pair's score is the cosine of its two towers (:mod:`seqssl.models.towers`), with no label
fitted but a monotone Platt scaling on the validation split (so thresholded metrics mean what they mean for
the other arms; every ranking metric is the raw cosine's). Retrieval before fine-tuning ranks each test
receptor's peptide among the fold's test peptides by the towers, as the objective was trained."""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...models.towers import pair_cosine, tower_embeddings
from ...transfer.knn import Calibration
from ..retrieval import top_k_accuracy
from .encoders import PretrainedArm

ZERO_SHOT = "zero-shot"  # the row of the arm scored by its towers alone


class TwoTowerArm(PretrainedArm):
    """See the module docstring; resolved for every objective whose class has ``two_towers``."""

    def check(self, task) -> None:
        if not task.binary:
            raise InputError(f"the {self.name} arm learns which pairs bind: it needs a binary pair task, not "
                             f"{task.name}", fix=f"drop {self.name} from --arms")

    def check_run(self, run, modes):
        def two_columns():
            if len(run.data.columns) < 2:
                raise InputError(f"the {self.name} arm contrasts the two sides of a pair: it needs two or more "
                                 "sequence columns (the last one, e.g. the peptide, is the second tower)",
                                 fix="pass --columns cdr3_b_aa,peptide")
        from ...transfer.modes import get_mode
        trained = [m for m in modes if m != ZERO_SHOT]
        return [two_columns, *(lambda m=m: get_mode(m).check(run.task, run.data.encoded) for m in trained),
                lambda: self.check_objective(run)]

    def modes(self, modes, data=None):
        return [*(m for m in modes if m != ZERO_SHOT), ZERO_SHOT]

    def tunable(self, mode):
        return mode != ZERO_SHOT and super().tunable(mode)

    def corpus(self, run, fold):
        """The fold's corpus without its single sequences (``--pretrain-data`` of one column) and without the
        training fold's non-binding pairs: what is left are binding pairs, the training fold's and any the user
        added as corpus."""
        data = run.data
        negatives = {tuple(s.upper() for s in data.rows[i]) for i in fold.train_all if data.fold_labels[i] == 0}
        width = len(data.columns)
        keep = np.array([len(row) == width and tuple(s.upper() for s in row) not in negatives
                         for row in fold.corpus.rows], dtype=bool)
        if keep.sum() < 2:
            raise InputError(f"fold {fold.k} has {int(keep.sum())} binding pairs to pretrain {self.name} on",
                             fix="a labelled table with positive pairs in every training fold")
        return fold.corpus.select(keep), {"pretrain_pairs": int(keep.sum())}

    def retrieval(self, encoder, run, positives) -> dict:
        receptors, peptides = tower_embeddings(encoder, run.data.encoded.subset(positives), run.device)
        return top_k_accuracy(receptors, peptides, [1, 5, 100],
                              key_ids=[run.data.rows[i][-1].upper() for i in positives])

    def fit(self, run, fold, unit, state):
        if unit.mode != ZERO_SHOT:
            return super().fit(run, fold, unit, state)
        encoded, targets = run.data.encoded, run.data.targets
        val_scores, test_scores = (pair_cosine(*tower_embeddings(state, encoded.subset(idx), run.device))
                                   for idx in (fold.split.val, fold.split.test))
        calibrate = Calibration(run.task, val_scores, targets[fold.split.val])
        return calibrate(test_scores), {"mode": ZERO_SHOT, "similarity": "cosine of the two towers"}
