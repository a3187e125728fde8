"""Each bad input exits with code 2 and one line naming the file, the line and the column."""
import gzip

import pytest

from conftest import run_cli
from seqssl.errors import InputError

HEADER = "cdr3_b_aa,peptide,label\n"
GOOD = "CASSLGQAYEQYF,KAYNVTQAF,1\nCASSPDRGNTIYF,KAYNVTQAF,0\n"


def _crossval(path, tmp_path, *extra):
    return ["crossval", "--data", str(path), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--task", "pair-classification", "--arms", "kmer", "--folds", "2", "--out", str(tmp_path / "o"),
            "--quiet", *extra]


CASES = {
    # name: (file content or None for missing, expected fragments in the message)
    "missing file": (None, ["file not found"]),
    "missing column": ("cdr3,peptide,label\n" + GOOD, ["missing column 'cdr3_b_aa'", "choose one of"]),
    "empty sequence": (HEADER + GOOD + ",KAYNVTQAF,1\n", ["line 4", "column 'cdr3_b_aa'", "empty sequence"]),
    "bad residue": (HEADER + GOOD + "CASSZ,KAYNVTQAF,1\n", ["line 4", "residue 'Z'", "--unknown-residues map-to-x"]),
    "non-binary label": (HEADER + GOOD + "CASSL,KAYNVTQAF,2\n", ["line 4", "column 'label'", "not binary"]),
    "missing label": (HEADER + GOOD + "CASSL,KAYNVTQAF,\n", ["line 4", "column 'label'", "missing label"]),
    "wrong delimiter": ("cdr3_b_aa;peptide;label\nCASS;KAY;1\n", ["missing column", "delimiter"]),
    "empty file": ("", ["file is empty"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line(name, tmp_path, capsys):
    content, fragments = CASES[name]
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    code = run_cli(_crossval(path, tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err
    for fragment in fragments:
        assert fragment in err, err
    assert not (tmp_path / "o" / "results.json").exists()


def test_map_to_x_accepts_the_bad_residue(tmp_path, capsys):
    path = tmp_path / "data.csv"
    rows = "".join(f"CASS{'LGQ'[i % 3]}{'Z' if i == 0 else ''}EQYF,KAYNVTQAF,{i % 2}\n" for i in range(60))
    path.write_text(HEADER + rows)
    code = run_cli(_crossval(path, tmp_path, "--unknown-residues", "map-to-x"))
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "o" / "results.json").exists()


def test_gzipped_tsv_and_binary_file(tmp_path, capsys):
    tsv = tmp_path / "data.tsv.gz"
    tsv.write_bytes(gzip.compress((HEADER + GOOD * 10).replace(",", "\t").encode()))
    assert run_cli(_crossval(tsv, tmp_path)) == 0, capsys.readouterr().err
    binary = tmp_path / "data.csv"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    assert run_cli(_crossval(binary, tmp_path)) == 2
    assert "binary" in capsys.readouterr().err


def test_config_unknown_key_suggests_closest(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("finetune:\n  learning_rate: 0.1\n")
    code = run_cli(_crossval(tmp_path / "x.csv", tmp_path, "--config", str(cfg)))
    err = capsys.readouterr().err
    assert code == 2 and "unknown config key 'finetune.learning_rate'" in err
    cfg.write_text("pretrain:\n  temprature: 0.1\n")
    run_cli(_crossval(tmp_path / "x.csv", tmp_path, "--config", str(cfg)))
    assert "did you mean 'pretrain.temperature'" in capsys.readouterr().err


def test_config_wrong_type(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("crossval:\n  folds: five\n")
    assert run_cli(_crossval(tmp_path / "x.csv", tmp_path, "--config", str(cfg))) == 2
    assert "'crossval.folds' expects int" in capsys.readouterr().err


def test_config_show_prints_resolved_yaml(tmp_path, capsys):
    import yaml
    cfg = tmp_path / "c.yaml"
    cfg.write_text("pretrain: {temperature: 0.5}\n")
    assert run_cli(["config", "show", "--config", str(cfg)]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["pretrain"]["temperature"] == 0.5 and shown["finetune"]["patience"] == 6


def test_positive_label_reads_minus_one_one_labels(tmp_path, small_binding_csv):
    """TCR benchmarks write -1/1: --positive-label 1 reads them; without it the error names the flag; a third
    value is an error naming its line."""
    import pandas as pd

    from seqssl.config import load_config
    from seqssl.tasks.labelled import load_labelled
    frame = pd.read_csv(small_binding_csv, dtype=str)
    frame["label"] = frame["label"].map({"0": "-1", "1": "1"})
    path = tmp_path / "pm.csv"
    frame.to_csv(path, index=False)
    overrides = {"data": {"path": str(path), "columns": ["cdr3_b_aa", "peptide"], "label_column": "label"}}
    with pytest.raises(InputError, match="--positive-label"):
        load_labelled(load_config(overrides=overrides))
    overrides["data"]["positive_label"] = "1"
    data = load_labelled(load_config(overrides=overrides))
    assert (data.encoded.labels == (frame["label"] == "1").to_numpy()).all()
    frame.loc[5, "label"] = "0"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="third value") as err:
        load_labelled(load_config(overrides=overrides))
    assert "line 7" in str(err.value)
