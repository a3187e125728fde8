"""``results.json`` of a cross-validation: per row of the table its per-fold metrics, mean and std, runs and
cost; the paired comparisons with the baselines; leakage counts, config and versions."""
from __future__ import annotations

import numpy as np

from ..io import versions
from ..tasks import Task
from .bootstrap import arm_replicates, example_frames, row_frames, row_replicates
from .rows import baseline_labels, split_label
from .stats import (
    BOOTSTRAP,
    CORRECTED_T,
    N_BOOT,
    bootstrap_difference,
    corrected_resampled_t,
    mean_std,
    paired_comparison,
)
from .verdicts import add_verdicts

PER_ARM_ONLY = ("pretrain_history", "embedding_map")  # kept in the parts and plotted, not in results.json


def per_group_metrics(task: Task, y_true, y_score, groups: np.ndarray) -> tuple[dict, dict]:
    """``METRIC_per_group``: each table metric computed within each group (e.g. each peptide) and
    macro-averaged over the groups where the task's primary metric is defined (groups with one class are
    skipped: ``groups_skipped``; ``groups_scored`` counts the others: the second dict). Pooled metrics reward
    learning which group has more positives; these do not."""
    values: dict[str, list] = {m: [] for m in task.table_metrics}
    skipped = 0
    for group in np.unique(groups):
        members = groups == group
        metrics = task.metrics(y_true[members], y_score[members])
        if metrics.get(task.primary_metric) is None:
            skipped += 1
            continue
        for m in values:
            if metrics.get(m) is not None:
                values[m].append(metrics[m])
    out = {f"{m}_per_group": float(np.mean(v)) if v else None for m, v in values.items()}
    return out, {"groups_scored": len(np.unique(groups)) - skipped, "groups_skipped": skipped}


def fold_metrics(task: Task, y_true, y_score, neg_types: np.ndarray | None, targets: list[str] | None = None,
                 groups: np.ndarray | None = None, test_sets: np.ndarray | None = None) -> tuple[dict, dict]:
    """Overall metrics, plus ``METRIC@TYPE`` on positives + negatives of each type (multilabel:
    ``METRIC@TARGET`` per target), plus ``METRIC@NAME`` on each named test set (``test_sets``: its name per test
    row, :mod:`seqssl.data.formats.benchmarks`), plus ``METRIC_per_group`` (:func:`per_group_metrics`) when ``groups``;
    and the counts of groups scored and skipped."""
    out = {k: v for k, v in task.metrics(y_true, y_score, targets).items() if k not in ("n", "undefined_reason")}
    if test_sets is not None:
        for name in dict.fromkeys(test_sets):
            keep = test_sets == name
            sub = task.metrics(y_true[keep], y_score[keep], targets)
            out.update({f"{k}@{name}": v for k, v in sub.items() if k not in ("n", "undefined_reason")})
    if neg_types is not None:
        for kind in sorted(set(neg_types) - {""}):
            keep = (neg_types == kind) | (neg_types == "")
            sub = task.metrics(y_true[keep], y_score[keep])
            out.update({f"{k}@{kind}": v for k, v in sub.items() if k not in ("n", "undefined_reason")})
    counts: dict = {}
    if groups is not None:
        grouped, counts = per_group_metrics(task, y_true, y_score, groups)
        out.update(grouped)
    return out, counts


def clean(metrics: dict) -> dict:
    """A metrics dict without its bookkeeping (``n``, ``undefined_reason``)."""
    return {k: v for k, v in metrics.items() if k not in ("n", "undefined_reason")}


def arm_summary(folds: list[dict], runs: list[dict]) -> dict:
    """One row's per-fold metrics, their mean and std (over folds; on one fixed split with repeated
    fine-tuning, over the repeats), its runs (without per-arm plots' data) and cost."""
    keys = list(dict.fromkeys(k for f in folds for k in f))
    stats = {key: mean_std([f.get(key) for f in folds]) for key in keys}
    if len(folds) == 1 and runs and runs[0].get("repeats"):  # one fixed split: the spread over repeats
        stats = {key: (stats[key][0], mean_std([r.get(key) for r in runs[0]["repeats"]])[1]) for key in keys}
    body = {"folds": folds, "mean": {k: v[0] for k, v in stats.items()},
            "std": {k: v[1] for k, v in stats.items()},
            "runs": [{k: v for k, v in r.items() if k not in PER_ARM_ONLY} for r in runs],
            "seconds": float(sum(r["seconds"] for r in runs))}
    retrieval = [r["retrieval"] for r in runs if "retrieval" in r]
    if retrieval:
        body["retrieval"] = {k: float(np.mean([r[k] for r in retrieval])) for k in retrieval[0]}
    return body


