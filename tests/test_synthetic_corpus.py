"""seqssl corpus synthetic: OLGA draws with V/J genes and IMGT CDR1/CDR2, reproducible from the seed, a card that
counts what it kept, the bundled background β added for human β, and a clear error without the extra."""
import json

import pandas as pd
import pytest

from conftest import run_cli
from seqssl.data.v_genes import cdr1_cdr2


def test_a_mouse_paired_corpus_is_reproducible_and_carries_its_card(tmp_path):
    pytest.importorskip("olga")
    paths = [tmp_path / f"syn{i}.parquet" for i in (1, 2)]
    for path in paths:
        assert run_cli(["corpus", "synthetic", "--species", "mouse", "--chains", "alpha,beta", "--n", "300",
                        "--seed", "7", "--out", str(path)]) == 0
    one, two = (pd.read_parquet(p) for p in paths)
    assert one.equals(two)
    assert {"v_a_gene", "j_a_gene", "cdr3_a_aa", "v_a_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa"} <= set(one.columns)
    assert one["cdr3_b_aa"].str.match(r"^C[A-Z]+$").all() and one["v_a_gene"].str.startswith("TRAV").all()
    for _, row in one.head(20).iterrows():
        assert (row["v_b_gene_cdr1"], row["v_b_gene_cdr2"]) == cdr1_cdr2(row["v_b_gene"], "mouse")
    card = json.loads(paths[0].with_name(paths[0].name + ".card.json").read_text())
    assert card["kept"] == len(one) and card["drawn"] == 300 and card["seed"] == 7
    assert 300 - sum(card["dropped_without_imgt_cdr1_cdr2"].values()) <= card["kept"] <= 300
    assert "GPL-3.0" in paths[0].with_name(paths[0].name + ".card.md").read_text()


def test_human_beta_adds_the_real_background(tmp_path):
    pytest.importorskip("olga")
    out = tmp_path / "b.parquet"
    assert run_cli(["corpus", "synthetic", "--species", "human", "--chains", "beta", "--n", "100", "--out",
                    str(out)]) == 0
    frame = pd.read_parquet(out)
    counts = frame["source"].value_counts().to_dict()
    assert counts["synthetic"] <= 100 and counts["background"] > 90_000
    card = json.loads(out.with_name(out.name + ".card.json").read_text())
    assert card["background_beta_rows"] == counts["background"]


def test_bad_chains_and_a_missing_extra_are_clear(tmp_path, capsys, monkeypatch):
    assert run_cli(["corpus", "synthetic", "--chains", "gamma", "--out", str(tmp_path / "x.parquet")]) == 2
    assert "unknown chains ['gamma']" in capsys.readouterr().err
    import builtins
    real_import = builtins.__import__

    def no_olga(name, *args, **kwargs):
        if name.startswith("olga"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_olga)
    monkeypatch.setattr("importlib.import_module", lambda name: no_olga(name))
    assert run_cli(["corpus", "synthetic", "--n", "5", "--out", str(tmp_path / "y.parquet")]) == 2
    assert "pip install 'seqssl[synthetic]'" in capsys.readouterr().err
