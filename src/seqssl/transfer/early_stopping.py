"""Early stopping on a validation metric, shared by every trainer that fine-tunes (sequence encoders, GNNs)."""
from __future__ import annotations

import copy
import math

import numpy as np
from tqdm.auto import tqdm


class EarlyStopping:
    """Record each epoch, keep the weights of the best validation value (higher is better), and say when
    ``patience`` epochs have passed without an improvement larger than ``min_delta``.

    ``select="last"`` is the fixed-budget scheme for small validation sets, where stopping on a noisy
    validation metric stops on noise: every epoch runs and the last weights are kept; the validation
    metric is still recorded, never used."""

    def __init__(self, metric: str, patience: int, min_delta: float, epochs: int, *, progress: bool, desc: str,
                 select: str = "best"):
        self.metric, self.patience, self.min_delta, self.select = metric, patience, min_delta, select
        self.best, self.best_state, self.stale = -math.inf, None, 0
        self.last_state = None
        self.history: list[dict] = []
        self.bar = tqdm(total=epochs, desc=desc, disable=not progress, leave=False, unit="epoch")

    def update(self, model, epoch: int, train_loss: float, value: float | None, seconds: float) -> bool:
        """Record one epoch; return True when training should stop."""
        value = -math.inf if value is None else value
        self.history.append({"epoch": epoch, "train_loss": train_loss, f"val_{self.metric}": value,
                             "seconds": seconds})
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{value:.3f}")
        if value > self.best + self.min_delta or self.best_state is None:
            self.best, self.best_state, self.stale = value, copy.deepcopy(model.state_dict()), 0
        else:
            self.stale += 1
        if self.select == "last":  # what an interrupt keeps: the last finished epoch, not one cut in the middle
            self.last_state = copy.deepcopy(model.state_dict())
        return self.select == "best" and self.stale >= self.patience

    def finish(self, model, batch_size: int) -> dict:
        """Load the best weights into ``model`` (``select="best"``), eval mode; the details every trainer reports."""
        self.bar.close()
        if self.select == "best":
            model.load_state_dict(self.best_state)
        model.eval()
        return {"history": self.history, "best_val": self.best, "epochs_run": len(self.history),
                "last_val": self.history[-1][f"val_{self.metric}"] if self.history else None,
                "stopped_early": self.select == "best" and self.stale >= self.patience, "select": self.select,
                "best_epoch": int(np.argmax([h[f"val_{self.metric}"] for h in self.history])),
                "batch_size": batch_size, "epoch_seconds": float(np.mean([h["seconds"] for h in self.history]))}
