"""The settings of a molecular graph network (:class:`~seqssl.models.gnn.GraphPredictor`) and of the graphs it
reads, declared once (:mod:`seqssl.options`) for the ``gcn`` and ``gat`` arms (``crossval.gcn: {hidden: 64}``) and
read by the transfer modes of the same names (``finetune --mode gcn``). Kept apart from :mod:`.gnn` so that it
imports neither torch nor torch_geometric."""
from __future__ import annotations

from dataclasses import dataclass

from ..options import option


@dataclass
class GraphOptions:
    """Width, message-passing layers, attention heads (gat) and dropout of the network; the atom feature set and
    the bond-angle feature of its graphs (:func:`seqssl.data.molecules.mol_to_graph`)."""

    hidden: int = option(128, "width of the message-passing layers", at_least=1, old="gnn_hidden")
    layers: int = option(3, "message-passing layers", at_least=1, old="gnn_layers")
    heads: int = option(4, "attention heads (gat; hidden must divide by it)", at_least=1, old="gnn_heads")
    dropout: float = option(0.1, "dropout after each layer", at_least=0, below=1, old="gnn_dropout")
    atom_features: str = option("full", "full (68 atom features) | simple (element, degree, formal charge, "
                                "aromaticity)", choices=("full", "simple"), old="atom_features")
    bond_angles: bool = option(False, "add a bond-angle feature from an RDKit 3-D conformer (slow; not with "
                               "finetune --stream)", old="bond_angles")

    def sizes(self) -> dict:
        """The network's size arguments (:class:`~seqssl.models.gnn.GraphPredictor`)."""
        return {"hidden": self.hidden, "layers": self.layers, "heads": self.heads, "dropout": self.dropout}