def retrieval_against_chance(runs: list[dict], leakage: list, chance: str = "frequency") -> dict:
    """Retrieval top-1 against a chance level per fold (``frequency``: the best query-blind ranking; ``random``:
    1/N; :func:`.retrieval.top_k_accuracy`): the mean difference with the corrected resampled t-test's 95% CI and
    p (Nadeau & Bengio 2003), as for the arms' comparisons."""
    deltas = [r["retrieval"]["top_1"] - r["retrieval"][f"{chance}_top_1"] for r in runs
              if "frequency_top_1" in r.get("retrieval", {})]
    tested = corrected_resampled_t(deltas, n_test_over_n_train(leakage))
    return {"deltas": deltas, "delta_mean": tested["delta_mean"], "ci95": tested["ci95"], "p_value": tested["p_value"],
            "test": CORRECTED_T}


def comparisons(per_arm: dict, means: dict, baselines: list[str], ratio: float | None = None,
                replicates: dict | None = None) -> list[dict]:
    """Each row against each baseline present (same label fraction, same mode); a baseline only against
    the baselines before it (``kmer − none``, not also ``none − kmer``). Tested by :func:`compare`."""
    out = []
    for rank, base_name in enumerate(baselines):
        for arm in per_arm:
            kind = split_label(arm)[0]
            if kind == base_name or (kind in baselines and baselines.index(kind) < rank):
                continue
            for baseline in baseline_labels(arm, base_name, per_arm):
                for metric in means[arm]:
                    out.append(compare(arm, baseline, metric, per_arm, ratio, replicates))
    return out


def compare(arm: str, baseline: str, metric: str, per_arm: dict, ratio: float | None,
            replicates: dict | None) -> dict:
    """One comparison: with ``replicates`` (a single fixed split) the paired bootstrap over test examples;
    with ``ratio`` (n_test/n_train, k folds) the corrected resampled t-test (Nadeau & Bengio 2003); the
    naive paired t-test kept as ``p_paired_t``. ``p_holm`` and ``verdict`` are set by
    :func:`seqssl.evaluate.verdicts.add_verdicts`."""
    naive = paired_comparison([f.get(metric) for f in per_arm[arm]], [f.get(metric) for f in per_arm[baseline]])
    head = {"arm": arm, "baseline": baseline, "metric": metric, "test": None, "delta_mean": naive["delta_mean"],
            "ci95": None, "p_value": None, "p_holm": None, "verdict": None, "p_paired_t": naive["p_value"]}
    if replicates is not None:
        boot = bootstrap_difference([r.get(metric) for r in replicates[arm]],
                                    [r.get(metric) for r in replicates[baseline]])
        head.update(test=BOOTSTRAP, ci95=boot["ci95"], p_value=boot["p_value"])
    elif ratio is not None and naive["n_folds"] >= 2:
        corrected = corrected_resampled_t(naive["deltas"], ratio)
        head.update(test=CORRECTED_T, ci95=corrected["ci95"], p_value=corrected["p_value"], t=corrected["t"])
    rest = {k: v for k, v in naive.items() if k not in head}
    return {**head, "ci95_paired_t": naive["ci95"], **rest}


def n_test_over_n_train(leakage: list) -> float:
    """The mean over folds of n_test / n_train, the training set being the fit rows plus the validation
    rows (``train + val`` of each fold's record)."""
    return float(np.mean([f["test"] / (f["train"] + f["val"]) for f in leakage]))


def inference(task: Task, primary: str, per_arm: dict, means: dict, baselines: list[str], leakage: list,
              predictions=None, negative_types=None, seed: int = 0, groups=None) -> dict:
    """``comparisons`` (tested, Holm-corrected, with verdicts) and ``statistics`` (which test, its inputs)
    of results.json: k folds → corrected resampled t; one fixed split with ``predictions`` of one row per
    example → paired bootstrap over its test examples (``N_BOOT`` resamples, ``seed``; within each (group,
    class) cell when ``groups``, and over repeats too: :mod:`seqssl.evaluate.bootstrap`). ``negative_types``
    and ``groups``: per data row."""
    replicates, info = None, {"alpha": 0.05, "holm_family": "primary metric, pooled and per subset"}
    if len(leakage) == 1:
        replicates, found = fixed_split_replicates(task, predictions, negative_types, groups, seed)
        info.update(found)
        ratio = None
    else:
        ratio = n_test_over_n_train(leakage)
        info.update(test=CORRECTED_T, test_train_ratio=ratio)
    comps = add_verdicts(comparisons(per_arm, means, baselines, ratio, replicates), primary)
    return {"comparisons": comps, "statistics": {**info, "holm_family_size": sum(c["p_holm"] is not None
                                                                                 for c in comps)}}


