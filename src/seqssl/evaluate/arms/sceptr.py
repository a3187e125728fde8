"""``--arms model:sceptr`` and ``model:sceptr/VARIANT``: SCEPTR (Nagano et al., Cell Systems 2025; ``pip install
sceptr``, MIT, weights inside the package) as a frozen TCR encoder, in the ``probe``, ``knn`` and ``probe+kmer``
modes, on the same folds as every other arm.

SCEPTR reads a receptor as its V genes and CDR3s (it looks the CDR1/CDR2 up itself). The arm gives it, for each
``--v-gene-columns`` column, the raw V gene name and the CDR3 column that follows the gene's CDR1/CDR2 among the
sequence columns (:func:`seqssl.data.v_genes.ordered_columns`); the chain is read from the gene names (TRAV…,
TRBV…). Further columns (a peptide) are not SCEPTR's input: they are the groups of ``knn`` and the k-mer ×
peptide features of ``probe+kmer``; a ``probe`` on SCEPTR's vectors alone does not see the peptide.

SCEPTR's vectors of every row are computed once per run (it is frozen and never sees a label) and served to the
transfer modes by :class:`RowVectors`, a module that looks a row's vector up from its row number, so the modes'
code is the one every encoder arm uses. ``sceptr`` pins pandas 2: install it with ``pip install
'seqssl[sceptr]'`` into an environment of its own (``make test-sceptr`` builds one with
``constraints-sceptr.txt``).
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...data.dataset import EncodedDataset
from ...data.tokenizers.vocab import CLS_ID, SEP_ID
from ...data.v_genes import cdr_column_names
from ...errors import InputError
from .base import RunContext
from .encoders import EncoderArm

NAME = "sceptr"
FROZEN_MODES = ("probe", "knn", "probe+kmer")
ROW_ID_BASE = 16  # a row's token: its number plus this (above seqssl's special-token ids)
SPECIES = {"human": "homosapiens", "mouse": "musmusculus"}
CHAIN_COLUMNS = {"A": ("TRAV", "CDR3A"), "B": ("TRBV", "CDR3B")}
LOADED = "sceptr vectors"


class RowVectors(nn.Module):
    """Precomputed vectors, one per row of a run, as a frozen encoder: row ``i`` is the input ``[CLS] i+16
    [SEP]`` and its output is row ``i``'s vector. What the transfer modes need of an encoder and nothing more."""

    vectors: torch.Tensor  # a buffer (declared for the type checker)

    def __init__(self, vectors: np.ndarray):
        super().__init__()
        self.register_buffer("vectors", torch.as_tensor(np.asarray(vectors, dtype=np.float32)))
        self.pooling = "cls"

    @property
    def hidden_size(self) -> int:
        return int(self.vectors.shape[1])

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        return self.vectors[input_ids[:, 1] - ROW_ID_BASE]


def row_tokens(n: int) -> list[np.ndarray]:
    """The inputs of :class:`RowVectors` for rows ``0..n-1``."""
    return [np.array([CLS_ID, ROW_ID_BASE + i, SEP_ID], dtype=np.int64) for i in range(n)]


def receptor_frame(frame: pd.DataFrame, columns: list[str], v_gene_columns: list[str]) -> pd.DataFrame:
    """SCEPTR's input table (``TRAV, CDR3A, TRBV, CDR3B``; a chain the data lacks is left empty) from the run's
    table: each V gene column with the CDR3 column after its CDR1/CDR2."""
    if not v_gene_columns:
        raise InputError(f"model:{NAME} reads V genes and CDR3s, and the run names no V gene column",
                         fix="pass --v-gene-columns v_a_gene,v_b_gene (or v_b_gene) with the CDR3 columns")
    out: dict[str, object] = {}
    for gene in v_gene_columns:
        cdr2 = cdr_column_names([gene])[1]
        if cdr2 not in columns or columns.index(cdr2) + 1 >= len(columns):
            raise InputError(f"model:{NAME}: no CDR3 column follows the CDR1/CDR2 of {gene}",
                             fix="give the CDR3 columns in the order of --v-gene-columns")
        cdr3 = columns[columns.index(cdr2) + 1]
        if cdr3.endswith(("_cdr1", "_cdr2")):
            raise InputError(f"model:{NAME}: no CDR3 column follows the CDR1/CDR2 of {gene} (next is {cdr3})",
                             fix="give the CDR3 columns in the order of --v-gene-columns")
        names = frame[gene].astype("string").str.strip()  # a missing gene stays missing (SCEPTR's own rule)
        known = names.dropna()
        chain = known.str.upper().str[2].mode().iat[0] if len(known) else "B"
        if chain not in CHAIN_COLUMNS:
            raise InputError(f"model:{NAME}: {gene} holds neither TRAV nor TRBV genes", fix="SCEPTR reads α/β TCRs")
        v_name, cdr3_name = CHAIN_COLUMNS[chain]
        out[v_name] = [None if pd.isna(v) else str(v) for v in names]
        out[cdr3_name] = frame[cdr3].astype(str).str.strip().to_numpy()
    return pd.DataFrame(out)


