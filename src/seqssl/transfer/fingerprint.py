"""The cheminformatics baseline: Morgan (ECFP-like) count fingerprints + a regularised linear model.

Rogers & Hahn, "Extended-connectivity fingerprints", J. Chem. Inf. Model. 2010: radius 2 (ECFP4),
folded to 2,048 counts by RDKit's ``rdFingerprintGenerator``; log1p-scaled, then logistic regression
(one per target for multilabel) or ridge, its strength chosen on the validation split like the k-mer
baseline. This is the arm a learned molecular representation must beat.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .kmer import linear_scores, select_linear_model

RADIUS, N_BITS = 2, 2048


def morgan_counts(smiles: list[str], radius: int = RADIUS, n_bits: int = N_BITS) -> sparse.csr_matrix:
    """``(molecules, n_bits)`` log1p Morgan counts; SMILES are assumed valid (checked when the table is read)."""
    from ..extras import require
    require("rdkit", "the ecfp arm (Morgan fingerprints)")
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    rows = [generator.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s)).astype(np.float32) for s in smiles]
    return sparse.csr_matrix(np.log1p(np.stack(rows)) if rows else np.zeros((0, n_bits), np.float32))


class FingerprintBaseline:
    def __init__(self, model, task: str, radius: int, n_bits: int):
        self.model, self.task, self.radius, self.n_bits = model, task, radius, n_bits

    def predict(self, smiles: list[str]) -> np.ndarray:
        return linear_scores(self.model, morgan_counts(smiles, self.radius, self.n_bits), self.task)


def fit_fingerprint_baseline(train_smiles, y_train, val_smiles, y_val, task: str, seed: int = 0,
                             radius: int = RADIUS, n_bits: int = N_BITS):
    """Fit on the training molecules, regularisation chosen on the validation molecules."""
    x_train, x_val = morgan_counts(train_smiles, radius, n_bits), morgan_counts(val_smiles, radius, n_bits)
    model, strength, best_val = select_linear_model(x_train, y_train, x_val, y_val, task, seed)
    return FingerprintBaseline(model, task, radius, n_bits), {"strength": strength, "best_val": best_val,
                                                             "n_features": n_bits, "radius": radius}
