"""Small-multiple figures: one panel per arm, at most three per row (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path


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
