"""``seqssl finetune --resume``: where an interrupted fine-tuning continues from, what it keeps when the resumed
epochs do not beat it, and the end of an interrupted run once its best model is saved."""
from __future__ import annotations

import json
from pathlib import Path

from ..config import Config
from ..errors import InputError
from ..resume import check_resume


def resume_point(cfg: Config, out: Path, device) -> tuple:
    """What ``finetune --resume`` continues from: the interrupted run's kept model, its metrics, and the finetune
    settings for the epochs it has left; a changed setting, or a run that finished, is refused."""
    from dataclasses import replace as replaced

    from .saved import load_fitted
    check_resume(out / "config.yaml", cfg.to_dict())
    earlier = json.loads((out / "metrics.json").read_text())
    if not earlier.get("interrupted_by"):
        raise InputError("--resume: this fine-tuning finished; nothing to resume", path=str(out),
                         fix="use the model as it is, or --overwrite to train it again")
    left = cfg.finetune.epochs - int(earlier["epochs_run"])
    if left < 1:
        raise InputError(f"--resume: all {cfg.finetune.epochs} epochs ran before the interrupt", path=str(out),
                         fix="use the model as it is (it is whole), or --overwrite to train it again")
    return load_fitted(out, device)[0].model, earlier, replaced(cfg.finetune, epochs=left)


def keep_earlier_best(fitted, kept, earlier: dict, cfg) -> None:
    """After a resumed fine-tuning (early stopping on the best validation value), the model kept before the
    interrupt stays when none of the resumed epochs beat it: a resume never ends worse than what it started
    from."""
    before = earlier.get("best_val")
    if kept is None or cfg.select != "best" or before is None or not hasattr(fitted.mode, "prepare"):
        return
    if fitted.details.get("best_val", float("-inf")) >= before:
        return
    kept.encoder = fitted.mode.prepare(kept.encoder, cfg)  # LoRA: fresh adapters, which start as the identity
    fitted.model = kept.to(fitted.device).eval()
    fitted.details.update(best_val=before, kept_from_before_resume=True)


def stop_after_keeping(details: dict, out: Path, metric: str) -> None:
    """Having saved the best model of an interrupted fine-tuning, say what was kept and end as the signal asks."""
    from ..interrupts import Terminated, on_interrupt
    which = (f"epoch {details['epochs_run']}, the last finished (finetune.select: last)"
             if details.get("select") == "last" else
             f"epoch {details['best_epoch'] + 1} of {details['epochs_run']}, validation {metric} "
             f"{details['best_val']:.3f}")
    on_interrupt(f"the best model so far in {out} ({which}; it predicts as it is)")
    raise Terminated() if details["interrupted_by"] == "SIGTERM" else KeyboardInterrupt()
