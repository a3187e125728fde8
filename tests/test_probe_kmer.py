"""--mode probe+kmer: the frozen embedding beside the kmer arm's features in one linear model; compared with kmer
alone in the table."""
import json

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from conftest import run_cli
from seqssl.config import ModelConfig
from seqssl.data.dataset import encode_table
from seqssl.data.formats.readers import read_table
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.models.encoder import SequenceEncoder, embed_dataset
from seqssl.transfer.kmer import KmerFeatures
from seqssl.transfer.probe import fit_probe_with_kmers


def test_the_model_is_a_linear_model_on_embedding_and_kmers(small_binding_csv):
    frame = pd.read_csv(small_binding_csv, dtype=str)
    table, columns = read_table(frame), ["cdr3_b_aa", "peptide"]
    tokenizer = SequenceTokenizer()
    data = encode_table(table, columns, tokenizer, 64)
    data.labels = frame["label"].astype(float).to_numpy()
    data.rows = list(zip(frame["cdr3_b_aa"], frame["peptide"]))
    encoder = SequenceEncoder.build(ModelConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=16,
                                                max_length=64), tokenizer.vocab_size, 2)
    fit, val = data.subset(np.arange(0, 160)), data.subset(np.arange(160, 240))
    model, details = fit_probe_with_kmers(encoder, fit, val, "pair-classification", device="cpu", seed=0)
    # the same model built by hand from its parts, with the strength the validation split chose
    scaler = StandardScaler().fit(embed_dataset(encoder, fit, "cpu"))
    kmers = KmerFeatures(3).fit(fit.rows)

    def design(part):
        return sparse.hstack([sparse.csr_matrix(scaler.transform(embed_dataset(encoder, part, "cpu"))),
                              kmers.transform(part.rows)]).tocsr()
    by_hand = LogisticRegression(C=details["strength"], max_iter=2000, solver="liblinear", random_state=0)
    by_hand.fit(design(fit), fit.labels)
    np.testing.assert_allclose(model.predict(val), by_hand.predict_proba(design(val))[:, 1], atol=1e-6)


def test_crossval_rows_in_probe_and_probe_kmer_mode_are_compared_with_kmer(small_binding_csv, tmp_path):
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--arms", "none,kmer", "--mode", "probe,probe+kmer", "--folds", "2", "--out", str(out),
                    "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"none[probe]", "none[probe+kmer]", "kmer", "kmer[per-value]"} == set(results["arms"])
    pairs = {(c["arm"], c["baseline"]) for c in results["comparisons"] if c["metric"] == "auroc"}
    assert ("kmer", "none[probe+kmer]") in pairs and ("kmer[per-value]", "none[probe]") in pairs
