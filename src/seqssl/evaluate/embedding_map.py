"""A 2-D map of what an encoder learned before fine-tuning: t-SNE (van der Maaten & Hinton 2008, via
scikit-learn) of the pooled embeddings of one test fold, coloured by label."""
from __future__ import annotations

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


def __getattr__(name: str):
    """``plot_embedding_maps`` moved to :mod:`seqssl.report.embedding_maps` (this path works for one release)."""
    from ..deprecated import moved
    return moved(__name__, name, {"plot_embedding_maps": "seqssl.report.embedding_maps.plot_embedding_maps"})