def fixed_split_replicates(task: Task, predictions, negative_types, groups, seed: int) -> tuple[dict | None, dict]:
    """The bootstrap replicates of each row of a fixed split's table and what ``statistics`` says of them: one
    score per example → resample the examples (within (group, class) cells; :func:`arm_replicates`); several
    rows per example, or no one numeric score → resample whole examples (:func:`row_replicates`)."""
    if predictions is None:
        return None, {}
    one_score = (task.binary or task.standardise_targets) and not task.per_token  # one numeric score per example
    shared = example_frames(predictions) if one_score else None
    if shared is None:
        per_example = row_frames(predictions)
        if per_example is None:
            return None, {}
        examples, frames = per_example
        return (row_replicates(frames, examples, lambda rows: clean(task.metrics_of_rows(rows)), N_BOOT, seed),
                {"test": BOOTSTRAP, "n_boot": N_BOOT, "bootstrap_seed": seed,
                 "resampled_within": "examples (all their prediction rows together)"})
    rows, scores = shared
    replicates = arm_replicates(scores, lambda y, s, t, g: fold_metrics(task, y, s, t, None, g)[0],
                                None if negative_types is None else np.asarray(negative_types)[rows],
                                None if groups is None else np.asarray(groups)[rows], task.stratified, N_BOOT, seed)
    repeats = max(len(ex.scores) for ex in scores.values())
    return replicates, {"test": BOOTSTRAP, "n_boot": N_BOOT, "bootstrap_seed": seed,
                        "resampled_within": "group and class" if groups is not None and task.stratified else
                        "group" if groups is not None else "all test rows",
                        **({"repeats_resampled": repeats} if repeats > 1 else {})}


def primary_metric(cfg, task: Task) -> str:
    """``crossval.primary_metric`` (checked: a table metric of the task, pooled or ``_per_group``), or the task's."""
    from ..errors import InputError
    chosen = cfg.crossval.primary_metric
    if chosen is None:
        return task.primary_metric
    allowed = [*task.table_metrics, *(f"{m}_per_group" for m in task.table_metrics)]
    if chosen not in allowed:
        raise InputError(f"unknown primary metric '{chosen}' for {task.name}", fix=f"use one of {', '.join(allowed)}")
    return chosen


def assemble_results(cfg, task: Task, per_arm: dict, runs: dict, leakage: list, split: str, wall: float,
                     baselines: list[str], predictions=None, negative_types=None, groups=None) -> dict:
    """results.json; ``predictions`` (the per-example prediction frames), ``negative_types`` and ``groups``
    (per data row) feed the paired bootstrap of a single fixed split (:func:`inference`)."""
    arms_out = {arm: arm_summary(folds, runs[arm]) for arm, folds in per_arm.items()}
    for arm, body in arms_out.items():
        if "frequency_top_1" in body.get("retrieval", {}) and len(leakage) >= 2:
            for chance in ("frequency", "random"):
                body["retrieval"][f"top_1_vs_{chance}"] = retrieval_against_chance(runs[arm], leakage, chance)
    return {"task": task.name, "primary_metric": primary_metric(cfg, task), "split": split, "n_folds": len(leakage),
            "repeats": cfg.finetune.repeats, "search": cfg.finetune.search or None,
            "split_column": cfg.data.split_column if split == "column" else None,
            "validation_column": cfg.data.validation_column if split == "column" else None,
            "arms": arms_out,
            **inference(task, primary_metric(cfg, task), per_arm, {a: body["mean"] for a, body in arms_out.items()},
                        baselines, leakage, predictions, negative_types, cfg.seed, groups),
            "leakage": leakage,
            "pretraining": {arm: [{"fold": r["fold"], "history": r.get("pretrain_history", [])} for r in runs[arm]]
                            for arm in runs if any("pretrain_history" in r for r in runs[arm])},
            "config": cfg.to_dict(), "versions": versions(), "seed": cfg.seed, "wall_seconds": wall}
