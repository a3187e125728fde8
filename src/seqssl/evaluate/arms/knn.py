"""``knn``: the nearest-neighbour baseline of TCR specificity (and any sequence task): a test sequence's score
is its edit-distance similarity to the nearest training positives of its own group (pair inputs: the same
peptide), or for regression the similarity-weighted mean of its nearest training labels
(:mod:`seqssl.transfer.knn`). Sequences compare case-insensitively by their one column or, for two or more, by
every column but the last (which groups them: the peptide), edit distances summed over the columns."""
from __future__ import annotations

from ...errors import InputError
from ...transfer.knn import Calibration, choose_k, knn_scores, predicts, rows_edit_similarity
from .base import Arm, register_arm


@register_arm
class NearestNeighbours(Arm):
    name = "knn"
    baseline_rank = 3

    def check(self, task) -> None:
        if not predicts(task):
            raise InputError(f"the knn arm predicts binary labels or numbers, not {task.name}",
                             fix="drop knn from --arms")

    def fit(self, run, fold, unit, state):
        sequences = compared(run.data.rows)
        groups, y, split = run.data.encoded.group_keys, run.data.targets, fold.split

        def pick(idx):
            return [sequences[i] for i in idx], None if groups is None else groups[idx]
        (train, train_groups), (val, val_groups), (test, test_groups) = map(pick, (unit.fit_idx, split.val, split.test))
        val_similarity = rows_edit_similarity(val, train)
        k, best = choose_k(run.task, val_similarity, y[unit.fit_idx], y[split.val], val_groups, train_groups)
        calibrate = Calibration(run.task, knn_scores(run.task, val_similarity, y[unit.fit_idx], val_groups,
                                                     train_groups, k), y[split.val])
        scores = knn_scores(run.task, rows_edit_similarity(test, train), y[unit.fit_idx], test_groups, train_groups,
                            k)
        return calibrate(scores), {"k": k, "best_val": best, "similarity": "levenshtein",
                                   "within_groups": groups is not None}


def compared(rows: list[tuple]) -> list[tuple]:
    """The upper-cased sequences the knn arm compares: the one column, or all but the last of several (the
    last, e.g. the peptide, is what the neighbours are grouped by)."""
    width = max(1, len(rows[0]) - 1) if rows else 1
    return [tuple(s.upper() for s in r[:width]) for r in rows]
