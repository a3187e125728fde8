"""The paired bootstrap of a single fixed train/test split (``--split column``): with one "fold" there is no
spread over folds, so each row's test metrics are recomputed on B resamples of the test examples, the same
resamples for every row (:func:`seqssl.evaluate.stats.bootstrap_replicates`), and the differences are judged
by :func:`seqssl.evaluate.stats.bootstrap_difference`.

Two refinements over resampling the test rows as one pool:

- **Per-group metrics** (``auroc_per_group``: a metric within each peptide, macro-averaged). When the data has
  groups, rows are resampled *within each (group, class) cell* (within each group for tasks without
  classes). The question a per-group metric answers is "how well on these groups", so the groups are fixed
  and their rows are the sample; keeping each cell's size fixed means no group ever loses a class in a
  resample, so the macro average is over the same groups in every resample (resampling the pool would drop a
  group with one positive from about a third of the resamples, and the average would change its meaning
  between resamples). A group with one class in the test split is left out of the observed metric and of
  every resample alike (``groups_skipped``). Pooled metrics of the same run use the same resamples.
- **Repeated fine-tuning** (``finetune.repeats``): each row has one score vector per repeat. A replicate
  resamples the test rows (paired across rows of the table) *and* the repeats (independently per row of the
  table, with replacement) and averages the metric over the drawn repeats: a two-level bootstrap whose
  spread holds both the test sample's and the training seed's variation (Davison & Hinkley 1997, §3.8,
  hierarchical data). With one repeat it is the plain paired bootstrap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .stats import N_BOOT, bootstrap_replicates

REPEAT = "repeat"  # the prediction column that numbers a row's repeated fine-tuning runs (finetune.repeats > 1)


@dataclass
class ExampleScores:
    """One row of the table on the shared test examples: ``y_true`` (n,) and ``scores`` (repeats, n)."""

    y_true: np.ndarray
    scores: np.ndarray


def example_frames(predictions) -> tuple[np.ndarray, dict[str, ExampleScores]] | None:
    """The data rows every row of the table predicted (sorted), and per row of the table its labels and one
    score vector per repeat on them. ``None`` when the task writes several prediction rows per example (per
    residue, per target) or no numeric score per example (multiclass): its metrics cannot be recomputed from
    one score per example."""
    frame = pd.concat(predictions) if isinstance(predictions, list) else predictions
    if frame is None or not len(frame):
        return None
    if REPEAT not in frame.columns:
        frame = frame.assign(**{REPEAT: 0})
    if frame.duplicated(["arm", REPEAT, "row"]).any() or not pd.api.types.is_numeric_dtype(frame["y_true"]):
        return None
    per_arm = {arm: sub for arm, sub in frame.groupby("arm", sort=False)}
    rows = np.array(sorted(set.intersection(*(set(sub["row"]) for sub in per_arm.values()))))
    out = {}
    for arm, sub in per_arm.items():
        runs = [r.set_index("row").loc[rows] for _, r in sub.groupby(REPEAT, sort=True)]
        out[arm] = ExampleScores(runs[0]["y_true"].to_numpy(), np.stack([r["y_score"].to_numpy() for r in runs]))
    return rows, out


def strata(groups: np.ndarray | None, y_true: np.ndarray, by_class: bool) -> list[np.ndarray] | None:
    """The cells test rows are resampled within: one per (group, class) when ``by_class``, else one per group;
    ``None`` (resample the pool) without groups. Positions into the examples, in a fixed order."""
    if groups is None:
        return None
    keys = pd.DataFrame({"g": np.asarray(groups).astype(str), "y": y_true if by_class else 0})
    return [np.asarray(idx) for _, idx in sorted(keys.groupby(["g", "y"]).indices.items())]


def arm_replicates(examples: dict[str, ExampleScores], metrics_of, negative_types=None, groups=None,
                   by_class: bool = True, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, list[dict]]:
    """Per row of the table, ``metrics_of(y_true, y_score, types, groups)`` (a dict of metrics, as in each fold's
    record) on each of ``n_boot`` resamples of the test examples (within :func:`strata` when ``groups``),
    averaged over a resample of its repeats; ``negative_types`` / ``groups``: per shared test example, or
    None."""
    out = {}
    for index, (arm, ex) in enumerate(examples.items()):
        cells = strata(groups, ex.y_true, by_class)
        per_repeat = [bootstrap_replicates(
            lambda i, y=ex.y_true, s=s: metrics_of(y[i], s[i], None if negative_types is None else negative_types[i],
                                                   None if groups is None else groups[i]),
            len(ex.y_true), n_boot, seed, cells) for s in ex.scores]
        out[arm] = combine_repeats(per_repeat, np.random.default_rng([seed, 1, index]))
    return out


def combine_repeats(per_repeat: list[list[dict]], rng: np.random.Generator) -> list[dict]:
    """Replicate b of a row: the mean, over repeats drawn with replacement, of each repeat's replicate b
    (one repeat: its replicates unchanged)."""
    if len(per_repeat) == 1:
        return per_repeat[0]
    n_rep = len(per_repeat)
    return [mean_metrics([per_repeat[r][b] for r in rng.integers(0, n_rep, n_rep)])
            for b in range(len(per_repeat[0]))]


def mean_metrics(records: list[dict]) -> dict:
    """Each metric's mean over ``records`` where it is defined (``None`` where it is defined in none)."""
    keys = dict.fromkeys(k for r in records for k in r)
    out = {}
    for key in keys:
        values = [float(r[key]) for r in records if isinstance(r.get(key), (int, float))]
        out[key] = float(np.mean(values)) if values else None
    return out


