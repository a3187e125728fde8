"""IMGT V gene names to CDR1/CDR2 (seqssl.data.v_genes): hand-checked IMGT entries, allele-less and untidy
names, the error and skip policies, mouse, the config keys and flags, and that the vendored table is what
scripts/make_v_gene_table.py builds from tcrdist3 (as DATA.md records it)."""
import hashlib
import importlib.util
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from seqssl.config import load_config, nested
from seqssl.data.builtin import builtin_path
from seqssl.data.formats.readers import read_table
from seqssl.data.v_genes import add_cdr_columns, cdr1_cdr2, name_key, reference_rows, v_gene_table
from seqssl.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_v_gene_table.py"
DATA_MD = ROOT / "src" / "seqssl" / "data" / "builtin" / "DATA.md"

# Checked by hand against IMGT (IMGT/GENE-DB, IMGT unique numbering CDR1-IMGT 27-38, CDR2-IMGT 56-65)
IMGT = [
    ("human", "TRBV5-1*01", "SGHRS", "YFSETQ"),
    ("human", "TRBV6-5*01", "MNHEY", "SVGAGI"),
    ("human", "TRBV19*01", "LNHDA", "SQIVND"),
    ("human", "TRBV20-1*01", "DFQATT", "SNEGSKA"),
    ("human", "TRBV28*01", "MDHEN", "SYDVKM"),
    ("human", "TRAV12-2*01", "DRGSQS", "IYSNGD"),
    ("human", "TRAV1-2*01", "TSGFNG", "NVLDGL"),  # the MAIT alpha chain
    ("human", "TRAV21*01", "DSAIYN", "IQSSQRE"),
    ("mouse", "TRBV13-2*01", "NNHNN", "SYGAGS"),  # Vbeta8.2
]


@pytest.mark.parametrize("organism,gene,cdr1,cdr2", IMGT)
def test_hand_checked_imgt_entries(organism, gene, cdr1, cdr2):
    assert cdr1_cdr2(gene, organism) == (cdr1, cdr2)


def test_name_without_allele_whitespace_and_case():
    assert cdr1_cdr2("TRBV5-1") == ("SGHRS", "YFSETQ")
    assert cdr1_cdr2("  TRBV5-1*01\t") == ("SGHRS", "YFSETQ")
    assert cdr1_cdr2(" trbv5-1 ") == ("SGHRS", "YFSETQ")
    # alleles differ (*02, *03 have SHIVND): the allele-less name means *01
    assert cdr1_cdr2("TRBV19*02")[1] == "SHIVND"
    assert cdr1_cdr2("TRBV19") == cdr1_cdr2("TRBV19*01") == ("LNHDA", "SQIVND")
    # 10x Genomics writes TRAV/DV genes without the slash
    assert cdr1_cdr2("TRAV14DV4") == cdr1_cdr2("TRAV14/DV4*01")


def test_first_allele_when_there_is_no_01():
    # human TRBV12-2*01 holds a stop codon in CDR2 and is not in the table; nor is TRBV7-9*07 (5'-partial)
    with pytest.raises(InputError):
        cdr1_cdr2("TRBV7-9*07")
    table = v_gene_table("human")
    for key, numbers in table.allele_numbers.items():
        expected = "01" if "01" in numbers else min(numbers)
        assert table.genes[key] == table.alleles[f"{key}*{expected}"]


def test_every_chain_and_organism_is_there():
    rows = reference_rows()
    chains = {(o, c) for _, o, c, _, _ in rows}
    assert chains == {(o, c) for o in ("human", "mouse") for c in ("alpha", "beta", "gamma", "delta")}
    for gene, _, chain, cdr1, cdr2 in rows:
        assert gene[:3] == {"alpha": "TRA", "beta": "TRB", "gamma": "TRG", "delta": "TRD"}[chain]
        assert re.fullmatch(r"[ACDEFGHIKLMNPQRSTVWY]+", cdr1 + cdr2), gene
    for organism in ("human", "mouse"):  # dropping '/' and upper-casing merges no two alleles
        names = [g for g, o, *_ in rows if o == organism]
        assert len({name_key(g) for g in names}) == len(names)
    assert cdr1_cdr2("TRGV9*01", "human") and cdr1_cdr2("TRDV2", "human")


def test_unknown_names():
    with pytest.raises(InputError, match=r"unknown human V gene 'TRBV5-99\*01'.*did you mean .*TRBV5-8"):
        cdr1_cdr2(" TRBV5-99*01 ")
    with pytest.raises(InputError, match=r"has no allele \*09 .*it has \*01, \*02"):
        cdr1_cdr2("TRBV5-1*09")
    with pytest.raises(InputError, match="a mouse gene.*--organism mouse"):
        cdr1_cdr2("TRBV13-2")  # mouse Vbeta8.2; human TRBV13 has no -2
    with pytest.raises(InputError, match="unknown organism 'rat'"):
        cdr1_cdr2("TRBV5-1", "rat")


