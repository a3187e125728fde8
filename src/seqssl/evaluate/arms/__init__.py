"""Arms of a cross-validation, registered by name (``--arms none,kmer,simclr,...``): see :mod:`.base`.

Registered here: ``none`` (a random encoder), ``kmer`` (k-mer counts or a residue window + linear model),
``ecfp`` (Morgan fingerprints + linear model), ``gcn`` and ``gat`` (graph networks on RDKit graphs); and
every registered pretraining objective is an arm of its own name (:class:`.encoders.PretrainedArm`)."""
from __future__ import annotations

from ...errors import InputError, Problems
from ...extras import require
from ...objectives import OBJECTIVES, is_objective, objective_class
from ...tasks import Task
from . import baselines, encoders, knn, molecules, tcrdist, towers  # noqa: F401  (each registers its arms)
from .base import ARMS, Arm, FoldContext, RunContext, Unit, baselines_of, register_arm  # noqa: F401
from .external import PREFIX as MODEL_PREFIX
from .external import ModelArm
from .sceptr import NAME as SCEPTR
from .sceptr import SceptrArm

# model:NAME[/VARIANT] of a published model read through its own package (a directory of that name: ./NAME)
NAMED_MODELS = {SCEPTR: SceptrArm}


def resolve_arm(name: str) -> Arm:
    """The arm called ``name``: a registered one, pretraining with a registered objective, or ``model:PATH``
    (a model the user has, :class:`.external.ModelArm`), or ``model:sceptr[/VARIANT]`` (:mod:`.sceptr`)."""
    if name.startswith(MODEL_PREFIX):
        path = name[len(MODEL_PREFIX):]
        model, _, variant = path.partition("/")
        if model in NAMED_MODELS:
            return NAMED_MODELS[model](variant)
        return ModelArm(path)
    if name in ARMS:
        return ARMS[name]
    if is_objective(name):  # one objective, or a sum such as mlm+simclr
        two_towers = objective_class(name).two_towers  # clip: its towers also score pairs zero-shot
        return (towers.TwoTowerArm if two_towers else encoders.PretrainedArm)(name)
    raise InputError(f"unknown arm '{name}'",
                     fix=f"use {', '.join(arm_names()[:len(ARMS)])}, an objective ({', '.join(sorted(OBJECTIVES))}), "
                         f"a sum of objectives (mlm+simclr) or {MODEL_PREFIX}PATH (a seqssl or transformers model "
                         "directory)")


def reads_molecules(data_cfg, arms: list[Arm]) -> bool:
    """Whether the labelled table's molecules are checked in RDKit as it is read: ``--alphabet smiles``, or an arm
    that reads the first column as molecules (gcn, gat, ecfp)."""
    return data_cfg.alphabet == "smiles" or any(arm.needs_molecules for arm in arms)


def resolve_arms(names: list[str], task: Task | None = None, problems: Problems | None = None) -> list[Arm]:
    """Every arm of ``--arms``, checked (known, listed once, its extras installed, able to predict ``task``):
    every problem is raised at once, or with ``problems`` kept there (the arms without one are returned) for
    the caller to raise with problems of its own."""
    arms: list[Arm] = []

    def resolve(name):
        arm = resolve_arm(name)
        for module in arm.requires:
            require(module, f"the {arm.name} arm")
        if task is not None:
            arm.check(task)
        arms.append(arm)

    def distinct():
        if len(set(names)) != len(names):
            raise InputError(f"an arm is listed twice in {names}")
        taken = [a.name for a in arms]
        if len(set(taken)) != len(taken):
            repeated = sorted({n for n in taken if taken.count(n) > 1})
            raise InputError(f"two arms would both be called {repeated} in the tables",
                             fix="model:PATH arms are named after their directory: rename one of the directories")
    found = problems or Problems()
    for check in [*(lambda n=n: resolve(n) for n in names), distinct]:
        found.check(check)
    if problems is None:
        found.raise_all()
    return arms


def arm_names() -> list[str]:
    """Every name ``--arms`` accepts: the registered arms (baselines first), then the objectives."""
    ranked = sorted(ARMS.values(), key=lambda a: (a.baseline_rank is None, a.baseline_rank or 0))
    return [a.name for a in ranked] + sorted(OBJECTIVES)
