"""A 2-D map of what an encoder learned before fine-tuning: t-SNE (van der Maaten & Hinton 2008, via
scikit-learn) of the pooled embeddings of one test fold, coloured by label."""
from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_POINTS = 1000


def embedding_map(embeddings: np.ndarray, labels: np.ndarray, seed: int) -> dict:
    """``{"x", "y", "label"}`` lists for at most :data:`MAX_POINTS` seeded-sampled points."""
    from sklearn.manifold import TSNE
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(embeddings), size=min(MAX_POINTS, len(embeddings)), replace=False))
    points = TSNE(n_components=2, perplexity=min(30.0, max(2.0, (len(keep) - 1) / 3)), init="pca",
                  random_state=seed).fit_transform(embeddings[keep].astype(np.float64))
    return {"x": points[:, 0].tolist(), "y": points[:, 1].tolist(), "label": np.asarray(labels)[keep].tolist()}


def plot_embedding_maps(maps: dict[str, dict], path: Path, continuous: bool) -> bool:
    """One panel per arm; binary labels as two colours (classes: one colour each), regression targets on a
    colour scale."""
    if not maps:
        return False
    from .figures import panels, save
    fig, axes = panels(len(maps), 3.6, 3.3)
    for ax, (arm, points) in zip(axes, maps.items()):
        label = np.asarray(points["label"], dtype=float)
        if continuous:
            shown = ax.scatter(points["x"], points["y"], c=label, s=5, cmap="viridis")
            fig.colorbar(shown, ax=ax, fraction=0.046)
        else:
            values = np.unique(label[~np.isnan(label)])
            colours = ("tab:blue", "tab:red") if len(values) <= 2 else [f"C{i % 10}" for i in range(len(values))]
            for value, colour in zip(values, colours):
                chosen = label == value
                ax.scatter(np.asarray(points["x"])[chosen], np.asarray(points["y"])[chosen], s=5, c=colour,
                           alpha=0.6, label=f"label {value:g}")
            ax.legend(fontsize=7, markerscale=2)
        ax.set_title(f"{arm} (before fine-tuning)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, path, dpi=110)
    return True