def test_mouse_organism():
    assert cdr1_cdr2("TRBV13-2", organism="mouse") == ("NNHNN", "SYGAGS")
    # a gene both organisms name differently: mouse TRBV19 is not human TRBV19
    assert cdr1_cdr2("TRBV19*01", "mouse") != cdr1_cdr2("TRBV19*01", "human")


def write_csv(tmp_path, rows) -> Path:
    path = tmp_path / "tcrs.csv"
    pd.DataFrame(rows, columns=["cdr3_b_aa", "v_b_gene", "v_a_gene", "label"]).to_csv(path, index=False)
    return path


ROWS = [("CASSLGQAYEQYF", "TRBV5-1*01", "TRAV12-2", 1),
        ("CASSIRSSYEQYF", "TRBV19", "TRAV1-2*01", 0),
        ("CASSPGQGNTIYF", "TRBV99-9", "TRAV21", 1),  # unknown beta: file line 4
        ("CASSLAPGATNEKLFF", "TRBV28*01", None, 0)]  # missing alpha: file line 5


def test_table_columns_added(tmp_path):
    table = read_table(write_csv(tmp_path, ROWS[:2]))
    out, kept, skipped = add_cdr_columns(table, ["v_b_gene", "v_a_gene"])
    assert skipped == 0 and kept.tolist() == [0, 1]
    assert list(out.frame.columns[-4:]) == ["v_b_gene_cdr1", "v_b_gene_cdr2", "v_a_gene_cdr1", "v_a_gene_cdr2"]
    assert out.frame["v_b_gene_cdr1"].tolist() == ["SGHRS", "LNHDA"]
    assert out.frame["v_a_gene_cdr2"].tolist() == ["IYSNGD", "NVLDGL"]
    assert "v_b_gene_cdr1" not in table.frame.columns  # the input table is left as it was


def test_unknown_gene_error_names_file_line_column_value(tmp_path):
    path = write_csv(tmp_path, ROWS)
    with pytest.raises(InputError) as err:
        add_cdr_columns(read_table(path), ["v_b_gene", "v_a_gene"])
    assert (err.value.path, err.value.line, err.value.column) == (str(path), 4, "v_b_gene")
    message = str(err.value)
    assert "line 4" in message and "'TRBV99-9'" in message and "--unknown-v-genes skip" in message


def test_missing_gene_error(tmp_path):
    path = write_csv(tmp_path, [ROWS[0], ROWS[3]])
    with pytest.raises(InputError, match="line 3, column 'v_a_gene': missing V gene.*--unknown-v-genes skip"):
        add_cdr_columns(read_table(path), ["v_b_gene", "v_a_gene"])
    with pytest.raises(InputError, match="line 2, column 'v_b_gene': missing V gene"):
        add_cdr_columns(pd.DataFrame({"v_b_gene": ["TRBV5-1", "  "]}), ["v_b_gene"])


def test_skip_policy_drops_and_counts(tmp_path):
    path = write_csv(tmp_path, ROWS)
    out, kept, skipped = add_cdr_columns(read_table(path), ["v_b_gene", "v_a_gene"], unknown="skip")
    assert skipped == 2 and kept.tolist() == [0, 1]
    assert out.lines.tolist() == [2, 3] and out.frame["cdr3_b_aa"].tolist() == [r[0] for r in ROWS[:2]]
    out, kept, skipped = add_cdr_columns(read_table(path), ["v_b_gene"], unknown="skip")
    assert skipped == 1 and kept.tolist() == [0, 1, 3]
    assert out.frame["v_b_gene_cdr2"].tolist() == ["YFSETQ", "SQIVND", "SYDVKM"]


def test_dataframe_mouse_and_refusals():
    frame = pd.DataFrame({"v": ["TRBV13-2*01", "TRBV13-2"]}, index=[10, 20])
    out, kept, skipped = add_cdr_columns(frame, ["v"], organism="mouse")
    assert out.frame["v_cdr1"].tolist() == ["NNHNN", "NNHNN"] and skipped == 0
    with pytest.raises(InputError, match="line 1, column 'v': unknown human V gene.*--organism mouse"):
        add_cdr_columns(frame, ["v"])
    with pytest.raises(InputError, match="unknown --unknown-v-genes 'drop'"):
        add_cdr_columns(frame, ["v"], unknown="drop")
    with pytest.raises(InputError, match="missing column 'w'"):
        add_cdr_columns(frame, ["w"])
    with pytest.raises(InputError, match="column 'v_cdr1' already exists"):
        add_cdr_columns(frame.assign(v_cdr1="x"), ["v"])


