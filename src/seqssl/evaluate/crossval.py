"""K-fold cross-validation of pretraining arms against no pretraining and a k-mer baseline (for token
tasks, a residue-window baseline), or one fixed train/test split read from a column (``--split column``).

Per fold: carve a validation split from the training fold (grouped like the folds); build the
pretraining corpus from the unlabelled corpora stripped of every test-fold sequence (and, for labelled
corpora under a grouped split, of the test fold's group labels) plus the training fold's own rows;
pretrain, fine-tune with early stopping, and score the untouched test fold. Every arm sees the same
folds and seeds.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..api import _fasta_default, build_pretrained_encoder, default_split_for, fixed_split, fold_labels, labelled_table
from ..config import Config
from ..data.corpus import Corpus, load_corpus
from ..data.dataset import BINARY_OUTPUT_TASKS, CLASSIFICATION_TASKS, MULTILABEL_TASK, TOKEN_TASK
from ..data.readers import expand_paths
from ..data.splits import carve_validation, make_folds
from ..errors import InputError
from ..io import atomic_write_text, versions
from ..models.encoder import SequenceEncoder
from ..objectives import OBJECTIVES
from ..runtime import resolve_device, seed_everything, set_threads
from ..train.memory import PeakMemory
from ..transfer.fingerprint import fit_fingerprint_baseline
from ..transfer.finetune import fine_tune, predict
from ..transfer.graph import fit_graph_model, predict_graphs
from ..transfer.kmer import fit_kmer_baseline
from ..transfer.lora import with_lora
from ..transfer.probe import fit_probe
from ..transfer.window import fit_window_baseline
from ..train.checkpoint import latest_checkpoint
from ..models.encoder import embed_dataset
from .arms import (BASELINE_ARMS, GRAPH_ARMS, MOLECULE_ARMS, arm_label, arm_modes, baseline_labels,
                   label_subset, split_label)
from .embedding_map import embedding_map
from .leakage import duplicate_report, sequence_key
from .metrics import PRIMARY_METRIC, task_metrics
from .parts import PartStore
from .report import write_report
from .stats import mean_std, paired_comparison

PER_ARM_ONLY = ("pretrain_history", "embedding_map")  # kept in the parts and plotted, not in results.json
COMPARED_WITH = BASELINE_ARMS + ("ecfp",)  # every other arm is compared with each of these present


def validate_arms(arms: list[str]) -> None:
    for arm in arms:
        if arm not in BASELINE_ARMS and arm not in OBJECTIVES and arm not in MOLECULE_ARMS:
            raise InputError(f"unknown arm '{arm}'",
                             fix=f"use none, kmer, ecfp, gcn, gat or an objective: {', '.join(sorted(OBJECTIVES))}")
    if len(set(arms)) != len(arms):
        raise InputError(f"an arm is listed twice in {arms}")


def fold_metrics(task: str, y_true, y_score, neg_types: np.ndarray | None, targets: list[str] | None = None) -> dict:
    """Overall metrics, plus ``METRIC@TYPE`` on positives + negatives of each type (multilabel:
    ``METRIC@TARGET`` per target)."""
    out = {k: v for k, v in task_metrics(task, y_true, y_score, targets).items()
           if k not in ("n", "undefined_reason")}
    if neg_types is not None:
        for kind in sorted(set(neg_types) - {""}):
            keep = (neg_types == kind) | (neg_types == "")
            sub = task_metrics(task, y_true[keep], y_score[keep])
            out.update({f"{k}@{kind}": v for k, v in sub.items() if k not in ("n", "undefined_reason")})
    return out


def _corpus_extra(cfg: Config, tokenizer) -> Corpus | None:
    if not cfg.data.pretrain_data:
        return None
    columns = cfg.data.pretrain_columns or cfg.data.columns[:1]
    parts = [load_corpus(p, _fasta_default(columns, p), tokenizer, cfg.model.max_length,
                         cfg.data.pretrain_label_column, cfg.data.too_long)
             for path in cfg.data.pretrain_data for p in expand_paths(path)]
    return Corpus.concat(parts)


def run_crossval(cfg: Config, resume: bool = False) -> dict:
    """``resume``: reuse the finished (fold, arm) parts of an earlier run in ``cfg.out`` and continue a
    cut-off pretraining from its last checkpoint (see :mod:`seqssl.evaluate.parts`)."""
    start_all = time.time()
    if not cfg.out:
        raise InputError("no output directory", fix="pass --out DIR")
    arms = list(cfg.crossval.arms)
    validate_arms(arms)
    set_threads(cfg.threads)
    device = resolve_device(cfg.device)
    task = cfg.data.task
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    store = PartStore(out, cfg.to_dict(), resume)
    atomic_write_text(out / "config.yaml", cfg.to_yaml())

    table, rows, encoded, tokenizer = labelled_table(cfg)
    labels = fold_labels(encoded)  # one per example, for splitting
    targets = encoded.labels  # what the models fit (a matrix for multilabel)
    stratify = task in BINARY_OUTPUT_TASKS
    if any(a in MOLECULE_ARMS for a in arms) and task == TOKEN_TASK:
        raise InputError("gcn, gat and ecfp predict per molecule, not per token", fix="drop them from --arms")
    graphs = molecule_graphs([r[0] for r in rows], cfg.crossval.bond_angles, progress=not cfg.quiet) \
        if any(a in GRAPH_ARMS for a in arms) else None
    groups = None
    if default_split_for(cfg) == "scaffold":
        from ..data.splits import scaffold_groups
        groups = scaffold_groups([r[0] for r in rows])
    elif cfg.data.group_column:
        if cfg.data.group_column not in table.frame.columns:
            raise InputError(f"missing column '{cfg.data.group_column}' (--group-column)", path=table.path)
        groups = table.frame[cfg.data.group_column].astype(str).str.upper().to_numpy()
    neg_types = None
    if cfg.data.negative_type_column and task == TOKEN_TASK:
        raise InputError("--negative-type-column is for per-sequence tasks, not token-classification")
    if cfg.data.negative_type_column:
        if cfg.data.negative_type_column not in table.frame.columns:
            raise InputError(f"missing column '{cfg.data.negative_type_column}' (--negative-type-column)",
                             path=table.path)
        neg_types = table.frame[cfg.data.negative_type_column].fillna("").astype(str).str.strip().to_numpy()
    split = default_split_for(cfg)
    fixed = fixed_split(cfg, table)
    if fixed is None:
        folds = make_folds(cfg.crossval.folds, labels, groups, split, cfg.seed, stratify)
    else:  # one "fold": the file's own train (+ validation) rows against its test rows
        folds = [(np.sort(np.concatenate([fixed[0]] + ([fixed[2]] if fixed[2] is not None else []))), fixed[1])]
    extra = _corpus_extra(cfg, tokenizer) if any(a in OBJECTIVES for a in arms) else None
    if extra is not None:
        extra = extra.deduplicated()

    fractions = sorted(set(cfg.crossval.label_fractions))
    modes = list(cfg.crossval.modes) or [cfg.finetune.mode]
    units = [(arm, f, mode) for arm in arms for f in fractions for mode in arm_modes(arm, modes)]
    names = [arm_label(arm, f, fractions, mode, modes) for arm, f, mode in units]
    per_arm = {name: [] for name in names}
    runs = {name: [] for name in names}
    predictions, leakage = [], []
    progress = not cfg.quiet
    outer = tqdm(total=len(folds) * len(names), desc="crossval", disable=not progress, unit="arm")
    for k, (train_idx, test_idx) in enumerate(folds):
        seed = cfg.seed + k
        if fixed is not None and fixed[2] is not None:
            fit_idx, val_idx = fixed[0], fixed[2]
        else:
            fit_idx, val_idx = carve_validation(train_idx, labels, groups, cfg.finetune.val_fraction, seed, stratify)
        duplicates, exact = duplicate_report(rows, train_idx, test_idx,
                                             sequence_key(getattr(tokenizer, "case_sensitive", False)),
                                             cfg.data.columns)
        if cfg.crossval.remove_duplicates:  # exact duplicates of a training row leave the test fold
            test_idx = test_idx[~exact]
        duplicates["removed_from_test"] = int(exact.sum()) if cfg.crossval.remove_duplicates else 0
        val, test = encoded.subset(val_idx), encoded.subset(test_idx)
        test_sequences = {s for i in test_idx for s in rows[i]}
        corpus, removed, removed_labels = None, 0, 0
        if any(a in OBJECTIVES for a in arms):
            train_part = Corpus([rows[i] for i in train_idx], encoded.subset(train_idx),
                                case_sensitive=getattr(tokenizer, "case_sensitive", False))
            parts = [train_part]
            if extra is not None:
                clean, removed = extra.without(test_sequences)
                if groups is not None and clean.labels is not None:
                    # grouped by what the corpus labels name (e.g. peptide vs epitope): held-out groups'
                    # labels must not teach the encoder either
                    clean, removed_labels = clean.without_labels(set(groups[test_idx]))
                parts.insert(0, clean)
            corpus = Corpus.concat(parts).deduplicated()
        leakage.append({"fold": k, "train": int(len(fit_idx)), "val": int(len(val_idx)),
                        "val_from": "column" if fixed is not None and fixed[2] is not None else "carved",
                        "test": int(len(test_idx)), "pretrain_corpus": None if corpus is None else len(corpus),
                        "pretrain_removed_test_sequences": removed,
                        "pretrain_removed_test_labels": removed_labels, **duplicates})
        encoder_arm, base_encoder, shared = None, None, {}
        for arm, fraction, mode in units:
            if arm != encoder_arm:  # pretrained once per (fold, arm), copied for each label fraction and mode
                encoder_arm, base_encoder, shared = arm, None, {}
            name = arm_label(arm, fraction, fractions, mode, modes)
            done = store.load(k, name) if resume else None
            if done is not None:
                per_arm[name].append(done[0])
                runs[name].append(done[1])
                predictions.append(done[2])
                outer.update(1)
                continue
            t0 = time.time()
            sub_idx = label_subset(fit_idx, labels, fraction, seed, stratify)
            info: dict = {"fold": k, **({"label_fraction": fraction, "n_fit": int(len(sub_idx))}
                                        if len(fractions) > 1 else {})}
            sub = encoded.subset(sub_idx)
            if arm == "ecfp":
                smiles = [r[0] for r in rows]
                model, details = fit_fingerprint_baseline([smiles[i] for i in sub_idx], targets[sub_idx],
                                                          [smiles[i] for i in val_idx], targets[val_idx], task,
                                                          seed)
                scores = model.predict([smiles[i] for i in test_idx])
                info.update(details)
            elif arm in GRAPH_ARMS:
                model, details = fit_graph_model(
                    arm, [graphs[i] for i in sub_idx], targets[sub_idx], [graphs[i] for i in val_idx],
                    targets[val_idx], cfg.finetune, task, device=device, seed=seed, loss=cfg.finetune.loss,
                    focal_alpha=cfg.finetune.focal_alpha, focal_gamma=cfg.finetune.focal_gamma,
                    progress=progress, desc=f"{name} fold {k}",
                    model_kwargs={"hidden": cfg.crossval.gnn_hidden, "layers": cfg.crossval.gnn_layers,
                                  "heads": cfg.crossval.gnn_heads, "dropout": cfg.crossval.gnn_dropout})
                scores = predict_graphs(model, [graphs[i] for i in test_idx], task, device)
                info.update(details)
            elif arm == "kmer" and task == TOKEN_TASK:
                model, details = fit_window_baseline(sub, val, tokenizer.vocab_size, cfg.crossval.kmer_window,
                                                     seed)
                scores = model.predict(test)
                info.update(details)
            elif arm == "kmer":
                model, details = fit_kmer_baseline([rows[i] for i in sub_idx], targets[sub_idx],
                                                   [rows[i] for i in val_idx], targets[val_idx], task,
                                                   cfg.crossval.kmer_max_k, seed,
                                                   getattr(tokenizer, "case_sensitive", False))
                scores = model.predict([rows[i] for i in test_idx])
                info.update(details)
            else:
                if base_encoder is None:
                    base_encoder, shared = _arm_encoder(arm, cfg, k, seed, corpus, removed, tokenizer, device,
                                                        out, resume)
                    if len(cfg.data.columns) == 2 and task in CLASSIFICATION_TASKS:
                        shared["retrieval"] = pair_retrieval(base_encoder, rows, test_idx[labels[test_idx] == 1],
                                                             tokenizer, cfg.model.max_length, device)
                    if k == 0 and task != TOKEN_TASK and cfg.crossval.embedding_map:
                        shared["embedding_map"] = embedding_map(embed_dataset(base_encoder, test, device),
                                                                labels[test_idx] if task == MULTILABEL_TASK
                                                                else targets[test_idx], seed)
                        base_encoder.train()
                    info.update(shared)  # pretraining history, retrieval, embedding map: recorded once
                else:
                    info.update({key: v for key, v in shared.items() if key not in PER_ARM_ONLY})
                shared_encoder = len(fractions) * len(modes) > 1
                scores, details, peak = fit_encoder_arm(copy.deepcopy(base_encoder) if shared_encoder else base_encoder,
                                                 mode, sub, val, test, cfg, task, device, seed, progress,
                                                 f"{name} fold {k}")
                info.update(details, mode=mode, peak_memory_mb=peak)
            # an arm's total cost: its pretraining (done once, shared by its label fractions and modes) + its own fit
            reused = "pretrain_history" not in info  # the pretraining was timed in an earlier unit
            info["seconds"] = time.time() - t0 + (info.get("pretrain_seconds", 0.0) if reused else 0.0)
            per_arm[name].append(fold_metrics(task, test.targets(), scores,
                                              None if neg_types is None else neg_types[test_idx],
                                              encoded.meta.get("targets")))
            runs[name].append(info)
            predictions.append(prediction_rows(test, test_idx, k, name, scores))
            store.save(k, name, per_arm[name][-1], info, predictions[-1])
            outer.update(1)
    outer.close()
    results = assemble_results(cfg, per_arm, runs, leakage, split, time.time() - start_all)
    for key in ("classes", "targets", "invalid_smiles_skipped"):
        if key in encoded.meta:
            results[key] = encoded.meta[key]
    pd.concat(predictions).to_csv(out / "predictions.csv", index=False)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1))
    maps = {name: r["embedding_map"] for name in runs for r in runs[name] if "embedding_map" in r}
    write_report(results, out, pd.concat(predictions), maps)
    return results


def molecule_graphs(smiles: list[str], bond_angles: bool, progress: bool) -> list:
    """RDKit graphs of the (already validated) SMILES, once per run for every graph arm and fold."""
    from ..data.molecules import mol_to_graph, parse_smiles
    return [mol_to_graph(parse_smiles(s), bond_angles=bond_angles)
            for s in tqdm(smiles, desc="molecular graphs", disable=not progress, unit="mol", leave=False)]


def fit_encoder_arm(encoder, mode: str, sub, val, test, cfg: Config, task: str, device, seed: int, progress: bool,
                    desc: str) -> tuple[np.ndarray, dict, float]:
    """Fit one encoder arm on ``sub`` (early stopping on ``val``) in ``mode`` and score ``test``:
    (scores, run details, peak memory in MB)."""
    with PeakMemory(device) as memory:
        if mode == "probe":
            model, details = fit_probe(encoder, sub, val, task, device=device, seed=seed)
        else:
            if mode == "lora":
                encoder = with_lora(encoder, cfg.finetune)
            model, details = fine_tune(encoder, sub, val, cfg.finetune, task, device=device,
                                       precision=cfg.precision, seed=seed, progress=progress, desc=desc)
    scores = model.predict(test) if mode == "probe" else predict(model, test, task, device, precision=cfg.precision)
    return scores, details, memory.peak_mb


def _arm_encoder(arm: str, cfg: Config, k: int, seed: int, corpus, removed: int, tokenizer, device, out: Path,
                 resume: bool):
    """The encoder an arm fine-tunes in fold ``k``: random (``none``) or pretrained on the fold's corpus
    (saved under ``out/encoders/ARM/fold_K``, resumable from its checkpoints); plus what to record."""
    if arm == "none":
        seed_everything(seed)
        return SequenceEncoder.build(cfg.model, tokenizer.vocab_size), {}
    start = time.time()
    checkpoints = out / "encoders" / arm / f"fold_{k}" / "checkpoints"
    encoder, history = build_pretrained_encoder(
        corpus, _with_objective(cfg, arm), tokenizer, device=device, seed=seed, desc=f"{arm} fold {k}",
        checkpoint_dir=checkpoints, resume=resume and latest_checkpoint(checkpoints) is not None)
    encoder.save(out / "encoders" / arm / f"fold_{k}", tokenizer,
                 meta={"objective": arm, "fold": k, "corpus_size": len(corpus), "removed_test_sequences": removed})
    return encoder, {"pretrain_seconds": time.time() - start, "pretrain_history": history}


def prediction_rows(test, test_idx: np.ndarray, fold: int, arm: str, scores: np.ndarray) -> pd.DataFrame:
    """``row, fold, arm, y_true, y_score`` per test example (multilabel: per measured target, with a
    ``target`` column); for token tasks one row per labelled residue:
    ``row, position`` (1-based residue), ``fold, arm, y_true, y_pred`` (class characters) and ``y_score``
    (the predicted class's probability)."""
    if test.labels is not None and test.labels.ndim == 2:  # multilabel: one row per measured (input, target)
        example, target = np.nonzero(~np.isnan(test.labels))
        names = np.array(test.meta["targets"])
        return pd.DataFrame({"row": test_idx[example], "target": names[target], "fold": fold, "arm": arm,
                             "y_true": test.labels[example, target], "y_score": scores[example, target]})
    if test.token_labels is None:
        return pd.DataFrame({"row": test_idx, "fold": fold, "arm": arm, "y_true": test.labels, "y_score": scores})
    classes = np.array(test.meta["classes"])
    example, position = test.target_positions()
    predicted = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
    return pd.DataFrame({"row": test_idx[example], "position": position, "fold": fold, "arm": arm,
                         "y_true": classes[test.targets()], "y_pred": classes[predicted],
                         "y_score": scores.max(axis=1) if len(scores) else np.zeros(0)})


def pair_retrieval(encoder, rows: list[tuple], positives: np.ndarray, tokenizer, max_length: int, device) -> dict:
    """Top-k retrieval of each test positive's second sequence from its first, by the encoder
    before fine-tuning (pretrained or random); identical keys are one candidate."""
    from ..data.dataset import EncodedDataset
    from ..models.encoder import embed_dataset
    from .retrieval import top_k_accuracy

    def encode(column: int) -> EncodedDataset:
        encs = [tokenizer.encode(rows[i][column]) for i in positives]
        return EncodedDataset([e.input_ids[:max_length] for e in encs], [e.token_type_ids[:max_length] for e in encs])
    queries, keys = embed_dataset(encoder, encode(0), device), embed_dataset(encoder, encode(1), device)
    encoder.train()
    return top_k_accuracy(queries, keys, [1, 5, 100], key_ids=[rows[i][1].upper() for i in positives])


def _with_objective(cfg: Config, objective: str) -> Config:
    """The config of one arm's pretraining; positives that make pairs apply to two-view objectives only
    (MLM and RTD would build the pairs and ignore them)."""
    from ..objectives.contrastive import TwoViewObjective
    arm_cfg = copy.deepcopy(cfg)
    arm_cfg.pretrain.objective = objective
    if not issubclass(OBJECTIVES[objective], TwoViewObjective):
        arm_cfg.pretrain.positives = "augment"
    return arm_cfg


def assemble_results(cfg: Config, per_arm: dict, runs: dict, leakage: list, split: str, wall: float) -> dict:
    task = cfg.data.task
    primary = PRIMARY_METRIC[task]
    arms_out = {}
    for arm, folds in per_arm.items():
        keys = list(dict.fromkeys(k for f in folds for k in f))
        stats_ = {key: mean_std([f.get(key) for f in folds]) for key in keys}
        arms_out[arm] = {"folds": folds, "mean": {k: v[0] for k, v in stats_.items()},
                         "std": {k: v[1] for k, v in stats_.items()},
                         "runs": [{k: v for k, v in r.items() if k not in PER_ARM_ONLY} for r in runs[arm]],
                         "seconds": float(sum(r["seconds"] for r in runs[arm]))}
        retrieval = [r["retrieval"] for r in runs[arm] if "retrieval" in r]
        if retrieval:
            arms_out[arm]["retrieval"] = {k: float(np.mean([r[k] for r in retrieval])) for k in retrieval[0]}
    comparisons = []
    for base_name in COMPARED_WITH:
        for arm in per_arm:
            kind = split_label(arm)[0]
            if kind == base_name or \
                    (kind in COMPARED_WITH and COMPARED_WITH.index(kind) < COMPARED_WITH.index(base_name)):
                continue  # each baseline pair once (kmer − none, not also none − kmer)
            for baseline in baseline_labels(arm, base_name, per_arm):
                for metric in arms_out[arm]["mean"]:
                    comp = paired_comparison([f.get(metric) for f in per_arm[arm]],
                                             [f.get(metric) for f in per_arm[baseline]])
                    comparisons.append({"arm": arm, "baseline": baseline, "metric": metric, **comp})
    return {"task": task, "primary_metric": primary, "split": split, "n_folds": len(leakage),
            "split_column": cfg.data.split_column if split == "column" else None,
            "validation_column": cfg.data.validation_column if split == "column" else None,
            "arms": arms_out, "comparisons": comparisons, "leakage": leakage,
            "pretraining": {arm: [{"fold": r["fold"], "history": r.get("pretrain_history", [])} for r in runs[arm]]
                            for arm in runs if any("pretrain_history" in r for r in runs[arm])},
            "config": cfg.to_dict(), "versions": versions(), "seed": cfg.seed, "wall_seconds": wall}
