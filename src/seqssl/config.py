"""One typed configuration for every command: dataclasses in, YAML (``safe_load``) in and out.

Precedence: defaults < ``--config FILE.yaml`` < command-line flags. Unknown keys and wrong types
raise :class:`~seqssl.errors.InputError` with the closest valid key.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .deprecated import old_keywords, renamed_key
from .errors import InputError
from .options import KINDS_OF_SECTION, declared, new_keys_text, old_keys, resolved
from .registry import REGISTERED
from .values import coerce as _coerce


@old_keywords("data")
@dataclass
class DataConfig:
    path: str | None = None
    columns: list[str] = field(default_factory=list)
    label_column: str | None = None
    task: str | None = None  # None: pair-classification for two or more sequence columns, else classification
    alphabet: str = "protein"  # protein | text (BPE trained on the corpus) | smiles (vocabulary fitted on it)
    bpe_vocab_size: int = 2000
    too_long: str = "error"  # error | truncate (sequences longer than model.max_length)
    stream: bool = False  # pretrain, finetune: tokenise once into a memory-mapped Arrow cache, read batches from disk
    cache_dir: str | None = None  # where --stream keeps tokenised corpora (default $SEQSSL_CACHE or ~/.cache/seqssl)
    block_rows: int = 65_536  # finetune --stream: rows read, checked and tokenised together
    jobs: int = 1  # finetune --stream: worker processes reading blocks (RDKit, tokenising) side by side
    unknown_residues: str = "error"  # error | map-to-x (protein; SMILES tokens outside the vocabulary: [UNK])
    pretrain_data: list[str] = field(default_factory=list)  # extra unlabelled corpora (crossval)
    pretrain_columns: list[str] = field(default_factory=list)  # their sequence column(s); default: columns[0]
    pretrain_label_column: str | None = None  # corpus column whose shared values make positives
    negative_column: str | None = None  # pretrain: corpus column of one explicit negative per entry (infonce, simclr)
    group_column: str | None = None
    negative_type_column: str | None = None  # report metrics per negative type (positives in each)
    token_labels: str | None = None  # token-classification: label FASTA matched to --data records by id
    token_classes: str | None = None  # token-classification: fixed class characters (default: those found)
    split_column: str | None = None  # fixed split: train / test (optional valid / validation) per row
    validation_column: str | None = None  # rows marked true here are the validation split (e.g. FLIP's)
    target_column: str | None = None  # multilabel, long layout: the column naming each row's target (BELKA)
    group_metric: str | None = None  # metrics also per value of this column, macro-averaged (default for two
    #                                  or more columns: the last, e.g. the peptide); knn arms and modes stay within it
    positive_label: str | None = None  # binary labels other than 0/1: the value meaning 1 (e.g. 1 for -1/1)
    invalid_smiles: str = "error"  # molecules: error (name file, line, RDKit's reason) | skip (and count)
    v_gene_columns: list[str] = field(default_factory=list)  # IMGT V gene columns (TRBV5-1*01): each adds
    #                                                          <col>_cdr1 and <col>_cdr2 (seqssl.data.v_genes)
    unknown_v_genes: str = "error"  # V gene names not in the IMGT table, or missing: error | skip (and count)
    organism: str = "human"  # whose IMGT V genes: human | mouse
    options: dict[str, dict] = field(default_factory=dict)  # its components' own settings, written as sections
    #   (pretrain.moco: {queue_size: 1024}), declared by each component (seqssl.options)


@dataclass
class ModelConfig:
    architecture: str = "bert"  # bert | esm (transformers configs)
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 128
    dropout: float = 0.0  # hidden-state dropout: costs ~28% of a CPU step; early stopping regularises
    attention_dropout: float = 0.0  # dropout on attention probabilities (costly on CPU: off by default)
    attention: str = "sdpa"  # sdpa | eager (transformers attention implementation; sdpa: torch's fused
    #                          scaled-dot-product kernels, the same outputs as eager within float rounding)
    max_length: int | None = None  # tokens including [CLS]/[SEP]; None: a loaded encoder's own, else the
    #                                data's longest input, within [MAX_LENGTH_FLOOR, MAX_LENGTH_CAP]
    pooling: str = "cls"  # cls (first token) | mean (real residues only)
    segments: int | None = None  # segment (token type) embeddings of a new BERT encoder; None: the data's number
    #                              of sequence columns, at least 2 (set it to pretrain for more columns later)
    loaded_pooling: str = "auto"  # a loaded encoder's (--encoder, --init, model:PATH arms): auto (what seqssl
    #                               saved it with; else mean for ESM, the first token otherwise) | cls | mean
    trust_remote_code: bool = False  # a loaded model may run the code it ships (MolFormer); off: refused


@dataclass
class OptimConfig:
    """Optimiser and schedule; the ``pretrain`` and ``finetune`` sections extend it."""
    optimizer: str = "adamw"  # adamw | sgd (with momentum)
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.01
    scheduler: str = "cosine"  # cosine | linear | constant (all after linear warm-up)
    warmup_ratio: float = 0.05
    grad_clip: float = 1.0  # max gradient norm; 0 disables
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 256


@old_keywords("pretrain")
@dataclass
class PretrainConfig(OptimConfig):
    objective: str = "simclr"  # a registered objective, or a weighted sum of them: mlm+simclr
    weights: dict[str, float] = field(default_factory=dict)  # mlm+simclr: each part's loss weight (default 1)
    init: str | None = None  # continued pretraining: start from this seqssl or transformers model directory
    #                          (its weights and its own tokenizer) instead of a random encoder
    temperature: float = 0.1
    hard_negative_beta: float = 0.0  # simclr, infonce, moco: weight negatives by e^{β·s} (Robinson et al. 2021); 0: off
    debias_tau_plus: float = 0.0  # simclr, infonce, moco: class prior of false negatives (Chuang et al. 2020); 0: off
    mask_tokens: int = 1  # k tokens replaced by [MASK] per view (seed 000)
    mask_rate: float | None = None  # if set, a fraction of residues instead of k
    projection_dim: int = 64  # simclr, infonce, triplet: 0 = no projection head (seed 000); simsiam needs one
    mlm_rate: float = 0.15  # fraction of residues selected for MLM (80/10/10)
    positives: str = "augment"  # augment (two views of one sequence) | label (shared label) | neighbours (chunks)
    #                             | smiles (two randomised SMILES of one molecule)
    per_label: int = 4  # label positives: K sequences per label in a P×K batch
    chunk_length: int = 64  # neighbours: tokens (or, with chunk_unit sentences, whole sentences) per chunk
    chunk_unit: str = "tokens"  # neighbours: tokens | sentences (text: sentences end in . ! ?; seed 002)
    min_separation: int | None = None  # neighbours: chunk starts at least this far apart (None: chunk_length,
    #                                    so the two chunks of a positive pair never overlap)
    max_separation: int | None = None  # neighbours: ... and at most this far (None: 2 × chunk_length)
    view: str = "mask"  # mask | substitute | blosum | crop | dropout (how contrastive views are made)
    view_rate: float = 0.15  # fraction of residues substituted / cropped by those views
    distance: str = "cosine"  # cosine | euclidean: the d of the N-way losses' exp(-d/t) and of the triplet loss
    checkpoint_every: int | None = None
    log_every: int = 20
    batch_schedule: list[list[float]] = field(default_factory=list)  # [[0.8, 256]]: from 80% of max_steps on, batch
    #                                   256 (seed 001 grew 128 → 256 for the last ~20%); needs max_steps
    max_tokens: int | None = None  # batches bounded by padded tokens (rows × longest) instead of batch_size rows
    #                                (batch_size then caps the rows); positives=augment only (seqssl.data.collate)
    compile: bool = False  # torch.compile the encoder (pays on long runs only: the compile time counts)
    chunk_size: int | None = None  # rows at a time, exact full-batch gradient (contrastive: GradCache;
    #                                token objectives: micro-batches normalised per predicted token)
    # (optimizer, lr, epochs, max_steps, batch_size, ...: OptimConfig's fields and defaults)
    options: dict[str, dict] = field(default_factory=dict)  # its components' own settings, written as sections
    #   (pretrain.moco: {queue_size: 1024}), declared by each component (seqssl.options)


@old_keywords("finetune")
@dataclass
class FinetuneConfig(OptimConfig):
    mode: str = "full"  # full (fine-tune everything) | probe (frozen encoder + linear model) | lora (adapters)
    merge: bool = False  # lora: kept for old scripts (the merged encoder is always saved)
    encoder: str | None = "none"  # a seqssl or transformers encoder directory, or none (random init)
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 30  # the cap; early stopping on the validation split normally ends training
    patience: int = 6  # epochs without validation improvement
    min_delta: float = 1e-4
    val_fraction: float = 0.15  # carved from the training fold, grouped like the folds
    val_rows: int = 10_000  # --stream: early stopping scores a sample of at most this many validation rows
    test_fraction: float = 0.0  # --stream without --split-column: the share of groups (by hash) held out as test
    head_hidden: int = 64
    head_dropout: float = 0.1
    head: str = "mlp"  # mlp (hidden head_hidden, GELU) | classifier (transformers' shape: hidden = the encoder's,
    #                    tanh, first token; finetune then also writes classifier/ for
    #                    AutoModelForSequenceClassification)
    scheduler: str = "constant"
    encoder_lr: float | None = None  # full / lora: the encoder's learning rate (None: lr); lower it for few labels
    select: str = "best"  # best (early stopping on the validation split) | last (a fixed budget of epochs)
    loss: str = "bce"  # classification / multilabel: bce | focal (Lin et al. 2017)
    focal_alpha: float | None = None  # focal: weight of positives (negatives 1 - alpha); None = unweighted
    focal_gamma: float = 2.0  # focal: focusing parameter; 0 with alpha None is BCE
    repeats: int = 1  # crossval: each (fold, arm, mode) fine-tuned this many times, seeds the same for every arm
    #                   (the fold's seed, then one per further repeat); fold value = mean over repeats
    search: dict[str, list[float]] = field(default_factory=dict)  # crossval: a grid of finetune settings, e.g.
    #   {lr: [1e-4, 3e-4, 1e-3], epochs: [10, 30]}, chosen per fold and row on the validation split only
    options: dict[str, dict] = field(default_factory=dict)  # its components' own settings, written as sections
    #   (pretrain.moco: {queue_size: 1024}), declared by each component (seqssl.options)


@old_keywords("crossval")
@dataclass
class CrossvalConfig:
    arms: list[str] = field(default_factory=lambda: ["none", "simclr", "kmer"])
    primary_metric: str | None = None  # the metric comparisons and verdicts use (default: the task's), e.g.
    #                                    auroc_per_group for per-peptide macro AUROC
    folds: int = 5
    split: str | None = None  # random | stratified | grouped | scaffold | cluster | column (default: grouped if
    #                           a group column, column if a split column, cluster if a cluster threshold)
    cluster_threshold: str | None = None  # --split cluster: edit:K (Levenshtein <= K) or identity:F (>= F)
    cluster_column: str | None = None  # the sequence column clustered (default: the first sequence column)
    label_fractions: list[float] = field(default_factory=lambda: [1.0])  # learning curve: training-label shares
    embedding_map: bool = True  # report: t-SNE of fold 0's test embeddings per encoder arm, before fine-tuning
    remove_duplicates: bool = False  # drop test rows whose sequence (pair) is also a training row; counted either way
    modes: list[str] = field(default_factory=list)  # transfer modes compared per encoder arm (pretrained once
    #                                                 per fold); empty: [finetune.mode]
    jobs: int = 1  # processes running (fold, arm) parts side by side, each with threads/jobs torch threads;
    #                0: one per core on a CPU run (seqssl.evaluate.workers)
    executor: str = "local"  # local: this machine (jobs processes) | ray: each part a Ray task (evaluate.ray_parts)
    ray_address: str | None = None  # executor ray: the cluster to join (ray.init(address=...)); None: start one here
    ray_cpus: int = 1  # executor ray: CPUs (torch threads) each part asks for; a GPU too when device is cuda
    options: dict[str, dict] = field(default_factory=dict)  # its components' own settings, written as sections
    #   (pretrain.moco: {queue_size: 1024}), declared by each component (seqssl.options)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    crossval: CrossvalConfig = field(default_factory=CrossvalConfig)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | bf16
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    out: str | None = None
    overwrite: bool = False  # --out holds an earlier run: empty it first (else refused unless --resume)
    quiet: bool = False
    tracking: list[str] = field(default_factory=list)  # tensorboard and/or mlflow (besides the CSV histories)
    plugins: list[str] = field(default_factory=list)  # modules that register components (--plugin; seqssl.plugins)

    def to_dict(self) -> dict:
        """Every key as the YAML file writes it: a component's settings as a section of its own
        (``pretrain.moco``), not under ``options``."""
        out = dataclasses.asdict(self)
        for section in SECTIONS_WITH_COMPONENTS:
            out[section].update(out[section].pop("options"))
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


SECTIONS_WITH_COMPONENTS = tuple(KINDS_OF_SECTION)  # data, pretrain, finetune, crossval


def _apply(obj, values: dict, prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if key == "options" and isinstance(value, dict):  # the dataclass's own spelling of the sections
            if all(_apply_component(obj, name, settings, prefix) for name, settings in value.items()):
                continue
        elif key not in names and _apply_component(obj, key, value, prefix):
            continue
        if key not in names:
            choices = names + list(declared(KINDS_OF_SECTION[prefix[:-1]])) if prefix[:-1] in KINDS_OF_SECTION \
                else names
            close = difflib.get_close_matches(str(key), choices, n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"valid keys: {', '.join(names)}"
            raise InputError(f"unknown config key '{dotted}'", fix=hint)
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise InputError(f"config key '{dotted}' is a section; expected a mapping, got {value!r}")
            _apply(current, value, prefix=f"{dotted}.")
        elif isinstance(current, dict):  # a mapping (pretrain.weights): later sources add to earlier ones
            setattr(obj, key, {**current, **_coerce(value, hints[key], dotted)})
        else:
            setattr(obj, key, _coerce(value, hints[key], dotted))


def _apply_component(section, key: str, value, prefix: str) -> bool:
    """``key`` of a section as a component's settings (``pretrain.moco: {...}``, or ``options: {moco: {...}}``),
    or as the old flat key one of them replaced (``pretrain.moco_queue_size``, read with a deprecation line);
    False when it is neither."""
    kind = KINDS_OF_SECTION.get(prefix[:-1])
    if kind is None:
        return False
    if key in declared(kind):
        if not isinstance(value, dict):
            raise InputError(f"config key '{prefix}{key}' is a section of {kind} {key}'s settings; expected a "
                             f"mapping, got {value!r}")
        section.options[key] = {**section.options.get(key, {}), **value}
        return True
    found = old_keys(prefix[:-1], key)
    if found:
        renamed_key(f"{prefix}{key}", new_keys_text(prefix[:-1], found))
    for component, spec in found:
        section.options.setdefault(component, {})[spec.name] = value
    return bool(found)


# seqssl.transfer.modes's names (tested)
TRANSFER_MODES = ("full", "probe", "probe-mlp", "lora", "knn", "per-value", "probe+kmer", "prototype")
GRAPH_MODES = ("gcn", "gat")  # finetune only: a graph network on the molecules, no encoder (crossval: the arms)
RANGES = {  # dotted key: (predicate, what it must be)
    "data.alphabet": (lambda v: v in ("protein", "text", "smiles"), "protein, text or smiles"),
    "model.hidden_size": (lambda v: v >= 1, "a positive integer"),
    "model.num_layers": (lambda v: v >= 1, "a positive integer"),
    "model.num_heads": (lambda v: v >= 1, "a positive integer"),
    "model.max_length": (lambda v: v is None or v >= 3, "at least 3"),
    "model.dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "pretrain.temperature": (lambda v: v > 0, "positive"),
    "pretrain.hard_negative_beta": (lambda v: v >= 0, "at least 0"),
    "pretrain.batch_schedule": (lambda v: all(len(p) == 2 and 0 < p[0] < 1 and p[1] >= 1 and p[1] == int(p[1])
                                              for p in v) and [p[0] for p in v] == sorted({p[0] for p in v}),
                                "[[fraction in (0, 1), batch size], ...] with increasing fractions"),
    "pretrain.debias_tau_plus": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "pretrain.mask_tokens": (lambda v: v >= 1, "at least 1"),
    "pretrain.mask_rate": (lambda v: v is None or 0 < v <= 1, "in (0, 1]"),
    "pretrain.mlm_rate": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "pretrain.view_rate": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "pretrain.per_label": (lambda v: v >= 2, "at least 2"),
    "pretrain.log_every": (lambda v: v >= 1, "at least 1"),
    "pretrain.checkpoint_every": (lambda v: v is None or v >= 1, "at least 1"),
    "pretrain.chunk_size": (lambda v: v is None or v >= 1, "at least 1"),
    "pretrain.max_tokens": (lambda v: v is None or v >= 1, "at least 1"),
    "crossval.folds": (lambda v: v >= 2, "at least 2"),
    "finetune.val_fraction": (lambda v: 0 < v < 0.5, "in (0, 0.5)"),
    "finetune.val_rows": (lambda v: v >= 1, "at least 1"),
    "finetune.test_fraction": (lambda v: 0 <= v < 0.5, "in [0, 0.5)"),
    "data.block_rows": (lambda v: v >= 1, "at least 1"),
    "data.jobs": (lambda v: v >= 1, "at least 1"),
    "finetune.mode": (lambda v: v in TRANSFER_MODES + GRAPH_MODES or v in REGISTERED.get("transfer mode", ()),
                      "one of " + ", ".join(TRANSFER_MODES + GRAPH_MODES) + " (or a plugin's)"),
    "finetune.patience": (lambda v: v >= 1, "at least 1"),
    "finetune.head_hidden": (lambda v: v >= 1, "at least 1"),
    "finetune.head_dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "finetune.loss": (lambda v: v in ("bce", "focal"), "bce or focal"),
    "finetune.encoder_lr": (lambda v: v is None or v > 0, "positive"),
    "finetune.select": (lambda v: v in ("best", "last"), "best or last"),
    "finetune.focal_alpha": (lambda v: v is None or 0 < v < 1, "in (0, 1)"),
    "finetune.focal_gamma": (lambda v: v >= 0, "non-negative"),
    "finetune.repeats": (lambda v: v >= 1, "at least 1"),
    "data.invalid_smiles": (lambda v: v in ("error", "skip"), "error or skip"),
    "crossval.arms": (lambda v: len(v) > 0, "one or more arms (e.g. kmer)"),  # none: nothing to compare
    # what every generator accepts, scikit-learn's (NumPy's legacy RandomState, < 2^32) included, with room for the
    # per-fold seeds (seed + fold)
    "seed": (lambda v: 0 <= v < 2**31, "a non-negative integer below 2^31"),
    "crossval.modes": (lambda v: len(set(v)) == len(v) and all(m in TRANSFER_MODES for m in v),
                       "distinct modes among " + ", ".join(TRANSFER_MODES)),
    "crossval.jobs": (lambda v: v >= 0, "0 (one per core) or more"),
    "crossval.ray_cpus": (lambda v: v >= 1, "at least 1"),
    "crossval.label_fractions": (lambda v: len(v) > 0 and all(0 < f <= 1 for f in v), "fractions in (0, 1]"),
}
for _section in ("pretrain", "finetune"):
    RANGES.update({f"{_section}.lr": (lambda v: v > 0, "positive"),
                   f"{_section}.batch_size": (lambda v: v >= 1, "at least 1"),
                   f"{_section}.epochs": (lambda v: v >= 1, "at least 1"),
                   f"{_section}.max_steps": (lambda v: v is None or v >= 1, "at least 1"),
                   f"{_section}.weight_decay": (lambda v: v >= 0, "non-negative"),
                   f"{_section}.warmup_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
                   f"{_section}.grad_clip": (lambda v: v >= 0, "non-negative (0 disables)")})


_OPTIM_CHOICES = {"optimizer": ("adamw", "sgd"), "scheduler": ("cosine", "linear", "constant")}

CHOICES: dict[str, tuple[str, ...]] = {  # dotted key: its allowed values (the one list of each)
    "pretrain.view": ("mask", "substitute", "blosum", "crop", "dropout"),  # seqssl.augment.make_view
    "pretrain.positives": ("augment", "label", "neighbours", "smiles"),  # seqssl.positives
    "pretrain.chunk_unit": ("tokens", "sentences"),  # seqssl.positives.neighbour_batches
    "pretrain.distance": ("cosine", "euclidean"),  # seqssl.losses.pairwise_distance
    "model.pooling": ("cls", "mean"),
    "finetune.head": ("mlp", "classifier"),  # seqssl.models.encoder.POOLINGS
    "model.loaded_pooling": ("auto", "cls", "mean"),
    "model.attention": ("sdpa", "eager"),  # transformers' attn_implementation
    "data.unknown_v_genes": ("error", "skip"),  # seqssl.data.v_genes
    "data.organism": ("human", "mouse"),  # seqssl.data.v_genes: the organisms of its IMGT table
    "crossval.executor": ("local", "ray"),  # seqssl.evaluate.ray_parts
    **{f"{section}.{key}": allowed for section in ("pretrain", "finetune") for key, allowed in _OPTIM_CHOICES.items()},
}


def section_of(cfg) -> str:
    """The section of :class:`Config` that ``cfg`` fills, as error messages name it: ``pretrain`` for a
    :class:`PretrainConfig`, else ``finetune`` (every other :class:`OptimConfig` trains a predictor)."""
    return "pretrain" if isinstance(cfg, PretrainConfig) else "finetune"


def check_choices(cfg, section: str | None = None, keys: tuple[str, ...] | None = None) -> None:
    """Refuse a value of ``cfg`` (one section, default :func:`section_of`) outside :data:`CHOICES`;
    ``keys`` limits the check to those fields."""
    section = section or section_of(cfg)
    for dotted, allowed in CHOICES.items():
        where, key = dotted.split(".")
        if where != section or (keys is not None and key not in keys):
            continue
        value = getattr(cfg, key)
        if value not in allowed:
            raise InputError(f"unknown {dotted} '{value}'", fix=f"use one of {', '.join(allowed)}")


def check_ranges(config: Config) -> None:
    """Out-of-range values and unknown choices are errors that name the key, before any work starts."""
    for dotted, (ok, what) in RANGES.items():
        section, _, key = dotted.rpartition(".")
        value = getattr(getattr(config, section) if section else config, key)
        if not ok(value):
            raise InputError(f"config key '{dotted}' must be {what}, got {value!r}")
    for section in dict.fromkeys(dotted.split(".")[0] for dotted in CHOICES):
        check_choices(getattr(config, section), section)
    config.finetune.search = checked_search(config.finetune)


SEARCHABLE = ("lr", "encoder_lr", "epochs", "batch_size", "weight_decay", "warmup_ratio", "patience",
              "head_hidden", "head_dropout", "focal_gamma")  # and a transfer mode's numbers: lora.rank


def checked_search(cfg: FinetuneConfig) -> dict:
    """``finetune.search`` with each value of the setting's type and in its range: a number the fine-tuning reads
    (:data:`SEARCHABLE`) or a transfer mode's declared one (``lora.rank``; the old flat ``lora_rank`` is read as
    it, with a deprecation line); another key, or an empty list, is refused."""
    out = {}
    for key, values in cfg.search.items():
        key = searched_key(key)
        if not values:
            raise InputError(f"finetune.search: no values for '{key}'", fix=f"e.g. {key}=V1,V2")
        out[key] = [searched_value(key, v) for v in values]
    return out


def searchable_settings() -> dict:
    """``mode.setting`` → the :class:`~seqssl.options.OptionSpec` of each number a transfer mode declares."""
    return {f"{mode}.{spec.name}": spec for mode, specs in declared("transfer mode").items() for spec in specs
            if spec.type in ("int", "float")}


def searched_key(key: str) -> str:
    """A ``finetune.search`` key as it is now (an old flat key renamed), or the refusal naming what may be."""
    found = old_keys("finetune", key)
    if found and f"{found[0][0]}.{found[0][1].name}" in searchable_settings():
        renamed_key(f"finetune.search.{key}", f"finetune.search.{found[0][0]}.{found[0][1].name}")
        return f"{found[0][0]}.{found[0][1].name}"
    if key not in SEARCHABLE and key not in searchable_settings():
        raise InputError(f"finetune.search: '{key}' cannot be searched",
                         fix=f"use {', '.join([*SEARCHABLE, *searchable_settings()])}")
    return key


def searched_value(key: str, value):
    """One candidate value of ``finetune.search.<key>``, of the setting's type and in its range."""
    where = f"finetune.search.{key}"
    if key in searchable_settings():
        return searchable_settings()[key].check(value, where)
    hint = typing.get_type_hints(FinetuneConfig)[key]
    checked = _coerce(value, int if int in (hint, *typing.get_args(hint)) else float, where)
    ok, what = RANGES.get(f"finetune.{key}", (lambda v: v >= 0, "non-negative"))
    if not ok(checked):
        raise InputError(f"finetune.search: '{key}' must be {what}, got {checked!r}")
    return checked