def test_config_keys_and_flags(capsys, tmp_path):
    cfg = load_config(None, nested({"data.v_gene_columns": "v_b_gene,v_a_gene", "data.unknown_v_genes": "skip",
                                    "data.organism": "mouse"}))
    assert (cfg.data.v_gene_columns, cfg.data.unknown_v_genes, cfg.data.organism) == (
        ["v_b_gene", "v_a_gene"], "skip", "mouse")
    defaults = load_config()
    assert (defaults.data.v_gene_columns, defaults.data.unknown_v_genes, defaults.data.organism) == (
        [], "error", "human")
    for key, value in (("data.unknown_v_genes", "drop"), ("data.organism", "rat")):
        with pytest.raises(InputError, match=f"unknown {key} '{value}'"):
            load_config(None, nested({key: value}))
    for command in ("finetune", "crossval"):
        assert run_cli([command, "--data", str(tmp_path / "x.csv"), "--v-gene-columns", "v_b_gene",
                        "--organism", "rat", "--out", str(tmp_path / "out")]) == 2
        assert "data.organism 'rat'" in capsys.readouterr().err


def load_script():
    spec = importlib.util.spec_from_file_location("make_v_gene_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_rules_on_a_small_source():
    header = "id\torganism\tchain\tregion\tnucseq\tframe\taligned_protseq\tcdr_columns\tcdrs\n"
    rows = ["TRBV2*01\thuman\tB\tV\t\t\t\t\tKGH.......DR;SVF....EIN;x;CASS",
            "TRAV8/DV3*02\tmouse\tA\tV\t\t\t\t\tDRG......SQS;IYS....NGD;x;CAV",
            "TRAV8/DV3*02\tmouse\tB\tV\t\t\t\t\tDRG......SQS;IYS....NGD;x;CAM",  # the delta listing
            "TRBV10*01\thuman\tB\tV\t\t\t\t\t..H.......NR;FQN....EAQ;x;CASS",  # 5'-partial
            "TRBV3*01\thuman\tB\tV\t\t\t\t\tKGH.......S*;FQN....ENV;x;CASS",  # stop codon
            "TRBJ1-1*01\thuman\tB\tJ\t\t\t\t\t"]
    script = load_script()
    kept, left_out = script.v_rows(header + "\n".join(rows) + "\n")
    assert kept == [{"gene": "TRBV2*01", "organism": "human", "chain": "beta", "cdr1": "KGHDR", "cdr2": "SVFEIN"},
                    {"gene": "TRAV8/DV3*02", "organism": "mouse", "chain": "alpha", "cdr1": "DRGSQS",
                     "cdr2": "IYSNGD"}]
    assert [x.split(" (")[0] for x in left_out] == ["human TRBV10*01", "human TRBV3*01"]
    assert script.render(kept).decode().splitlines()[0] == "gene\torganism\tchain\tcdr1\tcdr2"


def recorded() -> tuple[str, int]:
    """The vendored file's SHA-256 and row count as DATA.md records them."""
    text = DATA_MD.read_text()
    sha = re.search(r"SHA-256 of `imgt_tr_v_cdr1_cdr2.tsv`: `([0-9a-f]{64})`", text).group(1)
    rows = re.search(r"\| `imgt_tr_v_cdr1_cdr2.tsv` \| ([\d,]+) alleles", text).group(1)
    return sha, int(rows.replace(",", ""))


def test_vendored_file_matches_data_md():
    sha, rows = recorded()
    data = builtin_path("imgt_v_genes").read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha
    assert len(reference_rows()) == rows == data.count(b"\n") - 1
    assert load_script().SOURCE_SHA256 in DATA_MD.read_text()


def tcrdist3_source() -> Path | None:
    """The tcrdist3 0.3 wheel or its unpacked TSV, where this machine has one ($SEQSSL_TCRDIST3 first)."""
    candidates = [os.environ.get("SEQSSL_TCRDIST3", ""), "/tmp/tcrdist3/tcrdist3-0.3-py3-none-any.whl",
                  "/tmp/tcrdist3/x/tcrdist/db/alphabeta_gammadelta_db.tsv"]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


@pytest.mark.skipif(tcrdist3_source() is None, reason="needs the tcrdist3 0.3 wheel (set SEQSSL_TCRDIST3)")
def test_script_rebuilds_the_vendored_file(tmp_path, capsys):
    out = load_script().build(tcrdist3_source(), tmp_path)
    assert out.read_bytes() == builtin_path("imgt_v_genes").read_bytes()
    sha, rows = recorded()
    assert f"{rows} alleles, sha256 {sha}" in capsys.readouterr().out


# --- wired into runs: crossval, finetune → predict, embed ---------------------------------------------------
def _v_gene_corpus(tmp_path, small_binding_csv):
    """600 real background rows with their V genes, plus 40 CDR3β (and V genes) of the labelled slice."""
    background = pd.read_csv(builtin_path("background_cdr3b"), dtype=str).iloc[:600]
    labelled = pd.read_csv(small_binding_csv, dtype=str)[["v_b_gene", "cdr3_b_aa"]].iloc[:40]
    path = tmp_path / "corpus_v.csv"
    pd.concat([background[["v_b_gene", "cdr3_b_aa"]], labelled], ignore_index=True).to_csv(path, index=False)
    return path


def test_crossval_reads_cdr1_cdr2_from_v_genes_as_segments(tmp_path, small_binding_csv):
    """CDR1β, CDR2β, CDR3β, peptide: four segments; the fold corpus keeps its entries (germline CDR1/CDR2 shared
    with test rows are not leakage) but loses the test CDR3β; the k-mer arm reads every column."""
    import json
    corpus = _v_gene_corpus(tmp_path, small_binding_csv)
    (tmp_path / "c.yaml").write_text("crossval:\n  embedding_map: false\nmodel:\n  hidden_size: 16\n  num_heads: 2\n"
                                     "  num_layers: 1\n  intermediate_size: 32\n")
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--v-gene-columns", "v_b_gene", "--unknown-v-genes", "skip",
                    "--pretrain-data", str(corpus), "--arms",
                    "none,mlm,kmer", "--folds", "2", "--max-steps", "2", "--epochs", "1", "--group-column",
                    "cdr3_b_aa", "--config", str(tmp_path / "c.yaml"), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    saved = load_config(str(out / "config.yaml"))
    assert saved.data.columns == ["v_b_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa", "peptide"]
    assert saved.data.pretrain_columns == ["v_b_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa"]
    encoder_config = json.loads((out / "encoders" / "mlm" / "fold_0" / "config.json").read_text())
    assert encoder_config["type_vocab_size"] == 4
    for fold in results["leakage"]:
        # of the 40 labelled CDR3β in the corpus, about half are in each test fold; never the whole corpus
        assert 0 < fold["pretrain_removed_test_sequences"] <= 40, fold
    assert {"none", "mlm", "kmer", "kmer[per-value]"} == set(results["arms"])


def test_finetune_with_v_genes_predicts_from_v_genes_and_embed_takes_them(tmp_path, small_binding_csv):
    import json

    import numpy as np

    import seqssl
    out = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--v-gene-columns", "v_b_gene", "--unknown-v-genes", "skip",
                    "--encoder", "none", "--epochs", "1", "--batch-size",
                    "32", "--out", str(out), "--quiet"]) == 0
    frame = pd.read_csv(small_binding_csv, dtype=str).iloc[:12]
    scores = seqssl.predict(out, frame)
    assert len(scores) == 12 and scores["y_score"].between(0, 1).all()
    frame.loc[3, "v_b_gene"] = "TRBV99-9*01"  # trained with --unknown-v-genes skip: predict drops it too
    kept = seqssl.predict(out, frame)
    assert len(kept) == 12 and frame.loc[3, "cdr3_b_aa"] not in set(kept["cdr3_b_aa"].dropna())
    assert kept.loc[3, "error"].startswith("V gene not in the IMGT table") and np.isnan(kept.loc[3, "y_score"])
    assert list(kept["row"]) == list(range(12)) and list(kept.index) == list(frame.index)  # the input's numbering
    assert list(kept["v_b_gene_cdr1"][:3]) == [cdr1_cdr2(g)[0] for g in frame["v_b_gene"][:3]]
    manifest = json.loads((out / "seqssl_model.json").read_text())
    manifest["v_genes"]["unknown"] = "error"
    (out / "seqssl_model.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="TRBV99-9"):
        seqssl.predict(out, frame)
    encoder = out / "encoder"
    vectors = seqssl.embed(frame.drop(index=3), encoder, ["cdr3_b_aa", "peptide"], v_gene_columns=["v_b_gene"])
    cdr1, cdr2 = zip(*(cdr1_cdr2(g) for g in frame.drop(index=3)["v_b_gene"]))
    spelled = frame.drop(index=3).assign(c1=cdr1, c2=cdr2)
    same = seqssl.embed(spelled, encoder, ["c1", "c2", "cdr3_b_aa", "peptide"])
    assert np.allclose(vectors, same, atol=1e-6)


def test_a_pseudogene_allele_is_explained_as_such():
    with pytest.raises(InputError, match="stop codon") as caught:
        cdr1_cdr2("TRBV12-2*01")
    assert "--unknown-v-genes skip" in caught.value.fix and "mouse" not in str(caught.value)
