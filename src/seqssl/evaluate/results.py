"""``results.json`` of a cross-validation: per row of the table its per-fold metrics, mean and std, runs and
cost; the paired comparisons with the baselines; leakage counts, config and versions."""
from __future__ import annotations

import numpy as np

from ..io import versions
from ..tasks import Task
from .rows import baseline_labels, split_label
from .stats import mean_std, paired_comparison

PER_ARM_ONLY = ("pretrain_history", "embedding_map")  # kept in the parts and plotted, not in results.json


def fold_metrics(task: Task, y_true, y_score, neg_types: np.ndarray | None, targets: list[str] | None = None) -> dict:
    """Overall metrics, plus ``METRIC@TYPE`` on positives + negatives of each type (multilabel:
    ``METRIC@TARGET`` per target)."""
    out = {k: v for k, v in task.metrics(y_true, y_score, targets).items() if k not in ("n", "undefined_reason")}
    if neg_types is not None:
        for kind in sorted(set(neg_types) - {""}):
            keep = (neg_types == kind) | (neg_types == "")
            sub = task.metrics(y_true[keep], y_score[keep])
            out.update({f"{k}@{kind}": v for k, v in sub.items() if k not in ("n", "undefined_reason")})
    return out


def arm_summary(folds: list[dict], runs: list[dict]) -> dict:
    """One row's per-fold metrics, their mean and std, its runs (without per-arm plots' data) and cost."""
    keys = list(dict.fromkeys(k for f in folds for k in f))
    stats = {key: mean_std([f.get(key) for f in folds]) for key in keys}
    body = {"folds": folds, "mean": {k: v[0] for k, v in stats.items()},
            "std": {k: v[1] for k, v in stats.items()},
            "runs": [{k: v for k, v in r.items() if k not in PER_ARM_ONLY} for r in runs],
            "seconds": float(sum(r["seconds"] for r in runs))}
    retrieval = [r["retrieval"] for r in runs if "retrieval" in r]
    if retrieval:
        body["retrieval"] = {k: float(np.mean([r[k] for r in retrieval])) for k in retrieval[0]}
    return body


def comparisons(per_arm: dict, means: dict, baselines: list[str]) -> list[dict]:
    """Each row against each baseline present (same label fraction, same mode); a baseline only against
    the baselines before it (``kmer − none``, not also ``none − kmer``)."""
    out = []
    for rank, base_name in enumerate(baselines):
        for arm in per_arm:
            kind = split_label(arm)[0]
            if kind == base_name or (kind in baselines and baselines.index(kind) < rank):
                continue
            for baseline in baseline_labels(arm, base_name, per_arm):
                for metric in means[arm]:
                    comp = paired_comparison([f.get(metric) for f in per_arm[arm]],
                                             [f.get(metric) for f in per_arm[baseline]])
                    out.append({"arm": arm, "baseline": baseline, "metric": metric, **comp})
    return out


def assemble_results(cfg, task: Task, per_arm: dict, runs: dict, leakage: list, split: str, wall: float,
                     baselines: list[str]) -> dict:
    arms_out = {arm: arm_summary(folds, runs[arm]) for arm, folds in per_arm.items()}
    return {"task": task.name, "primary_metric": task.primary_metric, "split": split, "n_folds": len(leakage),
            "split_column": cfg.data.split_column if split == "column" else None,
            "validation_column": cfg.data.validation_column if split == "column" else None,
            "arms": arms_out,
            "comparisons": comparisons(per_arm, {a: body["mean"] for a, body in arms_out.items()}, baselines),
            "leakage": leakage,
            "pretraining": {arm: [{"fold": r["fold"], "history": r.get("pretrain_history", [])} for r in runs[arm]]
                            for arm in runs if any("pretrain_history" in r for r in runs[arm])},
            "config": cfg.to_dict(), "versions": versions(), "seed": cfg.seed, "wall_seconds": wall}
