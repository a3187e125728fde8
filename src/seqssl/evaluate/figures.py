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
