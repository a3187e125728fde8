"""The report's figures (matplotlib, headless): small multiples, one panel per arm and at most three per row;
the metrics, ROC and precision-recall curves, label-fraction curves, pretraining losses and confusion matrices."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluate.schema import Results


def panels(n: int, width: float, height: float):
    """``(figure, the first n axes)``, unused cells hidden."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    cells = list(axes.flat)
    for ax in cells[n:]:
        ax.set_visible(False)
    return fig, cells[:n]


def save(fig, path: Path, dpi: int = 120) -> None:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def plot_confusion(predictions, path: Path) -> bool:
    """One confusion matrix per arm (rows: true class, columns: predicted, test folds pooled), counts
    normalised per true class; needs ``y_true`` and ``y_pred`` columns (multiclass predictions)."""
    from sklearn.metrics import confusion_matrix
    if predictions.empty or "y_pred" not in predictions.columns:
        return False
    classes = sorted(set(predictions["y_true"].astype(str)) | set(predictions["y_pred"].astype(str)))
    arms = list(dict.fromkeys(predictions["arm"]))
    fig, axes = panels(len(arms), 3.4, 3.2)
    for ax, arm in zip(axes, arms):
        rows = predictions[predictions["arm"] == arm]
        counts = confusion_matrix(rows["y_true"].astype(str), rows["y_pred"].astype(str), labels=classes)
        share = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, fontsize=7, rotation=90)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(arm, fontsize=9)
    save(fig, path)
    return True


def plot_metric_bars(results: Results, path: Path) -> None:
    """Every table metric (but MSE) of every row: mean over folds, ± std as error bars."""
    import matplotlib

    from .tables import metric_columns
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cols = metric_columns(results)
    cols = [c for c in cols if not c.startswith("mse")]
    arms = list(results.arms)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(cols) * len(arms) / 2), 4))
    width = 0.8 / len(arms)
    for j, arm in enumerate(arms):
        means = [results.arms[arm].mean.get(c) or 0 for c in cols]
        stds = [results.arms[arm].std.get(c) or 0 for c in cols]
        ax.bar(np.arange(len(cols)) + j * width, means, width, yerr=stds, capsize=3, label=arm)
    ax.set_xticks(np.arange(len(cols)) + 0.4 - width / 2, cols, rotation=30, ha="right")
    ax.set_ylabel("mean over folds (± std)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_learning_curve(results: Results, path: Path) -> bool:
    """Primary metric against the share of training labels, one line per arm (``--label-fractions``)."""
    curves: dict[str, list] = {}
    for name, body in results.arms.items():
        arm, _, fraction = name.partition("@")
        if fraction:
            curves.setdefault(arm, []).append((float(fraction), body.mean.get(results.primary_metric),
                                               body.std.get(results.primary_metric) or 0.0))
    if not curves:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, points in curves.items():
        points = sorted(p for p in points if p[1] is not None)
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points], marker="o",
                    capsize=3, label=arm)
    ax.set_xscale("log")
    ax.set_xlabel("share of each training fold's labels")
    ax.set_ylabel(f"{results.primary_metric} (mean ± std over folds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_curves(predictions: pd.DataFrame, path: Path) -> None:
    """ROC and precision–recall curves of every arm, test folds pooled (multilabel: every measured
    (molecule, target) pair pooled), side by side."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (roc_ax, pr_ax) = panels(2, width=5.0, height=5.0)
    for arm, sub in predictions.groupby("arm", sort=False):
        if sub["y_true"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(sub["y_true"], sub["y_score"])
        roc_ax.plot(fpr, tpr, label=arm)
        precision, recall, _ = precision_recall_curve(sub["y_true"], sub["y_score"])
        pr_ax.plot(recall, precision, label=arm)
    roc_ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test folds pooled")
    prevalence = float(predictions.groupby("arm", sort=False)["y_true"].mean().iloc[0]) if len(predictions) else 0.0
    pr_ax.axhline(prevalence, color="k", ls="--", lw=0.8, label=f"chance ({prevalence:.2f})")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test folds pooled", ylim=(0, 1.02))
    roc_ax.legend(fontsize=7)
    pr_ax.legend(fontsize=7)
    save(fig, path)


SMOOTH_FROM = 50  # logged records per fold from which the pretraining-loss plot shows a running mean


def running_mean(values: list[float], window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start; NaNs skipped): per-batch losses
    of contrastive objectives are noisy enough to hide the trend of a long run."""
    return pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy()


def plot_loss_curve(ax, history: list[dict], alpha: float) -> int | None:
    """One fold's loss against the step: as logged when short (with markers, so even one record shows); for
    a long run, faint as logged behind a running mean over ~4% of its records. Returns the window, or None."""
    steps, losses = [h["step"] for h in history], [h["loss"] for h in history]
    if len(history) < SMOOTH_FROM:
        ax.plot(steps, losses, color="tab:blue", alpha=alpha, linewidth=1, marker="o", markersize=2)
        return None
    window = max(2, len(history) // 25)
    ax.plot(steps, losses, color="tab:blue", alpha=0.15, linewidth=0.6)
    ax.plot(steps, running_mean(losses, window), color="tab:blue", alpha=alpha, linewidth=1.2)
    return window


def plot_pretraining(results: Results | dict, path: Path) -> bool:
    """One panel per objective (losses of different objectives are on different scales), one line per fold."""
    from matplotlib.ticker import MaxNLocator

    curves = {arm: [f for f in folds if f["history"]] for arm, folds in (Results.of(results).pretraining or {}).items()}
    curves = {arm: folds for arm, folds in curves.items() if folds}
    if not curves:
        return False
    fig, axes = panels(len(curves), 3.6, 2.8)
    for ax, (arm, folds) in zip(axes, curves.items()):
        windows = [plot_loss_curve(ax, f["history"], 0.35 + 0.65 / len(folds)) for f in folds]
        smoothed = max((w for w in windows if w), default=None)
        note = f"; running mean of {smoothed} logs" if smoothed else ""
        ax.set_title(f"{arm} ({len(folds)} fold{'s' if len(folds) > 1 else ''}{note})", fontsize=9)
        ax.set_xlabel("optimiser step", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # long runs' step labels would overlap
        ax.tick_params(labelsize=7)
    save(fig, path)
    return True
