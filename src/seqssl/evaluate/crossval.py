"""K-fold cross-validation of every arm on the same folds (or one fixed train/test split read from a
column, ``--split column``): the loop over folds and arms (:mod:`seqssl.evaluate.arms`). The folds and
what each fold's pretraining may see are planned in :mod:`seqssl.evaluate.folds`; every arm sees the same
folds and seeds, and each (fold, row) part is stored as it finishes so a killed run resumes."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..config import task_name
from ..data.v_genes import cdr_column_names
from ..errors import Problems, TrainingStopped, check_all
from ..io import atomic_write_text, output_directory
from ..lengths import size_to_data
from ..runs import new_run_id
from ..runtime import configure_process, resolve_device
from ..tasks import get_task
from ..tasks.labelled import LabelledData, load_labelled, named_test_sets
from ..train.pretrain import initial_model
from .arms import Arm, FoldContext, RunContext, Unit, baselines_of, reads_molecules, resolve_arms
from .bootstrap import REPEAT, mean_metrics
from .folds import deduplicated_test, extra_corpus, fold_corpus, plan_folds
from .parts import PartStore
from .results import PER_ARM_ONLY, assemble_results, fold_metrics, primary_metric
from .rows import arm_label, label_subset
from .schema import Results
from .tuning import Fit, fit_tuned
from .workers import part_id, resolve_jobs, run_parts_in_workers


@dataclass
class PreparedRun:
    """What a cross-validation reads, plans and checks before any fold runs: the same in the main process and
    in every worker (:mod:`seqssl.evaluate.workers`), so that all of them see the same rows, folds and corpus.
    ``cache``: what the checks loaded that the arms reuse (a ``model:PATH`` arm's model and tokens)."""

    arms: list[Arm]
    data: LabelledData
    folds: list
    split: str
    val_from_column: bool
    extra: object
    cache: dict


def prepare_run(cfg) -> PreparedRun:
    """Resolve the arms, read the labelled data (with the tokenizer of ``pretrain.init``), plan the folds,
    read the extra pretraining corpus if an arm pretrains, size the model to the data, and check every arm and
    mode against the data: all before the first fold, every problem reported at once (:func:`check_all`)."""
    from ..plugins import load_plugins
    load_plugins(cfg.plugins)  # (again in a --jobs worker: a fresh interpreter)
    task = get_task(task_name(cfg.data))
    problems = Problems()  # every problem found before the first fold, raised together
    arms = resolve_arms(list(cfg.crossval.arms), task, problems)
    problems.check(lambda: primary_metric(cfg, task))
    configure_process(cfg.threads, cfg.quiet)
    _, own_tokenizer = problems.must(lambda: initial_model(cfg))  # pretrain.init: its tokenizer reads the data
    data = problems.must(lambda: load_labelled(
        cfg, own_tokenizer, molecular=reads_molecules(cfg.data, arms)))
    folds, split, val_from_column = problems.must(lambda: plan_folds(cfg, data))
    extra = problems.must(lambda: extra_corpus(cfg, data.tokenizer) if any(a.needs_corpus for a in arms) else None)
    size_to_data(cfg.model, data.encoded.lengths(), [] if extra is None else extra.encoded.lengths())
    checking = RunContext(cfg, data, resolve_device(cfg.device), Path(cfg.out or "."), progress=False)
    modes = list(cfg.crossval.modes) or [cfg.finetune.mode]
    check_all([check for arm in arms for check in arm.check_run(checking, modes)], problems)
    return PreparedRun(arms, data, folds, split, val_from_column, extra, checking.cache)


@dataclass
class Finished:
    """A finished cross-validation: its :class:`Results` (written as results.json), the per-example
    predictions (predictions.csv), the t-SNE points of each arm's encoder before fine-tuning, and the output
    directory: what :func:`seqssl.report.write_report` draws the report from."""
    results: Results
    predictions: pd.DataFrame
    maps: dict
    out: Path


def run_crossval(cfg, resume: bool = False) -> Finished:
    """Cross-validate ``cfg.crossval.arms``; write results.json and predictions.csv (the report is drawn from
    them by :mod:`seqssl.report`).
    ``resume``: reuse the finished (fold, arm) parts of an earlier run in ``cfg.out`` and continue a
    cut-off pretraining from its last checkpoint (see :mod:`seqssl.evaluate.parts`). With
    ``crossval.jobs`` > 1 the parts run in worker processes first (:mod:`seqssl.evaluate.workers`) and this
    process gathers them."""
    start_all = time.time()
    out = output_directory(cfg.out)
    run_id, date = new_run_id(out)
    prepared = prepare_run(cfg)
    arms, data, folds, extra = prepared.arms, prepared.data, prepared.folds, prepared.extra
    out.mkdir(parents=True, exist_ok=True)  # the data and folds are good: now the run starts writing
    store = PartStore(out, cfg.to_dict(), resume)
    atomic_write_text(out / "config.yaml", cfg.to_yaml())
    table = RowTable(cfg, arms, data)
    jobs = resolve_jobs(cfg)
    resumed = resume
    if cfg.crossval.executor == "ray" or jobs > 1:
        if cfg.crossval.executor == "ray":
            from .ray_parts import run_parts_on_ray
            run_parts_on_ray(run_part_in_worker, cfg, prepared, table.units, resume)
        else:
            run_parts_in_workers(run_part_in_worker, cfg, prepared, table.units, resume, jobs)
        table.check_all_stored(store, len(folds), arms)
        resume = True  # every part is on disk now: the loop below gathers them
    run = RunContext(cfg, data, resolve_device(cfg.device), out, resume, progress=not cfg.quiet,
                     cache=prepared.cache)
    outer = tqdm(total=len(folds) * len(table.names), desc="crossval", disable=cfg.quiet, unit="arm")
    leakage = []
    for k, (train_all, fold_split) in enumerate(folds):
        fold, record = make_fold(run, k, train_all, fold_split, extra, arms)
        leakage.append({**record, "val_from": "column" if prepared.val_from_column else "carved"})
        for arm in arms:
            table.run_arm(run, fold, arm, store, outer)
    outer.close()
    results = assemble_results(cfg, data.task, table.metrics, table.runs, [reorder(r) for r in leakage],
                               prepared.split, time.time() - start_all + earlier_wall(out, table, resumed),
                               baselines_of(arms), table.predictions,
                               data.negative_types, data.encoded.group_keys)
    results["run_id"], results["date"] = run_id, date
    external = {arm.name: arm.provenance() for arm in arms if arm.provenance() is not None}
    if external:
        results["external_models"] = external
    return write_outputs(results, data, table, out)


def earlier_wall(out: Path, table: RowTable, resume: bool) -> float:
    """The seconds the sessions before a resume spent: a finished run's wall time (its results.json), else the
    seconds of the parts this session reused (``0`` for a fresh run), so that wall times add up."""
    if not resume:
        return 0.0
    finished = out / "results.json"
    if finished.exists():
        return float(json.loads(finished.read_text()).get("wall_seconds", 0.0))
    return table.reused_seconds


# a worker's prepared run (:func:`run_part_in_worker`), read once per process and reused for every part it is given
_WORKER_RUN: dict = {}


def run_part_in_worker(cfg, k: int, arm_index: int, resume: bool, prepared: PreparedRun | None = None) -> None:
    """In a worker process (:mod:`seqssl.evaluate.workers`), or as one job (``--part``, :mod:`.jobs`, with its
    ``prepared`` run): run fold ``k`` of arm ``arm_index`` (each of its label fractions and modes) and store its
    parts where the gathering process will read them."""
    key = cfg.to_yaml()
    if prepared is None:
        if _WORKER_RUN.get("key") != key:
            _WORKER_RUN.update(key=key, prepared=prepare_run(cfg))
        prepared = _WORKER_RUN["prepared"]
    arm = prepared.arms[arm_index]
    out = output_directory(cfg.out)
    run = RunContext(cfg, prepared.data, resolve_device(cfg.device), out, resume, progress=False,
                     cache=prepared.cache)
    train_all, split = prepared.folds[k]
    fold, _ = make_fold(run, k, train_all, split, prepared.extra, [arm])
    store = PartStore(out, cfg.to_dict(), resume=True)  # config.yaml was checked and written by the main process
    RowTable(cfg, prepared.arms, prepared.data).run_arm(run, fold, arm, store)


def reorder(record: dict) -> dict:
    """A fold's leakage record with its keys in the order results.json has always had them."""
    first = ("fold", "train", "val", "val_from", "test", "pretrain_corpus", "pretrain_removed_test_sequences",
             "pretrain_removed_test_labels")
    return {**{k: record[k] for k in first}, **{k: v for k, v in record.items() if k not in first}}


def make_fold(run: RunContext, k: int, train_all, split, extra, arms: list[Arm]) -> tuple[FoldContext, dict]:
    """The fold's context (test duplicates dropped if asked, the pretraining corpus if an arm pretrains) and
    its leakage record."""
    split, duplicates = deduplicated_test(run.cfg, run.data, train_all, split)
    corpus, removed, removed_labels = None, 0, 0
    if any(a.needs_corpus for a in arms):
        corpus, removed, removed_labels = fold_corpus(run.data, extra, train_all, split.test,
                                                      frozenset(cdr_column_names(run.cfg.data.v_gene_columns)))
    record = {"fold": k, "train": int(len(split.train)), "val": int(len(split.val)), "test": int(len(split.test)),
              "pretrain_corpus": None if corpus is None else len(corpus),
              "pretrain_removed_test_sequences": removed, "pretrain_removed_test_labels": removed_labels,
              **duplicates}
    return FoldContext(k, run.cfg.seed + k, split, train_all, corpus, removed), record


class RowTable:
    """The rows of the results table (arm × label fraction × mode) and what each has gathered per fold."""

    def __init__(self, cfg, arms: list[Arm], data: LabelledData | None = None):
        self.fractions = sorted(set(cfg.crossval.label_fractions))
        self.modes = list(cfg.crossval.modes) or [cfg.finetune.mode]
        self.arm_modes = {arm.name: arm.modes(self.modes, data) for arm in arms}
        self.units = {arm.name: [(f, mode) for f in self.fractions for mode in self.arm_modes[arm.name]]
                      for arm in arms}
        self.names = [self.label(a, f, m) for a, units in self.units.items() for f, m in units]
        self.metrics: dict[str, list] = {name: [] for name in self.names}
        self.runs: dict[str, list] = {name: [] for name in self.names}
        self.predictions: list[pd.DataFrame] = []
        self.reused_seconds = 0.0  # what the parts reused from an earlier session had cost

    def check_all_stored(self, store: PartStore, folds: int, arms: list[Arm]) -> None:
        """After other processes ran the parts: every row of every fold on disk, else stop naming the parts
        missing (rather than computing them here unannounced)."""
        missing = [part_id(k, arm.name) for arm in arms for k in range(folds)
                   if not all(store.has(k, self.label(arm.name, f, m)) for f, m in self.units[arm.name])]
        if missing:
            raise TrainingStopped(f"{len(missing)} parts were not written by the workers: {', '.join(missing[:10])}",
                                  path=str(store.root), fix="run again with --resume (or run those parts with --part)")

    def label(self, arm: str, fraction: float, mode: str | None) -> str:
        return arm_label(arm, fraction, self.fractions, mode, self.arm_modes[arm])

    def add(self, name: str, metrics: dict, info: dict, predictions: pd.DataFrame) -> None:
        self.metrics[name].append(metrics)
        self.runs[name].append(info)
        self.predictions.append(predictions)

    def run_arm(self, run: RunContext, fold: FoldContext, arm: Arm, store: PartStore, outer=None) -> None:
        """Every row of ``arm`` in ``fold``: its shared work (pretraining) once, then each fraction and mode.
        An arm's cost is its shared work (timed with its first row, added to each later row) + its own fit."""
        state, shared = None, None
        assert fold.split.test is not None  # every evaluation fold has test rows
        for fraction, mode in self.units[arm.name]:
            name = self.label(arm.name, fraction, mode)
            done = store.load(fold.k, name) if run.resume else None
            if done is not None and store.from_earlier_session(fold.k, name):
                self.reused_seconds += float(done[1].get("seconds", 0.0))
            if done is None:
                started, first = time.time(), shared is None
                if first:
                    state, shared = arm.prepare(run, fold)
                assert shared is not None  # prepared with this arm's first row
                unit = Unit(name, fraction, mode, label_subset(fold.split.train, run.data.fold_labels, fraction,
                                                               fold.seed, run.task.stratified), fold.seed)
                fits, info = self.fit_unit(run, fold, arm, unit, state, shared if first else
                                           {k: v for k, v in shared.items() if k not in PER_ARM_ONLY})
                info["seconds"] = time.time() - started + (0.0 if first else info.get("pretrain_seconds", 0.0))
                done = self.scored(run, fold, name, fits, info)
                store.save(fold.k, name, *done)
            self.add(name, *done)
            if outer is not None:
                outer.update(1)

    def fit_unit(self, run, fold, arm: Arm, unit: Unit, state, shared: dict) -> tuple[list[Fit], dict]:
        """Fit one row in one fold, searched and repeated as ``finetune`` asks (:mod:`.tuning`): the fits and
        the run record (the first fit's details)."""
        info: dict = {"fold": fold.k, **({"label_fraction": unit.fraction, "n_fit": int(len(unit.fit_idx))}
                                         if len(self.fractions) > 1 else {})}
        info.update(shared)
        fits, record = fit_tuned(arm, run.cfg, unit, lambda u: arm.fit(run, fold, u, state))
        info.update(fits[0].details)
        info.update(record)
        return fits, info

    def scored(self, run, fold, name: str, fits: list[Fit], info: dict) -> tuple[dict, dict, pd.DataFrame]:
        """The fold's metrics of one row (the mean over its repeats; each repeat's kept in ``info``), its run
        record and its prediction rows (a ``repeat`` column when the run repeats fine-tuning)."""
        test = run.data.encoded.subset(fold.split.test)
        scored = [self.score(run, fold, test, f.scores) for f in fits]
        rows = [run.task.prediction_rows(test, fold.split.test, fold.k, name, f.scores) for f in fits]
        if run.cfg.finetune.repeats > 1:
            rows = [frame.assign(**{REPEAT: r}) for r, frame in enumerate(rows)]
            info["repeats"] = [metrics for metrics, _ in scored]
        metrics = mean_metrics([m for m, _ in scored]) if len(fits) > 1 else scored[0][0]
        return metrics, {**info, **scored[0][1]}, pd.concat(rows, ignore_index=True)

    def score(self, run, fold, test, scores) -> tuple[dict, dict]:
        """The fold's metrics of one row (per negative type and per group too, when the data has them), and
        the counts of groups scored and skipped."""
        types = run.data.negative_types
        test_sets = test_set_of_rows(run, fold.split.test)
        if test_sets is not None and test.token_labels is not None:  # token tasks: one target per labelled residue
            test_sets = test_sets[test.target_positions()[0]]
        return fold_metrics(run.task, test.targets(), scores, None if types is None else types[fold.split.test],
                            test.meta.get("targets"), test.group_keys, test_sets)


def test_set_of_rows(run, test: np.ndarray) -> np.ndarray | None:
    """The named test set of each test row (``test:NAME`` in the split column), or ``None`` for one plain set."""
    sets = named_test_sets(run.cfg, run.data, test)
    if not sets:
        return None
    names = np.empty(len(test), dtype=object)
    for name, rows in sets.items():
        names[np.isin(test, rows)] = name
    return names


def write_outputs(results: dict, data: LabelledData, table: RowTable, out: Path) -> Finished:
    """results.json and predictions.csv."""
    for key in ("classes", "targets", "invalid_smiles_skipped", "v_genes_skipped", "truncated_rows"):
        if key in data.encoded.meta:
            results[key] = data.encoded.meta[key]
    predictions = pd.concat(table.predictions)
    predictions.to_csv(out / "predictions.csv", index=False)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1))
    maps = {name: r["embedding_map"] for name in table.runs for r in table.runs[name] if "embedding_map" in r}
    return Finished(Results.from_dict(results), predictions, maps, out)
