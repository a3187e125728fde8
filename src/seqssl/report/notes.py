"""The prose of a report beside its tables: whether fine-tuning converged, what a fixed split is, retrieval
against chance, models brought to the run, repeats and the settings a search chose. Each function returns its
Markdown lines, or nothing when the run has nothing to say there."""
from __future__ import annotations

import pandas as pd

from ..evaluate.schema import Results


def convergence_note(results: Results | dict) -> str | None:
    """Say plainly when fine-tuning runs hit the epoch cap instead of stopping early (or that every run
    had the same fixed budget, ``finetune.select: last``)."""
    results = Results.of(results)
    finetune = results.config["finetune"]
    if finetune.get("select") == "last":
        return (f"Fixed budget: every fine-tuning run trained {finetune['epochs']} epochs "
                "and kept its last weights (finetune.select: last); validation metrics were recorded, not used.")
    capped = {arm: sum(not r.get("stopped_early", True) for r in body.runs) for arm, body in results.arms.items()}
    capped = {a: n for a, n in capped.items() if n}
    if not capped:
        return None
    listed = ", ".join(f"{a} {n}/{results.n_folds}" for a, n in capped.items())
    return (f"Not converged: fine-tuning runs that reached the {finetune['epochs']}-epoch cap before early "
            f"stopping: {listed}. This compares arms at equal fine-tuning compute, which favours arms that converge "
            f"faster; raise --epochs (finetune.epochs) for an at-convergence comparison.")


def split_note(results: Results | dict) -> str | None:
    """Say plainly that a fixed split from a column is one train/test evaluation, not cross-validation."""
    results = Results.of(results)
    if results.split != "column":
        return None
    validation = (f"validation rows marked in `{results.validation_column}` or `valid` in the split column"
                  if results.validation_column else
                  "validation rows marked `valid` in the split column, otherwise carved from train")
    spread = ("There is no spread over folds, so no ± std; arms are compared by a paired bootstrap over the "
              "test examples." if results.repeats == 1 else
              f"± is the std over {results.repeats} fine-tuning repeats; arms are compared by a paired "
              "bootstrap over the test examples and the repeats.")
    return (f"Fixed split from column `{results.split_column}`: one train/test evaluation (a single \"fold\"), "
            f"not cross-validation; {validation}. {spread}")


def retrieval_lines(results: Results) -> list[str]:
    """Markdown for the top-k retrieval of test positives (second column from the first)."""
    rows = [{"arm": arm, **{k: f"{v:.3f}" for k, v in body.retrieval.items()
                            if k.startswith(("top", "random", "frequency")) and isinstance(v, float)},
             **against_chance(body.retrieval.get("top_1_vs_random"), "random"),
             **against_chance(body.retrieval.get("top_1_vs_frequency"), "frequency")}
            for arm, body in results.arms.items() if body.retrieval is not None]
    if not rows:
        return []
    return ["## Retrieval (encoder before fine-tuning)", "",
            "Each test positive's first sequence queries all distinct second sequences by cosine similarity (a "
            "clip encoder: tower to tower); top-k is the fraction whose own partner ranks in the top k (mean over "
            "folds). Chance: random_top_k = k/N; frequency_top_k, the best ranking that ignores the query (the "
            "most frequent partners first), which a random encoder can reach when partners are few and unequal.",
            "", pd.DataFrame(rows).to_markdown(index=False), ""]


def against_chance(tested: dict | None, chance: str) -> dict:
    """The column of top-1 − ``chance`` top-1 (corrected resampled t over folds), or none."""
    if not tested or tested.get("ci95") is None:
        return {}
    low, high = tested["ci95"]
    p = "—" if tested["p_value"] is None else f"{tested['p_value']:.3f}"
    return {f"top-1 − {chance} top-1 (95% CI, p)": f"{tested['delta_mean']:+.3f} [{low:+.3f}, {high:+.3f}], p={p}"}


def external_model_lines(results: Results) -> list[str]:
    """The note on ``model:PATH`` arms: not pretrained per fold, so the leakage counts above do not cover them."""
    models = results.external_models or {}
    if not models:
        return []
    listed = "; ".join(f"`{name}` ({m.get('path') or m.get('package')})" for name, m in models.items())
    return [f"Models brought to the run ({listed}) were not pretrained on its folds: the leakage accounting above "
            "does not apply to them. Whether their pretraining data contained this data set's test sequences is "
            "for their authors to state.", ""]


def tuning_lines(results: Results) -> list[str]:
    """Markdown: how fine-tuning was repeated (``finetune.repeats``) and which settings the search
    (``finetune.search``) chose per row and fold, with the validation value each candidate reached."""
    lines = []
    repeats = results.repeats
    if repeats > 1:
        spread = ("± is the std over the repeats" if results.n_folds == 1 else
                  "each fold's value is the mean over its repeats, ± the std of those means over folds")
        lines += [f"Fine-tuning repeated {repeats} times per fold and row, with the same {repeats} seeds for "
                  f"every arm (seqssl.evaluate.tuning); {spread}. Arms whose fit needs no seed (k-mers, "
                  "nearest neighbours) were fitted once.", ""]
    chosen = [{"row": arm, "fold": r["fold"], "chosen": settings_text(r["search"]["chosen"]),
               "validation": " · ".join(f"{settings_text(c['settings'])}: {c['best_val']:.3f}"
                                        for c in r["search"]["candidates"])}
              for arm, body in results.arms.items() for r in body.runs if "search" in r]
    if chosen:
        lines += ["## Fine-tuning settings chosen on the validation split", "",
                  "Every combination of `finetune.search` fitted per fold and row; the best validation value "
                  "chose (the test rows played no part).", "",
                  pd.DataFrame(chosen).to_markdown(index=False, disable_numparse=True), ""]
    return lines


def settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in settings.items())
