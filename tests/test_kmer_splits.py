import numpy as np

from seqssl.data.corpus import Corpus
from seqssl.data.dataset import EncodedDataset
from seqssl.data.splits import carve_validation, make_folds
from seqssl.transfer.kmer import KmerFeatures


def test_kmer_features_count_and_interact_with_second_column():
    f = KmerFeatures(max_k=2).fit([("AAC", "P1"), ("CA", "P2")])
    raw = f._raw([("AAC", "P1")]).toarray()[0]
    vocab = f.vectorizers[0].vocabulary_
    n_first, n_second = len(vocab), len(f.vectorizers[1].vocabulary_)
    first = raw[:n_first]
    assert first[vocab["a"]] == 2 and first[vocab["aa"]] == 1 and first[vocab["ac"]] == 1
    inter = raw[n_first + n_second:].reshape(2, n_first)  # one block per peptide
    assert np.array_equal(inter[0], first) and not inter[1].any()


def test_grouped_folds_and_validation_never_share_a_group():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 500).astype(str)
    labels = rng.integers(0, 2, 500).astype(float)
    folds = make_folds(5, labels, groups, "grouped", 0, stratify=True)
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(500))
    for tr, _, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        fit, val, _ = carve_validation(tr, labels, groups, 0.15, 0, True)
        assert not set(groups[fit]) & set(groups[val])
        assert set(fit) | set(val) == set(tr)


def test_leave_one_group_out_validates_on_one_whole_group():
    """4 peptides, 4 folds: each training fold has 3 groups, and validation is one of them."""
    groups = np.repeat(np.array(["P1", "P2", "P3", "P4"]), [300, 250, 200, 50])
    labels = np.tile([0.0, 1.0], 400)
    for tr, _, te in make_folds(4, labels, groups, "grouped", 0, stratify=True):
        assert len(set(groups[te])) == 1
        fit, val, _ = carve_validation(tr, labels, groups, 0.15, 0, True)
        assert len(set(groups[val])) == 1 and len(set(groups[fit])) == 2
        assert set(fit) | set(val) == set(tr)


def test_corpus_removes_test_sequences_and_duplicates():
    rows = [("CASS",), ("CAW",), ("CASS",), ("cat",)]
    enc = EncodedDataset([np.array([i]) for i in range(4)], [np.zeros(1)] * 4)
    corpus = Corpus(rows, enc)
    clean, removed = corpus.without({"CAT", "XYZ"})
    assert removed == 1 and clean.rows == [("CASS",), ("CAW",), ("CASS",)]
    assert clean.deduplicated().rows == [("CASS",), ("CAW",)]
