"""Arms on molecules (the first column holds SMILES): ``ecfp`` (Morgan count fingerprints + a linear
model, the cheminformatics baseline) and ``gcn`` / ``gat`` (graph networks on RDKit molecular graphs)."""
from __future__ import annotations

from tqdm.auto import tqdm

from ...errors import InputError
from ...models.gnn_settings import GraphOptions
from ...transfer.fingerprint import fit_fingerprint_baseline
from .base import Arm, RunContext, register_arm


class MoleculeArm(Arm):
    needs_molecules = True
    requires: tuple[str, ...] = ("rdkit",)

    def check(self, task) -> None:
        if task.per_token:
            raise InputError("gcn, gat and ecfp predict per molecule, not per token", fix="drop them from --arms")


@register_arm
class Fingerprint(MoleculeArm):
    name = "ecfp"
    baseline_rank = 2

    def fit(self, run, fold, unit, state):
        smiles, y, split = run.data.first_column(), run.data.targets, fold.split
        model, details = fit_fingerprint_baseline([smiles[i] for i in unit.fit_idx], y[unit.fit_idx],
                                                  [smiles[i] for i in split.val], y[split.val], run.task, fold.seed)
        return model.predict([smiles[i] for i in split.test]), details


def molecule_graphs(run: RunContext, options: GraphOptions) -> list:
    """RDKit graphs of the (already validated) SMILES with the features ``options`` asks for, computed once per run
    for every graph arm and fold that asks for the same."""
    key = ("graphs", options.atom_features, options.bond_angles)
    if key not in run.cache:
        from ...data.molecules import mol_to_graph, parse_smiles
        smiles = run.data.first_column()
        run.cache[key] = [mol_to_graph(parse_smiles(s), bond_angles=options.bond_angles,
                                       atom_set=options.atom_features)
                          for s in tqdm(smiles, desc="molecular graphs", disable=not run.progress, unit="mol",
                                        leave=False)]
    return run.cache[key]


class GraphArm(MoleculeArm):
    """A graph network (:class:`~seqssl.models.gnn.GraphPredictor` of kind ``name``) trained from scratch; its
    settings ``crossval.<name>`` (:class:`~seqssl.models.gnn_settings.GraphOptions`)."""

    requires = ("rdkit", "torch_geometric")
    Options = GraphOptions

    def tunable(self, mode):
        return True

    def stochastic(self, mode):
        return True

    def fit(self, run, fold, unit, state):
        from ...transfer.graph import fit_graph_model, predict_graphs
        options = self.options(run.cfg)
        graphs, y, split, cfg = molecule_graphs(run, options), run.data.targets, fold.split, run.cfg
        model, details = fit_graph_model(
            self.name, [graphs[i] for i in unit.fit_idx], y[unit.fit_idx], [graphs[i] for i in split.val],
            y[split.val], unit.finetune(cfg.finetune), run.task, device=run.device, seed=unit.seed,
            loss=cfg.finetune.loss,
            focal_alpha=cfg.finetune.focal_alpha, focal_gamma=cfg.finetune.focal_gamma, progress=run.progress,
            desc=f"{unit.name} fold {fold.k}",
            model_kwargs=options.sizes())
        return predict_graphs(model, [graphs[i] for i in split.test], run.task, run.device), details


@register_arm
class GCN(GraphArm):
    name = "gcn"


@register_arm
class GAT(GraphArm):
    name = "gat"
