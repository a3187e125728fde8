"""Similarity clusters (``--split cluster``) against brute force, the splits they make, and end to end."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import connected_components

from conftest import levenshtein, run_cli
from seqssl.data.builtin import builtin_path
from seqssl.data.splits import carve_validation, make_folds
from seqssl.data.splits.clusters import (
    TOLERANCE,
    cluster_ids,
    deletion_pairs,
    nearest_across,
    parse_threshold,
    window_pairs,
)
from seqssl.errors import InputError

AMINO = "ACDEFGHIKLMNPQRSTVWY"


def mutate(s: str, rng) -> str:
    """One random substitution, insertion or deletion."""
    i = int(rng.integers(len(s)))
    kind = rng.integers(3)
    if kind == 0:
        return s[:i] + AMINO[rng.integers(20)] + s[i + 1:]
    if kind == 1:
        return s[:i] + AMINO[rng.integers(20)] + s[i:]
    return s[:i] + s[i + 1:]


@pytest.fixture(scope="module")
def sample():
    """~300 CDR3-like strings: 180 real CDR3β plus planted chains of 1–2-edit variants and exact repeats,
    with their brute-force distance matrix."""
    rng = np.random.default_rng(3)
    base = pd.read_csv(builtin_path("background_cdr3b"), dtype=str)["cdr3_b_aa"].dropna().to_numpy()
    seqs = [str(s) for s in rng.choice(base, 180, replace=False)]
    for _ in range(110):
        s = seqs[int(rng.integers(len(seqs)))]
        for _ in range(int(rng.integers(1, 3))):
            s = mutate(s, rng)
        seqs.append(s)
    seqs += [seqs[int(i)] for i in rng.integers(0, len(seqs), 10)]
    n = len(seqs)
    dist = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = levenshtein(seqs[i], seqs[j])
    return seqs, dist


def identity_matrix(seqs, dist):
    longer = np.maximum.outer([len(s) for s in seqs], [len(s) for s in seqs])
    return 1 - dist / longer


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two labelings describe the same clusters (labels may differ)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def brute_clusters(linked: np.ndarray) -> np.ndarray:
    return connected_components(linked.astype(np.int8), directed=False)[1]


@pytest.mark.parametrize("spec", ["edit:0", "edit:1", "edit:2", "identity:0.8", "identity:0.7"])
def test_clusters_are_the_components_of_the_brute_force_graph(sample, spec):
    seqs, dist = sample
    t = parse_threshold(spec)
    linked = dist <= t.k if t.measure == "edit" else identity_matrix(seqs, dist) >= t.value - TOLERANCE
    ids = cluster_ids(seqs, spec)
    i, j = np.nonzero(linked)
    assert (ids[i] == ids[j]).all()  # every within-threshold pair in one cluster: none across clusters
    assert same_partition(ids, brute_clusters(linked))  # and nothing merged that single linkage would not
    assert 1 < len(set(ids.tolist())) < len(seqs)


def edges(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    m = np.zeros((n, n), bool)
    m[a, b] = True
    return m


def test_the_deletion_index_finds_exactly_the_distance_one_pairs(sample):
    seqs, dist = sample
    unique = list(dict.fromkeys(seqs))
    d = dist[np.ix_(*[[seqs.index(s) for s in unique]] * 2)]
    a, b = deletion_pairs(unique)
    assert (d[a, b] == 1).all()  # exact keys: no false pair, nothing to verify
    components = brute_clusters(edges(len(unique), a, b))
    assert same_partition(components, brute_clusters(d == 1))  # a star per key: every pair's components
    wa, wb = window_pairs(unique, parse_threshold("edit:1"))  # the general path agrees
    assert same_partition(components, brute_clusters(edges(len(unique), wa, wb)))


def test_cluster_folds_and_validation_keep_near_duplicates_on_one_side(sample):
    seqs, dist = sample
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, len(seqs)).astype(float)
    groups = cluster_ids(seqs, "edit:1")
    folds = make_folds(5, labels, groups, "cluster", 0, stratify=True)
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(len(seqs)))
    for train, _, test in folds:
        assert dist[np.ix_(train, test)].min() > 1  # brute force over the fold
        fit, val, _ = carve_validation(train, labels, groups, 0.15, 0, True, grouped_as="cluster")
        assert dist[np.ix_(fit, val)].min() > 1
        record = nearest_across([seqs[i] for i in train], [seqs[i] for i in test], "edit:1")
        low = dist[np.ix_(train, test)].min()
        assert record == {"min_train_test_edit_distance": int(low) if low <= 3 else "> 3"}


def test_identity_leakage_is_the_highest_identity_across(sample):
    seqs, dist = sample
    ident = identity_matrix(seqs, dist)
    train, test = np.arange(0, 150), np.arange(150, len(seqs))
    record = nearest_across([seqs[i] for i in train], [seqs[i] for i in test], "identity:0.7")
    assert record["max_train_test_identity"] == pytest.approx(ident[np.ix_(train, test)].max(), abs=1e-4)


def test_too_few_clusters_for_the_folds_is_explained():
    with pytest.raises(InputError, match="2 clusters is fewer than 5 folds") as err:
        make_folds(5, np.zeros(10), np.repeat([0, 1], 5), "cluster", 0, stratify=False)
    assert "--cluster-threshold" in err.value.fix


@pytest.mark.parametrize("spec, expected", [("edit:1", ("edit", 1.0)), ("identity:0.3", ("identity", 0.3)),
                                            (" edit : 0 ", ("edit", 0.0)), ("identity:1", ("identity", 1.0))])
def test_threshold_spellings(spec, expected):
    t = parse_threshold(spec)
    assert (t.measure, t.value) == expected and parse_threshold(str(t)) == t


@pytest.mark.parametrize("spec", ["edit", "edit:-1", "edit:1.5", "identity:0", "identity:1.2", "ident:0.3",
                                  "0.3", "", None])
def test_bad_thresholds_name_both_spellings(spec):
    with pytest.raises(InputError) as err:
        parse_threshold(spec)
    assert "edit:K" in err.value.fix and "identity:F" in err.value.fix


def random_protein(rng, n: int) -> str:
    return "".join(AMINO[i] for i in rng.integers(0, 20, n))


def protein_families(rng):
    """3 families of 5 proteins (length ~120, each ~90% identical to its founder) and 3 unrelated ones."""
    seqs, family = [], []
    for f in range(3):
        founder = random_protein(rng, 120 + 10 * f)
        for _ in range(5):
            s = list(founder)
            for i in rng.choice(len(s), 12, replace=False):
                s[i] = AMINO[rng.integers(20)]
            seqs.append("".join(s))
            family.append(f)
    for k in range(3):
        seqs.append(random_protein(rng, 110 + 7 * k))
        family.append(3 + k)
    return seqs, np.array(family)


@pytest.mark.skipif(shutil.which("mmseqs") is None,
                    reason="MMseqs2 not installed (apt-get install mmseqs2 or conda install -c bioconda mmseqs2)")
def test_mmseqs_clusters_proteins_by_identity(tmp_path):
    seqs, family = protein_families(np.random.default_rng(1))
    (tmp_path / "proteins.fasta").write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(seqs)))
    ids = cluster_ids(seqs, "identity:0.5")
    assert same_partition(ids, family)
    train = [s for s, f in zip(seqs, family) if f in (0, 3)]
    test = [s for s, f in zip(seqs, family) if f not in (0, 3)]
    found = nearest_across(train, test, "identity:0.5")["max_train_test_identity"]
    assert found == "none found" or found < 0.5


def test_missing_mmseqs_names_the_fix(monkeypatch):
    seqs, _ = protein_families(np.random.default_rng(1))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="MMseqs2") as err:
        cluster_ids(seqs, "identity:0.5")
    assert "apt-get install mmseqs2" in err.value.fix and "bioconda mmseqs2" in err.value.fix


def crossval_args(data, out, *extra):
    return ["crossval", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--task", "pair-classification", "--arms", "kmer", "--folds", "3", "--quiet", "--out", str(out),
            *extra]


def test_crossval_cluster_split_end_to_end(tmp_path, small_binding_csv):
    assert run_cli(crossval_args(small_binding_csv, tmp_path / "out", "--split", "cluster",
                                 "--cluster-threshold", "edit:1")) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["split"] == "cluster"
    cdr3 = pd.read_csv(small_binding_csv, dtype=str)["cdr3_b_aa"].str.strip().str.upper().tolist()
    preds = pd.read_csv(tmp_path / "out" / "predictions.csv")
    for record in results["leakage"]:
        low = record["min_train_test_edit_distance"]
        assert low == "> 3" or low in (2, 3)
        test = set(preds[preds.fold == record["fold"]]["row"].tolist())
        train = [cdr3[i] for i in range(len(cdr3)) if i not in test]
        brute = min(levenshtein(a, cdr3[b]) for a in train for b in test)
        assert brute > 1 and low == (brute if brute <= 3 else "> 3")
    assert "min_train_test_edit_distance" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--split", "cluster"], "needs --cluster-threshold"),
    (["--split", "cluster", "--cluster-threshold", "edit=1"], "neither edit:K nor identity:F"),
    (["--split", "random", "--cluster-threshold", "edit:1"], "used by --split cluster"),
    (["--split", "cluster", "--cluster-threshold", "edit:1", "--cluster-column", "nope"], "missing column 'nope'"),
])
def test_cluster_option_mistakes_exit_2(tmp_path, small_binding_csv, capsys, extra, message):
    assert run_cli(crossval_args(small_binding_csv, tmp_path / "out", *extra)) == 2
    assert message in capsys.readouterr().err
