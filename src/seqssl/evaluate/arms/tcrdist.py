"""``tcrdist``: the field's distance baseline for TCR specificity (Dash et al. 2017): a test receptor's score is
its TCRdist to the nearest training binders of the same peptide (:mod:`seqssl.transfer.tcrdist`), read by the
same nearest-neighbour rule as the ``knn`` arm (k chosen and scores calibrated on the validation split).

Which columns are which: the sequence columns but the last (the peptide, which groups the neighbours) are the
CDR3s, one per chain; ``--v-gene-columns`` names each chain's V gene in the same order (``v_a_gene,v_b_gene``
with ``cdr3_a_aa,cdr3_b_aa``), from which the IMGT-gapped CDR1, CDR2 and CDR2.5 are looked up for
``--organism``. Without V genes the distance is the CDR3 part alone; with one column, that column is the CDR3.
"""
from __future__ import annotations

from ...data.v_genes import cdr_column_names, name_key
from ...errors import InputError
from ...transfer.knn import Calibration, choose_k, knn_scores
from ...transfer.tcrdist import Receptor, germline_loops, tcrdist
from .base import Arm, register_arm

CACHE_KEY = "tcrdist receptors"


def receptors(run) -> Receptor:
    """The run's rows as receptors (CDR3s and V-gene loops per chain), built once per run."""
    if CACHE_KEY not in run.cache:
        run.cache[CACHE_KEY] = build_receptors(run.data, run.cfg.data)
    return run.cache[CACHE_KEY]


def build_receptors(data, data_cfg) -> Receptor:
    derived = set(cdr_column_names(data_cfg.v_gene_columns))
    own = [c for c in data.columns if c not in derived]
    cdr3_columns = own[:-1] if len(own) > 1 else own
    positions = [data.columns.index(c) for c in cdr3_columns]
    genes = list(data_cfg.v_gene_columns)
    if genes and len(genes) != len(cdr3_columns):
        raise InputError(f"tcrdist pairs each CDR3 column with a V gene column, in order: {cdr3_columns} with "
                         f"{genes}", fix="give one --v-gene-columns entry per CDR3 column, in the same order "
                         "(e.g. --columns cdr3_a_aa,cdr3_b_aa,peptide --v-gene-columns v_a_gene,v_b_gene)")
    cdr3 = [[row[p] for row in data.rows] for p in positions]
    loops = germline_loops(data_cfg.organism)
    germline: list[list[tuple[str, str, str]] | None] = []
    for column in genes:
        values = data.table.frame[column].astype(str).map(name_key)
        missing = sorted({v for v in values if v not in loops})
        if missing:
            raise InputError(f"tcrdist: no IMGT CDR1/CDR2/CDR2.5 for V genes {missing[:5]}", column=column,
                             fix="check the gene names and --organism, or drop such rows with --unknown-v-genes skip")
        germline.append([loops[v] for v in values])
    return Receptor(cdr3, germline if genes else [None] * len(cdr3))


@register_arm
class TCRdist(Arm):
    name = "tcrdist"
    baseline_rank = 4

    def check(self, task) -> None:
        if task.per_token or not (task.binary or task.standardise_targets):
            raise InputError(f"the tcrdist arm predicts binary labels or numbers, not {task.name}",
                             fix="drop tcrdist from --arms")

    def check_run(self, run, modes):
        return [lambda: receptors(run)]

    def fit(self, run, fold, unit, state):
        rec, groups, y, split = receptors(run), run.data.encoded.group_keys, run.data.targets, fold.split

        def similarity(queries, references):
            # 1 / (1 + distance): positive and decreasing, so regression's similarity weights mean something
            return 1.0 / (1.0 + tcrdist(rec.subset(queries), rec.subset(references)).astype("float64"))

        def grouped(idx):
            return None if groups is None else groups[idx]
        val_similarity = similarity(split.val, unit.fit_idx)
        k, best = choose_k(run.task, val_similarity, y[unit.fit_idx], y[split.val], grouped(split.val),
                           grouped(unit.fit_idx))
        calibrate = Calibration(run.task, knn_scores(run.task, val_similarity, y[unit.fit_idx], grouped(split.val),
                                                     grouped(unit.fit_idx), k), y[split.val])
        scores = knn_scores(run.task, similarity(split.test, unit.fit_idx), y[unit.fit_idx], grouped(split.test),
                            grouped(unit.fit_idx), k)
        return calibrate(scores), {"k": k, "best_val": best, "distance": "tcrdist",
                                   "chains": len(rec.cdr3), "germline_loops": rec.germline[0] is not None}
