"""The t-SNE maps of :func:`seqssl.evaluate.embedding_map.embedding_map` drawn one panel per arm, coloured by
label (classes with a legend, regression targets on a colour scale)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import figures  # figures.save looked up at each call (tests capture what is drawn)


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
    title = f"label column '{label}'" if label else "label"
    fig, axes = figures.panels(len(maps), 3.6, 3.3)
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
    figures.save(fig, path, dpi=110)
    return True
