"""``seqssl demo``: SimCLR pretraining vs no pretraining vs k-mers on bundled TCR–peptide data."""
from __future__ import annotations

from .config import Config, load_config
from .data.builtin import builtin_path


def demo_overrides(quick: bool) -> dict:
    """The demo's settings; ``quick`` is a smoke-sized run (~2 minutes on 2 cores)."""
    o: dict[str, dict] = {
        "data": {"path": str(builtin_path("mira_binding")), "columns": ["cdr3_b_aa", "peptide"],
                 "label_column": "label", "task": "pair-classification", "group_column": "cdr3_b_aa",
                 "negative_type_column": "neg_type", "pretrain_data": [str(builtin_path("background_cdr3b"))],
                 "pretrain_columns": ["cdr3_b_aa"]},
        # jobs 0: (fold, arm) parts side by side, one process per core (seqssl.evaluate.workers): the demo's
        # encoder is too small to keep two cores busy in one process
        "crossval": {"arms": ["none", "simclr", "kmer"], "folds": 5, "split": "grouped", "jobs": 0},
        "pretrain": {"max_steps": 200},
        "model": {"max_length": 64}}  # the demo's fixed model (the README's table was measured with it)
    if quick:  # measured by benchmarks/time_budgets.py: under the 2-minute budget on 2 idle cores
        o["crossval"].update(folds=3, embedding_map=False)  # the t-SNE map costs ~10 s of a smoke run
        o["pretrain"] = {"max_steps": 30}
        o["finetune"] = {"epochs": 4, "patience": 2}
    return o


def demo_config(quick: bool = False, config_path: str | None = None, overrides: dict | None = None) -> Config:
    cfg = load_config(None, demo_overrides(quick))
    if config_path or overrides:
        from .config import _apply  # user settings on top of the demo's
        if config_path:
            user = load_config(config_path)
            _apply(cfg, _diff_from_default(user))
        if overrides:
            _apply(cfg, overrides)
    from .config import check_ranges
    check_ranges(cfg)
    return cfg


def _diff_from_default(cfg: Config) -> dict:
    default, mine = Config().to_dict(), cfg.to_dict()

    def diff(a, b):
        out = {}
        for k, v in b.items():
            if isinstance(v, dict) and isinstance(a.get(k), dict):
                sub = diff(a[k], v)
                if sub:
                    out[k] = sub
            elif a.get(k) != v:
                out[k] = v
        return out
    return diff(default, mine)