def row_frames(predictions) -> tuple[np.ndarray, dict[str, list[pd.DataFrame]]] | None:
    """For tasks whose examples have several prediction rows (per residue, per target) or no single numeric
    score (multiclass): the examples every row of the table predicted (sorted), and per row of the table one
    frame of prediction rows per repeat, restricted to them."""
    frame = pd.concat(predictions) if isinstance(predictions, list) else predictions
    if frame is None or not len(frame):
        return None
    if REPEAT not in frame.columns:
        frame = frame.assign(**{REPEAT: 0})
    per_arm = {arm: sub for arm, sub in frame.groupby("arm", sort=False)}
    examples = np.array(sorted(set.intersection(*(set(sub["row"]) for sub in per_arm.values()))))
    return examples, {arm: [r[r["row"].isin(examples)].reset_index(drop=True) for _, r in sub.groupby(REPEAT)]
                      for arm, sub in per_arm.items()}


def resampled_rows(rows: pd.DataFrame, examples: np.ndarray, picked: np.ndarray) -> pd.DataFrame:
    """The prediction rows of the examples ``examples[picked]`` (an example drawn twice: its rows twice),
    ``_slot`` numbering the drawn examples."""
    members = rows.groupby("row").indices
    parts = [members[e] for e in examples[picked]]
    positions = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    slots = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    return rows.iloc[positions].assign(_slot=slots)


def row_replicates(frames: dict[str, list[pd.DataFrame]], examples: np.ndarray, metrics_of, n_boot: int = N_BOOT,
                   seed: int = 0) -> dict[str, list[dict]]:
    """Per row of the table, ``metrics_of(rows)`` on ``n_boot`` resamples of the test *examples* (each with all
    its prediction rows: the residues of a protein, the targets of a molecule, which are not independent), the
    same resamples for every row of the table, averaged over a resample of its repeats as in
    :func:`arm_replicates`."""
    out = {}
    for index, (arm, repeats) in enumerate(frames.items()):
        per_repeat = [bootstrap_replicates(lambda i, r=r: metrics_of(resampled_rows(r, examples, i)), len(examples),
                                           n_boot, seed) for r in repeats]
        out[arm] = combine_repeats(per_repeat, np.random.default_rng([seed, 1, index]))
    return out
