"""Arms that fine-tune a sequence encoder in each transfer mode: ``none`` (random initialisation) and one
arm per pretraining objective (pretrained per fold on a corpus free of that fold's test sequences)."""
from __future__ import annotations

import copy
import time

import torch

from ...models.encoder import SequenceEncoder, embed_dataset
from ...runtime import seed_everything
from ...train.checkpoint import latest_checkpoint
from ...train.memory import PeakMemory
from ...train.pretrain import build_pretrained_encoder
from ...transfer.modes import fit_in_mode
from ..embedding_map import embedding_map
from ..retrieval import pair_retrieval
from .base import Arm, FoldContext, RunContext, Unit, register_arm


class EncoderArm(Arm):
    """Shared by encoder arms: the fold's encoder (:meth:`encoder`), what is measured of it before
    fine-tuning (pair retrieval, the embedding map), then a copy fine-tuned per label fraction and mode."""

    uses_modes = True

    def tunable(self, mode):
        from ...transfer.modes import get_mode
        return mode is not None and get_mode(mode).trains

    def stochastic(self, mode):
        """Modes that train by gradient draw from the seed; a probe or knn on a fixed encoder does not."""
        return self.tunable(mode)

    def check_run(self, run, modes):
        from ...transfer.modes import get_mode
        return [lambda m=m: get_mode(m).check(run.task, run.data.encoded) for m in self.modes(modes, run.data)]

    def encoder(self, run: RunContext, fold: FoldContext) -> tuple[SequenceEncoder, dict]:
        raise NotImplementedError

    def prepare(self, run, fold):
        encoder, record = self.encoder(run, fold)
        data, cfg, test_idx = run.data, run.cfg, fold.split.test
        if len(cfg.data.columns) == 2 and run.task.binary:
            record["retrieval"] = self.retrieval(encoder, run, test_idx[data.fold_labels[test_idx] == 1])
        if fold.k == 0 and not run.task.per_token and cfg.crossval.embedding_map:
            test = data.encoded.subset(test_idx)
            record["embedding_map"] = embedding_map(embed_dataset(encoder, test, run.device),
                                                    run.task.colour_labels(test), fold.seed)
            encoder.train()
        return encoder, record

    def retrieval(self, encoder, run: RunContext, positives) -> dict:
        """Top-k retrieval of each test positive's second sequence from its first, before fine-tuning."""
        return pair_retrieval(encoder, run.data.rows, positives, run.data.tokenizer, run.cfg.model.max_length,
                              run.device)

    def fit(self, run, fold, unit: Unit, state):
        encoded, cfg = run.data.encoded, run.cfg
        assert unit.mode is not None  # encoder arms run once per transfer mode
        with PeakMemory(run.device) as memory:
            fitted = fit_in_mode(unit.mode, copy.deepcopy(state), encoded.subset(unit.fit_idx),
                                 encoded.subset(fold.split.val), unit.finetune(cfg.finetune), run.task,
                                 device=run.device, precision=cfg.precision, seed=unit.seed, progress=run.progress,
                                 desc=f"{unit.name} fold {fold.k}")
        scores = fitted.score(encoded.subset(fold.split.test))
        return scores, {**fitted.details, "mode": unit.mode, "peak_memory_mb": memory.peak_mb}


@register_arm
class NoPretraining(EncoderArm):
    """``none``: the same encoder, randomly initialised with the fold's seed."""

    name = "none"
    baseline_rank = 0

    def encoder(self, run, fold):
        seed_everything(fold.seed)
        return SequenceEncoder.build(run.cfg.model, run.data.tokenizer.vocab_size, len(run.data.columns)), {}


class PretrainedArm(EncoderArm):
    """An encoder pretrained with objective ``name`` on the fold's corpus (saved under
    ``out/encoders/NAME/fold_K``, resumable from its checkpoints)."""

    needs_corpus = True

    def __init__(self, objective: str):
        self.name = objective

    def check_run(self, run, modes):
        return [*super().check_run(run, modes), lambda: self.check_objective(run)]

    def check_objective(self, run) -> None:
        """The objective built around a small encoder of the run's shape: its settings are checked where it is
        constructed, so a wrong one is refused now rather than after the arms before it have run."""
        from ...config import ModelConfig
        from ...objectives import build_objective
        cfg = with_objective(run.cfg, self.name)
        tiny = ModelConfig(hidden_size=8, num_layers=1, num_heads=1, intermediate_size=8,
                           architecture=cfg.model.architecture, max_length=cfg.model.max_length or 64,
                           pooling=cfg.model.pooling)
        vocab = run.data.tokenizer.vocab_size
        with torch.random.fork_rng():  # the check draws no number the run's own seeds would see
            build_objective(self.name, SequenceEncoder.build(tiny, vocab, len(run.data.columns)), cfg.pretrain,
                            vocab)

    def corpus(self, run: RunContext, fold: FoldContext) -> tuple[object, dict]:
        """What the objective pretrains on in ``fold`` (default: the fold's corpus) and what to record of it."""
        return fold.corpus, {}

    def encoder(self, run, fold):
        start = time.time()
        directory = run.out / "encoders" / self.name / f"fold_{fold.k}"
        checkpoints = directory / "checkpoints"
        corpus, record = self.corpus(run, fold)
        encoder, history = build_pretrained_encoder(
            corpus, with_objective(run.cfg, self.name), run.data.tokenizer, device=run.device, seed=fold.seed,
            desc=f"{self.name} fold {fold.k}", checkpoint_dir=checkpoints,
            resume=run.resume and latest_checkpoint(checkpoints) is not None)
        encoder.save(directory, run.data.tokenizer, meta={"objective": self.name, "fold": fold.k,
                                                          "corpus_size": len(corpus),
                                                          "removed_test_sequences": fold.removed})
        return encoder, {**record, "pretrain_seconds": time.time() - start, "pretrain_history": history}


def with_objective(cfg, objective: str):
    """The config of one arm's pretraining; positives that make pairs apply to two-view objectives only
    (MLM and RTD would build the pairs and ignore them)."""
    from ...objectives import objective_class
    arm_cfg = copy.deepcopy(cfg)
    arm_cfg.pretrain.objective = objective
    if not objective_class(objective).uses_positive_pairs:
        arm_cfg.pretrain.positives = "augment"
    return arm_cfg