def load_variant(variant: str | None):
    """SCEPTR's default model, or the variant of ``sceptr.variant`` named ``variant`` (``b_sceptr``, ``small``,
    ``synthetic_data``, ...)."""
    from ...extras import require
    require("sceptr", f"model:{NAME}")
    import sceptr.variant as variants
    if variant is None:
        return variants.default()
    known = sorted(n for n in dir(variants) if not n.startswith("_") and callable(getattr(variants, n))
                   and n not in ("load_variant",))
    if variant not in known:
        raise InputError(f"unknown SCEPTR variant '{variant}'", fix=f"use one of {', '.join(known)}")
    return getattr(variants, variant)()


PROBE_CDR3 = {"TRAV": ("CDR3A", "CAVRPGGAGPFFVVF"), "TRBV": ("CDR3B", "CASSLGQAYEQYF")}


def without_unread_v_genes(model, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """``frame`` with the V genes SCEPTR refuses (pseudogenes such as human TRBV12-1, names it does not know)
    left empty, so that it reads that chain from its CDR3 alone (its own rule for a missing V gene; every arm
    keeps the same rows), and the count of rows so changed per refused gene. Each distinct name is tried once."""
    unread: dict[str, int] = {}
    for v_column, (cdr3_column, cdr3) in PROBE_CDR3.items():
        if v_column not in frame:
            continue
        bad = set()
        for gene in frame[v_column].dropna().unique():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.calc_vector_representations(pd.DataFrame({v_column: [gene], cdr3_column: [cdr3]}))
            except Exception:  # SCEPTR's refusal of this name (its exception types are not public API)
                bad.add(gene)
        refused = frame[v_column].isin(bad)
        unread |= {str(g): int((frame[v_column] == g).sum()) for g in sorted(bad)}
        frame = frame.assign(**{v_column: frame[v_column].where(~refused, None)})
    if unread:
        warnings.warn(f"model:sceptr reads {sum(unread.values())} rows without their V gene, which SCEPTR "
                      f"refuses ({', '.join(sorted(unread))}): their CDR3 only, for that chain", UserWarning,
                      stacklevel=2)
    return frame, unread


class SceptrArm(EncoderArm):
    """SCEPTR's frozen vectors, in the modes that keep an encoder frozen."""

    requires = ("sceptr",)

    def __init__(self, variant: str | None = None):
        self.variant = variant or None
        self.unread_v_genes: dict[str, int] = {}
        self.name = f"{NAME}/{variant}" if variant else NAME

    def modes(self, modes, data=None):
        return [m for m in modes if m in FROZEN_MODES]

    def check_run(self, run, modes):
        def frozen_only():
            if not self.modes(modes, run.data):
                raise InputError(f"model:{self.name} runs only in {', '.join(FROZEN_MODES)} modes (a frozen "
                                 f"encoder), and --mode is {','.join(modes)}", fix="add --mode knn (or probe)")
        return [frozen_only, lambda: self.vectors(run), *super().check_run(run, modes)]

    def vectors(self, run: RunContext) -> np.ndarray:
        """SCEPTR's vector of every row of the run, computed once."""
        key = (LOADED, self.name)
        if key not in run.cache:
            model = load_variant(self.variant)
            import sceptr
            sceptr.setup(SPECIES[run.cfg.data.organism])
            frame = receptor_frame(run.data.table.frame, run.data.columns, run.cfg.data.v_gene_columns)
            frame, self.unread_v_genes = without_unread_v_genes(model, frame)
            try:
                with warnings.catch_warnings():  # torch's note on its nested tensors, inside SCEPTR: not the user's
                    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")
                    run.cache[key] = np.asarray(model.calc_vector_representations(frame), dtype=np.float32)
            except Exception as err:  # SCEPTR's own checks (unknown V genes, bad CDR3s) say what is wrong
                raise InputError(f"model:{self.name} could not read the receptors: {err}",
                                 fix="check the V gene names (IMGT, e.g. TRBV5-1*01) and the CDR3 columns") from None
        return run.cache[key]

    def own_run(self, run: RunContext) -> RunContext:
        """The run with each row's input replaced by its row number (:class:`RowVectors`)."""
        original = run.data.encoded
        n = len(original)
        encoded = EncodedDataset(row_tokens(n), [np.zeros(3, dtype=np.int64)] * n, original.labels,
                                 original.meta, None, original.group_keys, original.rows)
        data = copy.copy(run.data)
        data.encoded = encoded
        return replace(run, data=data, cache={**run.cache})

    def encoder(self, run, fold):
        return RowVectors(self.vectors(run)), {"model": self.provenance()}

    def prepare(self, run, fold):
        """The encoder and, on fold 0, the embedding map (no pair retrieval: SCEPTR embeds receptors only)."""
        from ...models.encoder import embed_dataset
        from ..embedding_map import embedding_map
        own = self.own_run(run)
        encoder, record = self.encoder(own, fold)
        if fold.k == 0 and not run.task.per_token and run.cfg.crossval.embedding_map:
            test = own.data.encoded.subset(fold.split.test)
            record["embedding_map"] = embedding_map(embed_dataset(encoder, test, run.device),
                                                    run.task.colour_labels(test), fold.seed)
        return encoder, record

    def fit(self, run, fold, unit, state):
        return super().fit(self.own_run(run), fold, unit, state)

    def provenance(self) -> dict:
        from importlib.metadata import version
        return {"model": f"SCEPTR {self.variant or 'default'}", "package": f"sceptr {version('sceptr')}",
                "rows_read_without_v_gene": self.unread_v_genes,
                "pretraining_leakage": "not accounted: SCEPTR's pretraining data is its authors' (public human "
                                       "repertoires)"}
