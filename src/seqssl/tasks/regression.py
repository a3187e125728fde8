"""Regression of a numeric label: MSE on standardised targets, Spearman's ρ as the primary metric."""
from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from sklearn.linear_model import Ridge

from ..data.dataset import read_numeric_labels
from ..metrics import regression_metrics
from .base import Labels, Task, register_task

ALPHA_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)  # ridge strengths tried on the validation split


@register_task
class Regression(Task):
    name = "regression"
    streams = True
    primary_metric = "spearman"
    hf_problem_type = "regression"
    table_metrics = ("spearman", "pearson", "mse")
    standardise_targets = True
    continuous = True
    linear_grid = ALPHA_GRID

    def read_labels(self, table, columns, data_cfg):
        return table, Labels(read_numeric_labels(table, data_cfg.label_column))

    def loss(self, output, target, cfg):
        return F.mse_loss(output.float(), target.float())

    def to_scores(self, output, model):
        return output * model.target_std + model.target_mean

    def linear_model(self, strength, seed):
        return Ridge(alpha=strength)

    def linear_scores(self, model, x) -> np.ndarray:
        return model.predict(x)

    def metrics(self, y_true, y_score, targets=None) -> dict:
        return regression_metrics(y_true, y_score)
