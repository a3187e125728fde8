"""``results.json`` as typed objects: :class:`Results` (a cross-validation), :class:`ArmResults` (one row of its
table) and :class:`Comparison` (one paired difference). :mod:`seqssl.evaluate` produces them and
:mod:`seqssl.report` reads them by attribute, so a renamed key fails where it is read (and under mypy), not as a
silent ``None`` from ``dict.get``.

A record keeps the keys of the JSON it was read from, in their order, and any key it does not name (``extra``):
``Results.from_dict(d).to_dict() == d`` for every results.json seqssl has written, old layouts included (tested
on the committed ones), so reading and re-writing a file changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass
class Record:
    """A JSON object with typed named fields; ``extra``: the keys the class does not name; ``keys``: the
    object's keys in their order (a named field absent from the JSON stays absent when written back)."""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    keys: tuple[str, ...] = field(default=(), repr=False)
    NESTED: ClassVar[dict[str, type[Record]]] = {}  # field → record type of its values (a dict's or a list's)

    @classmethod
    def named(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name not in ("extra", "keys"))

    @classmethod
    def from_dict(cls, data: dict):
        named = cls.named()
        values = {k: cls._decoded(k, v) for k, v in data.items() if k in named}
        return cls(**values, extra={k: v for k, v in data.items() if k not in named}, keys=tuple(data))

    @classmethod
    def _decoded(cls, key: str, value):
        kind = cls.NESTED.get(key)
        if kind is None or value is None:
            return value
        if isinstance(value, dict):
            return {name: kind.from_dict(item) for name, item in value.items()}
        return [kind.from_dict(item) for item in value]

    def to_dict(self) -> dict:
        """The JSON object: the keys it was read with, in their order."""
        named = self.named()
        return {k: _encoded(getattr(self, k)) if k in named else self.extra[k] for k in self.keys}

    def get(self, key: str, default=None):
        """A key of the JSON object, named or extra (for keys the class does not name)."""
        if key in self.named() and key in self.keys:
            return getattr(self, key)
        return self.extra.get(key, default)


def _encoded(value):
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _encoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encoded(v) for v in value]
    return value


@dataclass
class Comparison(Record):
    """One row against one baseline on one metric: the mean paired difference (arm − baseline), its test
    (``corrected_t`` over folds or ``bootstrap`` over a fixed split's test examples), 95% CI, p, Holm's p
    within the primary-metric family and the verdict; ``p_paired_t``: the uncorrected paired t, for reference."""
    arm: str = ""
    baseline: str = ""
    metric: str = ""
    test: str | None = None
    delta_mean: float | None = None
    ci95: list[float] | None = None
    p_value: float | None = None
    p_holm: float | None = None
    verdict: str | None = None
    p_paired_t: float | None = None


@dataclass
class ArmResults(Record):
    """One row of the table (an arm, at a label fraction, in a mode): per-fold metrics, their mean and std, the
    runs (cost, early stopping, settings chosen) and the seconds they took; ``retrieval`` when measured."""
    folds: list[dict] = field(default_factory=list)
    mean: dict[str, float | None] = field(default_factory=dict)
    std: dict[str, float | None] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    retrieval: dict[str, Any] | None = None


@dataclass
class Results(Record):
    """A cross-validation: the task, its primary metric, the split and folds, every row of the table
    (``arms``), the paired comparisons with the baselines and how they were tested (``statistics``), each
    fold's leakage counts, the pretraining histories, the config, versions, seed, wall time and run id."""
    task: str = ""
    primary_metric: str = ""
    split: str = ""
    n_folds: int = 0
    repeats: int = 1
    search: dict | None = None
    split_column: str | None = None
    validation_column: str | None = None
    arms: dict[str, ArmResults] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    statistics: dict[str, Any] = field(default_factory=dict)
    leakage: list[dict] = field(default_factory=list)
    pretraining: dict[str, list[dict]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    wall_seconds: float = 0.0
    run_id: str | None = None
    date: str | None = None
    external_models: dict[str, dict] | None = None
    classes: list[str] | None = None
    targets: list[str] | None = None
    invalid_smiles_skipped: int | None = None
    v_genes_skipped: int | None = None
    NESTED: ClassVar[dict[str, type[Record]]] = {"arms": ArmResults, "comparisons": Comparison}

    @classmethod
    def of(cls, results: Results | dict) -> Results:
        """``results`` as a :class:`Results` (a results.json dict is read; a :class:`Results` is itself)."""
        return results if isinstance(results, Results) else cls.from_dict(results)

    @property
    def single_split(self) -> bool:
        """One train/test evaluation (a fixed split from a column, or one fold)."""
        return self.n_folds == 1

    def first_arm(self) -> ArmResults:
        return next(iter(self.arms.values()))
