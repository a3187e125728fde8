"""Transfer modes, registered by name (``--mode probe|full|lora``): how a sequence encoder is turned into a
predictor for a task, how that predictor scores data, and how it is saved. ``seqssl finetune`` and every
encoder arm of ``seqssl crossval`` go through :func:`fit_in_mode`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io import save_tensors
from ..models.gnn_settings import GraphOptions
from ..options import DeclaresOptions, options_named
from ..registry import Registry
from ..tasks import Task
from .lora import LoraOptions

TRANSFER_MODES: Registry[TransferMode] = Registry("transfer mode")


def register_mode(cls: type[TransferMode]) -> type[TransferMode]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    return TRANSFER_MODES.register(cls)


def get_mode(name: str) -> TransferMode:
    """The registered transfer mode called ``name`` (an unknown name is the user's input error)."""
    return TRANSFER_MODES.lookup(name)


@dataclass
class Fitted:
    """A transferred model: ``score(data)`` gives the task's scores; ``details`` what its training recorded."""

    mode: TransferMode
    model: Any  # SequencePredictor / TokenPredictor (full, lora), LinearProbe (probe), NeighbourModel (knn)
    task: Task
    details: dict
    device: torch.device
    precision: str = "fp32"

    def score(self, data) -> np.ndarray:
        return self.mode.score(self, data)

    def save(self, out: Path, tokenizer, meta: dict, merge: bool = False) -> None:
        self.mode.save(self, Path(out), tokenizer, meta, merge)


class TransferMode(DeclaresOptions):
    kind = "transfer mode"  # its settings: self.options(config) (seqssl.options)
    name = ""
    trains = False  # trains by gradient with the finetune settings (lr, epochs, ...): finetune.search applies
    streams = False  # fits rows read batch by batch from disk (finetune --stream), never all of them at once
    encoder_free = False  # reads molecules as graphs, not an encoder's tokens (--encoder none; finetune only)

    def configured(self, cfg) -> TransferMode:
        """This mode with the run's settings beyond the finetune section (``cfg``: the whole config)."""
        return self

    def settings(self, fitted: Fitted) -> dict:
        """What the manifest records, beyond the head, for :meth:`load` to rebuild the model."""
        return {}

    def check(self, task: Task, data) -> None:
        """Refuse a task or data the mode cannot fit (``data``: the run's encoded rows), before any work."""

    def fit(self, encoder, train, val, cfg, task: Task, *, device, precision: str, seed: int, progress: bool,
            desc: str, start=None) -> Fitted:
        """``start``: a model this mode fitted before (``finetune --resume``) to continue from; modes that train
        nothing by gradient fit afresh."""
        raise NotImplementedError

    def score(self, fitted: Fitted, data) -> np.ndarray:
        from .finetune import predict
        return predict(fitted.model, data, fitted.task, fitted.device, precision=fitted.precision)

    def save(self, fitted: Fitted, out: Path, tokenizer, meta: dict, merge: bool) -> None:
        """``out/encoder`` (the fine-tuned encoder) and ``out/head.safetensors``."""
        fitted.model.encoder.save(out / "encoder", tokenizer, meta=meta)
        save_head(fitted.model, out)

    def load(self, directory: Path, manifest: dict, task: Task, device) -> Fitted:
        """The :class:`Fitted` that :meth:`save` wrote into ``directory`` (``manifest``: its seqssl_model.json)."""
        raise InputError(f"a --mode {self.name} model cannot be applied to new data yet",
                         fix="fine-tune with --mode full, lora or probe to use seqssl predict")


@register_mode
class Probe(TransferMode):
    """Frozen encoder, linear model on its pooled embeddings (:mod:`seqssl.transfer.probe`)."""

    name = "probe"

    def fit(self, encoder, train, val, cfg, task, *, device, precision, seed, progress, desc, start=None):
        from .probe import fit_probe
        model, details = fit_probe(encoder, train, val, task, device=device, seed=seed)
        return Fitted(self, model, task, details, device, precision)

    def score(self, fitted, data):
        return fitted.model.predict(data)

    def save(self, fitted, out, tokenizer, meta, merge):
        """``out/encoder`` (unchanged input encoder) and ``probe.safetensors`` + ``probe.json``."""
        fitted.model.encoder.save(out / "encoder", tokenizer, meta=meta)
        fitted.model.save(out)

    def load(self, directory, manifest, task, device):
        from ..models.encoder import load_encoder
        from .probe import load_probe
        encoder, _ = load_encoder(directory / "encoder")
        return Fitted(self, load_probe(directory, encoder, task, device), task, {}, device)


@register_mode
class ProbeAndKmers(TransferMode):
    """Frozen encoder's embedding and k-mer features in one linear model (:class:`~seqssl.transfer.probe.
    ProbeWithKmers`); nothing trains by gradient. Saved: the encoder (applying it to new data is not supported
    yet: the k-mer vocabulary is not written)."""

    name = "probe+kmer"

    def check(self, task, data):
        if task.per_token or getattr(data, "rows", None) is None:
            raise InputError(f"--mode probe+kmer reads whole sequences of a labelled table, not {task.name}",
                             fix="use --mode probe")

    def fit(self, encoder, train, val, cfg, task, *, device, precision, seed, progress, desc, start=None):
        from .probe import fit_probe_with_kmers
        self.check(task, train)
        model, details = fit_probe_with_kmers(encoder, train, val, task, device=device, seed=seed)
        return Fitted(self, model, task, details, device, precision)

    def score(self, fitted, data):
        return fitted.model.predict(data)

    def save(self, fitted, out, tokenizer, meta, merge):
        fitted.model.encoder.save(out / "encoder", tokenizer, meta=meta)


@register_mode
class Full(TransferMode):
    """Every weight trains (:func:`seqssl.transfer.finetune.fine_tune`)."""

    name = "full"
    trains = True
    streams = True

    per_value = False  # the head of seqssl.transfer.finetune.PerValuePredictor

    def prepare(self, encoder, cfg):
        return encoder

    def fit(self, encoder, train, val, cfg, task, *, device, precision, seed, progress, desc, start=None):
        from .finetune import fine_tune
        if start is not None:  # continue the kept model: its encoder (LoRA: merged, new adapters) and head
            start.encoder = self.prepare(start.encoder, cfg)
        model, details = fine_tune(None if start is not None else self.prepare(encoder, cfg), train, val, cfg, task,
                                   device=device, precision=precision, seed=seed, progress=progress, desc=desc,
                                   per_value=self.per_value, model=start)
        return Fitted(self, model, task, details, device, precision)

    def load(self, directory, manifest, task, device):
        """The fine-tuned (for LoRA: merged) encoder in ``directory/encoder`` and its head."""
        from safetensors.torch import load_file

        from ..config import FinetuneConfig
        from ..models.encoder import load_encoder
        from .finetune import PerValuePredictor, SequencePredictor, TokenPredictor
        encoder, _ = load_encoder(directory / "encoder")
        head = manifest["head"]
        cfg = FinetuneConfig(head_hidden=head["hidden"], head_dropout=head["dropout"], head=head.get("kind", "mlp"))
        model: SequencePredictor | TokenPredictor = (
            TokenPredictor(encoder, cfg, head["outputs"]) if task.per_token else
            PerValuePredictor(encoder, cfg, head["values"]) if head.get("values") is not None else
            SequencePredictor(encoder, cfg, head["outputs"] if head.get("multi_output") else None))
        model.head.load_state_dict(load_file(str(directory / "head.safetensors")))
        if isinstance(model, SequencePredictor):
            model.target_mean.fill_(head.get("target_mean", 0.0))
            model.target_std.fill_(head.get("target_std", 1.0))
        return Fitted(self, model.to(device).eval(), task, {}, device, manifest.get("precision", "fp32"))


@register_mode
class ProbeMLP(Full):
    """The frozen encoder's pooled embedding read by the MLP head (one hidden layer of ``finetune.head_hidden``,
    dropout ``finetune.head_dropout``), trained with early stopping like ``full`` while no encoder weight moves
    and the encoder stays in eval mode (seed 003 fed frozen embeddings into another model; ``probe`` is the
    linear reading of the same embedding). Saved and applied like ``full``: the unchanged encoder and the head."""

    name = "probe-mlp"

    def check(self, task, data):
        if task.per_token:
            raise InputError("--mode probe-mlp reads one pooled embedding per sequence",
                             fix="use --mode full or lora for per-residue labels")

    def prepare(self, encoder, cfg):
        return encoder.requires_grad_(False)


@register_mode
class Lora(Full):
    """Low-rank adapters on the attention projections, the rest frozen (:mod:`seqssl.transfer.lora`)."""

    name = "lora"
    Options = LoraOptions  # finetune.lora: rank, alpha, dropout, targets

    def prepare(self, encoder, cfg):
        from .lora import with_lora
        return with_lora(encoder, self.options(cfg))

    def save(self, fitted, out, tokenizer, meta, merge):
        """``out/adapter`` (peft), the merged ``out/encoder`` (what ``seqssl predict`` reads; always written,
        whatever ``merge`` says) and ``head.safetensors``."""
        from .lora import save_lora
        save_lora(fitted.model.encoder, out, tokenizer, True, meta=meta)
        save_head(fitted.model, out)


@register_mode
class PerValue(Full):
    """Full fine-tuning with one output per value of the last column (each peptide) beside a shared one, the
    shared one alone for values unseen in training (:class:`~seqssl.transfer.finetune.PerValuePredictor`)."""

    name = "per-value"
    per_value = True
    streams = False  # its head reads each row's value of the last column, which the stream does not keep

    def check(self, task, data):
        if not task.binary or data.group_keys is None:
            raise InputError("--mode per-value is for binary pair tasks (one output per value of the last column)",
                             fix="use --mode full, or --task pair-classification with two or more --columns")


def save_head(model, out: Path) -> None:
    """The prediction head's weights as ``out/head.safetensors``."""
    save_tensors({k: v.contiguous().cpu() for k, v in model.head.state_dict().items()}, str(out / "head.safetensors"))


def head_settings(fitted: Fitted, cfg) -> dict:
    """What :meth:`Full.load` needs to rebuild the head: its width, dropout, outputs and target scaling."""
    model = fitted.model
    head = getattr(model, "head", None)
    if head is None:
        return {}
    outputs = int(head.net[-1].out_features)
    settings = {"kind": cfg.head, "hidden": cfg.head_hidden, "dropout": cfg.head_dropout, "outputs": outputs,
                "multi_output": bool(getattr(model, "n_targets", None))}
    if hasattr(model, "target_mean"):
        settings |= {"target_mean": float(model.target_mean), "target_std": float(model.target_std)}
    if hasattr(model, "values"):  # the per-value head: the value of each output after the shared one
        settings["values"] = list(model.values)
    return settings


class GraphNetwork(TransferMode):
    """A graph network trained from scratch on the molecules of the first column (RDKit graphs; no encoder):
    :class:`~seqssl.models.gnn.GraphPredictor` of kind :attr:`name`, with the settings of the crossval arm of the
    same name (``crossval.gcn``: :class:`~seqssl.models.gnn_settings.GraphOptions`), so that one network is
    described once. Streamed (``finetune --stream``), each molecule is parsed and featurised once into the
    labelled cache and batches are rebuilt from its codes (:mod:`seqssl.data.molecules.codes`); in memory, the
    graphs are built once per fit. Saved as ``graph_model.safetensors`` with its settings in the manifest, and
    the tokenizer (``encoder/``) ``predict`` checks new rows with."""

    trains = True
    streams = True
    encoder_free = True
    graph = GraphOptions()

    def configured(self, cfg):
        return copy_with(self, graph=options_named("arm", self.name, GraphOptions, cfg.crossval))

    def check(self, task, data):
        if not task.per_molecule:
            raise InputError(f"--mode {self.name} predicts one value (or one row of targets) per molecule, not "
                             f"{task.name}", fix="use a sequence --mode (full, lora, ...)")
        if self.graph.bond_angles and hasattr(data, "graph_batch"):
            raise InputError(f"crossval.{self.name}.bond_angles: the streamed cache holds no bond angles",
                             fix="fine-tune without --stream, or without bond angles")

    def source(self, data):
        """The graph source of ``data``: a streamed cache's rows as they are, in-memory rows' molecules built."""
        if hasattr(data, "graph_batch"):
            return data
        from ..data.molecules import mol_to_graph, parse_smiles
        from .graph import MoleculeGraphs
        return MoleculeGraphs([mol_to_graph(parse_smiles(row[0]), atom_set=self.graph.atom_features,
                                            bond_angles=self.graph.bond_angles) for row in data.rows])

    def fit(self, encoder, train, val, cfg, task, *, device, precision, seed, progress, desc, start=None):
        from ..data.molecules import atom_feature_dim, bond_feature_dim
        from .graph import fit_graph_source
        self.check(task, train)
        model, details = fit_graph_source(
            self.name, self.source(train), train.labels_at, self.source(val), val.labels, cfg, task, device=device,
            seed=seed, atom_dim=atom_feature_dim(self.graph.atom_features),
            bond_dim=bond_feature_dim(self.graph.bond_angles), progress=progress, desc=desc,
            model_kwargs=self.graph.sizes(), start=start)
        return Fitted(self, model, task, details, device, precision)

    def score(self, fitted, data):
        from .graph import predict_source
        return predict_source(fitted.model, self.source(data), fitted.task, fitted.device)

    def settings(self, fitted):
        return {"graph": {"kind": self.name, "atom_features": self.graph.atom_features,
                          "bond_angles": self.graph.bond_angles, **self.graph.sizes(),
                          "n_outputs": fitted.model.n_outputs}}

    def save(self, fitted, out, tokenizer, meta, merge):
        """``graph_model.safetensors`` and the tokenizer in ``encoder/``."""
        out.mkdir(parents=True, exist_ok=True)
        save_tensors({k: v.contiguous().cpu() for k, v in fitted.model.state_dict().items()},
                     str(out / "graph_model.safetensors"))
        tokenizer.save(out / "encoder")

    def load(self, directory, manifest, task, device):
        from safetensors.torch import load_file

        from ..data.molecules import atom_feature_dim, bond_feature_dim
        from ..models.gnn import GraphPredictor
        graph, head = dict(manifest["graph"]), manifest["head"]
        mode = copy_with(self, graph=GraphOptions(**{k: graph[k] for k in ("hidden", "layers", "heads", "dropout",
                                                                           "atom_features")},
                                                  bond_angles=graph.get("bond_angles", False)))
        model = GraphPredictor(self.name, atom_feature_dim(mode.graph.atom_features),
                               bond_feature_dim(mode.graph.bond_angles), n_outputs=graph["n_outputs"],
                               head_hidden=head["hidden"], head_dropout=head["dropout"], **mode.graph.sizes())
        model.load_state_dict(load_file(str(directory / "graph_model.safetensors")))
        return Fitted(mode, model.to(device).eval(), task, {}, device)


def copy_with(mode: TransferMode, **changes) -> TransferMode:
    """A copy of a registered mode with some attributes changed (the registered instance stays as it is)."""
    import copy
    out = copy.copy(mode)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


@register_mode
class GCN(GraphNetwork):
    name = "gcn"


@register_mode
class GAT(GraphNetwork):
    name = "gat"


def fit_in_mode(mode: str, encoder, train, val, cfg, task: Task, *, device, precision: str = "fp32", seed: int = 0,
                progress: bool = True, desc: str = "finetune", start=None) -> Fitted:
    """Transfer ``encoder`` to ``task`` in ``mode`` (``cfg``: the finetune section), early stopping on ``val``;
    ``start``: the model an interrupted ``finetune`` kept, to continue from."""
    return get_mode(mode).fit(encoder, train, val, cfg, task, device=device, precision=precision, seed=seed,
                              progress=progress, desc=desc, start=start)


@dataclass
class NeighbourModel:
    """A frozen encoder and its embeddings of the training rows, with their labels and groups."""

    encoder: object
    reference: np.ndarray
    labels: np.ndarray
    groups: np.ndarray | None
    k: int
    calibrate: Any = None  # similarity → probability (Platt scaling on the validation split)


@register_mode
class NearestNeighbour(TransferMode):
    """The frozen encoder's embedding space read by nearest neighbours (cosine): each test row scored by its
    similarity to the nearest training positives of its group (:mod:`seqssl.transfer.knn`). Nothing trains."""

    name = "knn"

    def check(self, task, data):
        from .knn import predicts
        if not predicts(task):
            raise InputError(f"--mode knn predicts binary labels or numbers, not {task.name}",
                             fix="use --mode probe, full or lora")

    def fit(self, encoder, train, val, cfg, task, *, device, precision, seed, progress, desc, start=None):
        from ..models.encoder import embed_dataset
        from .knn import Calibration, choose_k, cosine_similarity, knn_scores
        self.check(task, train)
        reference = embed_dataset(encoder, train, device)
        val_similarity = cosine_similarity(embed_dataset(encoder, val, device), reference)
        k, best = choose_k(task, val_similarity, train.labels, val.labels, val.group_keys, train.group_keys)
        calibrate = Calibration(task, knn_scores(task, val_similarity, train.labels, val.group_keys,
                                                 train.group_keys, k), val.labels)
        model = NeighbourModel(encoder, reference, train.labels, train.group_keys, k, calibrate)
        return Fitted(self, model, task, {"k": k, "best_val": best, "mode": "knn"}, device, precision)

    def score(self, fitted, data):
        from ..models.encoder import embed_dataset
        from .knn import cosine_similarity, knn_scores
        model = fitted.model
        similarity = cosine_similarity(embed_dataset(model.encoder, data, fitted.device), model.reference)
        return model.calibrate(knn_scores(fitted.task, similarity, model.labels, data.group_keys, model.groups,
                                          model.k))

    def save(self, fitted, out, tokenizer, meta, merge):
        """``out/encoder`` (the unchanged encoder) and ``knn.safetensors`` (reference embeddings and labels)
        + ``knn.json`` (k, the reference rows' groups, the Platt scaling of the scores)."""
        import json

        from ..io import atomic_write_text
        model = fitted.model
        model.encoder.save(out / "encoder", tokenizer, meta=meta)
        save_tensors({"reference": torch.from_numpy(np.ascontiguousarray(model.reference, dtype=np.float32)),
                   "labels": torch.from_numpy(np.asarray(model.labels, dtype=np.float32))},
                  str(out / "knn.safetensors"))
        groups = None if model.groups is None else [str(g) for g in model.groups]
        atomic_write_text(out / "knn.json", json.dumps({"k": model.k, "groups": groups,
                                                        "calibration": model.calibrate.to_dict()}))

    def load(self, directory, manifest, task, device):
        """The encoder, reference embeddings, labels, groups, k and calibration that :meth:`save` wrote."""
        import json

        from safetensors.torch import load_file

        from ..models.encoder import load_encoder
        from .knn import Calibration
        encoder, _ = load_encoder(directory / "encoder")
        tensors = load_file(str(directory / "knn.safetensors"))
        saved = json.loads((directory / "knn.json").read_text())
        groups = None if saved["groups"] is None else np.asarray(saved["groups"], dtype=object)
        model = NeighbourModel(encoder, tensors["reference"].numpy(), tensors["labels"].numpy(), groups, saved["k"],
                               Calibration.from_dict(saved["calibration"]))
        return Fitted(self, model, task, {}, device)


@dataclass
class PrototypeModel:
    """A frozen encoder, its class prototypes and the scores' calibration."""

    encoder: object
    prototypes: Any
    calibrate: Any = None


@register_mode
class Prototype(TransferMode):
    """The frozen encoder's embedding space read by class prototypes (:mod:`seqssl.transfer.prototype`; per group,
    e.g. per peptide, where the group has both classes); scores Platt-scaled on the validation split. Nothing
    trains."""

    name = "prototype"

    def check(self, task, data):
        if task.per_token or not task.binary:
            raise InputError(f"--mode prototype scores binary labels, not {task.name}",
                             fix="use --mode probe, full or lora")

    def fit(self, encoder, train, val, cfg, task, *, device, precision, seed, progress, desc, start=None):
        from ..models.encoder import embed_dataset
        from .knn import Calibration
        from .prototype import Prototypes
        self.check(task, train)
        prototypes = Prototypes.fit(embed_dataset(encoder, train, device), train.labels, train.group_keys)
        val_scores = prototypes.scores(embed_dataset(encoder, val, device), val.group_keys)
        model = PrototypeModel(encoder, prototypes, Calibration(task, val_scores, val.labels))
        return Fitted(self, model, task, {"mode": "prototype", "groups": len(prototypes.means) - 1}, device,
                      precision)

    def score(self, fitted, data):
        from ..models.encoder import embed_dataset
        model = fitted.model
        return model.calibrate(model.prototypes.scores(embed_dataset(model.encoder, data, fitted.device),
                                                       data.group_keys))

    def save(self, fitted, out, tokenizer, meta, merge):
        """``out/encoder`` (the unchanged encoder), ``prototypes.safetensors`` (one 2 × d tensor of class means
        per group: negatives, positives) and ``prototypes.json`` (the groups' names, in the tensors' order, and
        the Platt scaling of the scores)."""
        import json

        from ..io import atomic_write_text
        model = fitted.model
        model.encoder.save(out / "encoder", tokenizer, meta=meta)
        means = model.prototypes.means
        save_tensors({f"group_{i}": torch.from_numpy(np.ascontiguousarray(means[key], dtype=np.float32))
                      for i, key in enumerate(means)}, str(out / "prototypes.safetensors"))
        atomic_write_text(out / "prototypes.json", json.dumps({"groups": list(means),
                                                               "calibration": model.calibrate.to_dict()}))

    def load(self, directory, manifest, task, device):
        """The encoder, class means and calibration that :meth:`save` wrote."""
        import json

        from safetensors.torch import load_file

        from ..models.encoder import load_encoder
        from .knn import Calibration
        from .prototype import Prototypes
        encoder, _ = load_encoder(directory / "encoder")
        tensors = load_file(str(directory / "prototypes.safetensors"))
        saved = json.loads((directory / "prototypes.json").read_text())
        means = {key: tensors[f"group_{i}"].numpy().astype(np.float64) for i, key in enumerate(saved["groups"])}
        return Fitted(self, PrototypeModel(encoder, Prototypes(means), Calibration.from_dict(saved.get("calibration"))),
                      task, {}, device)