def task_name(data: DataConfig) -> str:
    """``data.task``, or when unset: ``pair-classification`` for two or more sequence columns, else
    ``classification`` (one column is never a pair task)."""
    if data.task:
        return data.task
    return "pair-classification" if len(data.columns) >= 2 else "classification"


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    """Defaults, then the YAML file, then ``overrides`` (a nested dict, e.g. from CLI flags). The plugins both
    name are imported first, so that their components' settings are keys like the built-in ones."""
    values = _read_yaml(Path(path)) if path is not None else {}
    with _naming(path):
        plugins = _coerce(values.get("plugins") or [], list[str], "plugins")
    plugins = list(dict.fromkeys([*plugins, *_coerce((overrides or {}).get("plugins") or [], list[str], "plugins")]))
    from .plugins import load_plugins
    load_plugins(plugins)  # a plugin's objectives, arms, tasks and modes exist before names are checked
    config = Config()
    with _naming(path):
        _apply(config, values)
    if overrides:
        _apply(config, overrides)
    config.plugins = plugins  # --plugin adds to the file's, not replaces
    config.data.task = task_name(config.data)
    check_ranges(config)
    check_component_settings(config)
    return config


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise InputError("config file not found", path=str(path))
    if path.is_dir():
        raise InputError("--config names a directory, expected a YAML file", path=str(path),
                         fix="pass the run's config.yaml, e.g. --config DIR/config.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", path=str(path), fix="save the config as UTF-8") from None
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML ({str(err).splitlines()[0]})", path=str(path)) from None
    if not isinstance(values, dict):
        raise InputError("config must be a mapping of keys to values", path=str(path))
    return values


