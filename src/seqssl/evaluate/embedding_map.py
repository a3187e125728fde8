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


def _legend_name(value: float, names: list[str] | None) -> str:
    """A class's name when the labels index ``names`` (multiclass), else the label value itself."""
    if names is not None and float(value).is_integer() and 0 <= int(value) < len(names):
        return str(names[int(value)])
    return f"{value:g}"


def _scatter_classes(ax, points: dict, label: np.ndarray, names: list[str] | None, title: str) -> None:
    """One colour per label value (binary: blue 0, red 1), with a legend naming each value."""
    values = np.unique(label[~np.isnan(label)])
    colours = ("tab:blue", "tab:red") if len(values) <= 2 else [f"C{i % 10}" for i in range(len(values))]
    x, y = np.asarray(points["x"]), np.asarray(points["y"])
    for value, colour in zip(values, colours):
        chosen = label == value
        ax.scatter(x[chosen], y[chosen], s=5, c=colour, alpha=0.6, label=f"{_legend_name(value, names)} "
                   f"(n={int(chosen.sum())})")
    ax.legend(fontsize=7, markerscale=2, title=title, title_fontsize=7)


def plot_embedding_maps(maps: dict[str, dict], path: Path, continuous: bool, names: list[str] | None = None,
                        label: str | None = None) -> bool:
    """One panel per arm; class labels as one colour each with a legend naming them (``names``: the class
    names the labels index, multiclass), regression targets on a colour scale with a labelled colourbar.
    ``label``: the label column's name, for the legend, colourbar and figure titles: a reader of the report
    sees what the colours are without the code (t-SNE's axes have no units, so no ticks)."""
    if not maps:
        return False
    from .figures import panels, save
    title = f"label column '{label}'" if label else "label"
    fig, axes = panels(len(maps), 3.6, 3.3)
    for ax, (arm, points) in zip(axes, maps.items()):
        values = np.asarray(points["label"], dtype=float)
        if continuous:
            shown = ax.scatter(points["x"], points["y"], c=values, s=5, cmap="viridis")
            fig.colorbar(shown, ax=ax, fraction=0.046).set_label(title, fontsize=7)
        else:
            _scatter_classes(ax, points, values, names, title)
        ax.set_title(f"{arm} (before fine-tuning)", fontsize=9)
        ax.set_xlabel("t-SNE 1", fontsize=7)
        ax.set_ylabel("t-SNE 2", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"t-SNE of fold 0's test embeddings\ncoloured by {title}", fontsize=9)
    save(fig, path, dpi=110)
    return True