@contextmanager
def _naming(path):
    """An :class:`InputError` raised inside names the config file ``path`` (when there is one)."""
    try:
        yield
    except InputError as err:
        if path is None:
            raise
        raise InputError(err.problem, path=str(path), fix=err.fix) from None


def selected_components(config: Config) -> dict[str, set[str]]:
    """Section → the components this config runs there: the objective's parts (and the arms that are
    objectives), the transfer modes, the arms, the task."""
    parts = {p.strip() for name in (config.pretrain.objective, *config.crossval.arms) for p in name.split("+")}
    modes = {config.finetune.mode, *config.crossval.modes}
    # a transfer mode named like an arm (gcn, gat) reads that arm's settings (seqssl.transfer.modes.GraphNetwork)
    arms = set(config.crossval.arms) | (modes & set(declared("arm")))
    return {"pretrain": parts, "finetune": modes, "crossval": arms, "data": {config.data.task or ""}}


def check_component_settings(config: Config) -> None:
    """Every component section checked against what its component declares; the sections of the components
    this run uses filled with their defaults (so a run's ``config.yaml`` records every setting it ran with)."""
    selected = selected_components(config)
    for section_name in SECTIONS_WITH_COMPONENTS:
        section, kind = getattr(config, section_name), KINDS_OF_SECTION[section_name]
        names = [*section.options, *sorted(n for n in selected[section_name] - set(section.options)
                                           if declared(kind).get(n))]
        section.options = {name: resolved(kind, name, section.options.get(name, {}),
                                          fill=name in selected[section_name]) for name in names}


def nested(flat: dict) -> dict:
    """``{"pretrain.lr": 1e-3}`` to ``{"pretrain": {"lr": 1e-3}}``, dropping ``None`` values."""
    out: dict = {}
    for dotted, value in flat.items():
        if value is None:
            continue
        node = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
