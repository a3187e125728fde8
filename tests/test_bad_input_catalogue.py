"""The catalogue of malformed inputs: each exits 2 (1 for a failed training) with one line naming the
file, the row and the problem, never a traceback, and never leaves a results.json that looks complete.
`python tests/test_bad_input_catalogue.py` prints the catalogue as a Markdown table."""
from pathlib import Path

import pytest

from conftest import run_cli

HEADER = "cdr3_b_aa,peptide,label\n"
GOOD = "".join(f"CASS{'LGQPRT'[i % 6]}EQYF,KAYNVTQAF,{i % 2}\n" for i in range(12))


def crossval(data, *extra):
    return ["crossval", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
            "--task", "pair-classification", "--arms", "kmer", "--folds", "2", "--quiet", *extra]


def token_crossval(data, *extra):
    """Per-residue labels: a CSV label column (``extra`` names it) or ``--token-labels`` FASTA."""
    return ["crossval", "--data", str(data), "--task", "token-classification", "--arms", "kmer", "--folds", "2",
            "--quiet", *extra]


SEQS = ">a\nACDE\n>b\nKLMN\n>c\nPQRS\n>d\nTVWY\n"
LABELS = ">a SET=train\n1212\n>b SET=train\n2121\n>c SET=test\n11.2\n>d SET=test\n2211\n"
SPLIT_GOOD = "".join(f"{row},{'train' if i < 8 else 'test'}\n" for i, row in enumerate(GOOD.splitlines()))


def write(tmp: Path, name: str, content) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# name -> (files {name: content}, argv builder(tmp) , expected code, fragments in the message)
CATALOGUE = {
    "missing file": ({}, lambda t: crossval(t / "nope.csv"), 2, ["nope.csv", "file not found"]),
    "empty file": ({"d.csv": ""}, lambda t: crossval(t / "d.csv"), 2, ["file is empty"]),
    "header only": ({"d.csv": HEADER}, lambda t: crossval(t / "d.csv"), 2, ["no data rows"]),
    "binary file": ({"d.csv": b"\x00\x01PK\x03\x04" * 50}, lambda t: crossval(t / "d.csv"), 2, ["binary"]),
    "not gzip": ({"d.csv.gz": HEADER + GOOD}, lambda t: crossval(t / "d.csv.gz"), 2, ["not a valid gzip"]),
    "not UTF-8": ({"d.csv": HEADER.encode() + b"CASS\xff\xfe,KAY,1\n"}, lambda t: crossval(t / "d.csv"), 2,
                  ["not UTF-8"]),
    "wrong delimiter": ({"d.csv": HEADER.replace(",", ";") + GOOD.replace(",", ";")},
                        lambda t: crossval(t / "d.csv"), 2, ["missing column", "delimiter"]),
    "missing column": ({"d.csv": HEADER.replace("cdr3_b_aa", "cdr3") + GOOD}, lambda t: crossval(t / "d.csv"), 2,
                       ["missing column 'cdr3_b_aa'", "choose one of: cdr3, peptide, label"]),
    "empty sequence": ({"d.csv": HEADER + GOOD + ",KAYNVTQAF,1\n"}, lambda t: crossval(t / "d.csv"), 2,
                       ["line 14", "column 'cdr3_b_aa'", "empty sequence"]),
    "bad residue": ({"d.csv": HEADER + GOOD + "CASSBQ,KAYNVTQAF,1\n"}, lambda t: crossval(t / "d.csv"), 2,
                    ["line 14", "column 'cdr3_b_aa'", "residue 'B'", "map-to-x"]),
    "gap character": ({"d.csv": HEADER + GOOD + "CASS-LQ,KAYNVTQAF,1\n"}, lambda t: crossval(t / "d.csv"), 2,
                      ["line 14", "residue '-'"]),
    "stop character": ({"d.csv": HEADER + GOOD + "CASSLQ*,KAYNVTQAF,1\n"}, lambda t: crossval(t / "d.csv"), 2,
                       ["line 14", "residue '*'"]),
    "non-ASCII residue": ({"d.csv": HEADER + GOOD + "CASSÄQ,KAYNVTQAF,1\n"}, lambda t: crossval(t / "d.csv"), 2,
                          ["line 14", "residue 'Ä'"]),
    "non-binary label": ({"d.csv": HEADER + GOOD + "CASSLQ,KAYNVTQAF,2\n"}, lambda t: crossval(t / "d.csv"), 2,
                         ["line 14", "column 'label'", "not binary"]),
    "missing label": ({"d.csv": HEADER + GOOD + "CASSLQ,KAYNVTQAF,\n"}, lambda t: crossval(t / "d.csv"), 2,
                      ["line 14", "missing label"]),
    "NaN label": ({"d.csv": HEADER + GOOD + "CASSLQ,KAYNVTQAF,NaN\n"}, lambda t: crossval(t / "d.csv"), 2,
                  ["line 14", "missing label"]),
    "text in a numeric label": ({"d.csv": HEADER + GOOD + "CASSLQ,KAYNVTQAF,high\n"},
                                lambda t: crossval(t / "d.csv", "--task", "regression", "--arms", "kmer"), 2,
                                ["line 14", "'high' is not a number"]),
    "sequence too long": ({"d.csv": HEADER + GOOD + "C" + "A" * 80 + "F,KAYNVTQAF,1\n"},
                          lambda t: crossval(t / "d.csv", "--max-length", "64"), 2,
                          ["line 14", "exceeds the model's maximum", "--too-long truncate"]),
    "FASTA record without sequence": ({"s.fasta": ">a\nCASS\n>b\n>c\nCAW\n"},
                                      lambda t: ["pretrain", "--data", str(t / "s.fasta"), "--out", str(t / "o")], 2,
                                      ["line 3", "empty sequence"]),
    "FASTA without header": ({"s.fasta": "CASS\n>b\nCAW\n"},
                             lambda t: ["pretrain", "--data", str(t / "s.fasta"), "--out", str(t / "o")], 2,
                             ["line 1", "before the first '>'"]),
    "one column for a pair task": ({"d.csv": HEADER + GOOD},
                                   lambda t: crossval(t / "d.csv", "--columns", "cdr3_b_aa"), 2,
                                   ["pair-classification needs two --columns"]),
    "unknown task": ({"d.csv": HEADER + GOOD}, lambda t: crossval(t / "d.csv", "--task", "clasification"), 2,
                     ["unknown task 'clasification'"]),
    "unknown arm": ({"d.csv": HEADER + GOOD}, lambda t: crossval(t / "d.csv", "--arms", "none,simclrr"), 2,
                    ["unknown arm 'simclrr'"]),
    "too few examples for the folds": ({"d.csv": HEADER + "".join(GOOD.splitlines(True)[:4])},
                                       lambda t: crossval(t / "d.csv", "--folds", "5"),
                                       2, ["stratified folds", "lower --folds"]),
    "missing group column": ({"d.csv": HEADER + GOOD},
                             lambda t: crossval(t / "d.csv", "--group-column", "donor"), 2,
                             ["missing column 'donor'"]),
    "unknown config key": ({"d.csv": HEADER + GOOD, "c.yaml": "finetune:\n  patiense: 3\n"},
                           lambda t: crossval(t / "d.csv", "--config", str(t / "c.yaml")), 2,
                           ["c.yaml", "unknown config key 'finetune.patiense'", "did you mean 'finetune.patience'"]),
    "wrong type in config": ({"d.csv": HEADER + GOOD, "c.yaml": "crossval: {folds: five}\n"},
                             lambda t: crossval(t / "d.csv", "--config", str(t / "c.yaml")), 2,
                             ["'crossval.folds' expects int"]),
    "invalid YAML": ({"d.csv": HEADER + GOOD, "c.yaml": "finetune: [unclosed\n"},
                     lambda t: crossval(t / "d.csv", "--config", str(t / "c.yaml")), 2, ["invalid YAML"]),
    "encoder directory without weights": ({"d.csv": HEADER + GOOD, "enc/config.json": "{}"},
                                          lambda t: ["finetune", "--data", str(t / "d.csv"), "--columns",
                                                     "cdr3_b_aa,peptide", "--label-column", "label", "--encoder",
                                                     str(t / "enc"), "--out", str(t / "o")], 2,
                                          ["no weights (model.safetensors or pytorch_model.bin)"]),
    "temperature zero": ({"d.csv": HEADER + GOOD, "c.yaml": "pretrain: {temperature: 0}\n"},
                         lambda t: crossval(t / "d.csv", "--config", str(t / "c.yaml")), 2,
                         ["'pretrain.temperature' must be positive"]),
    "batch size zero": ({"d.csv": HEADER + GOOD}, lambda t: crossval(t / "d.csv", "--batch-size", "0"), 2,
                        ["'finetune.batch_size' must be at least 1"]),
    "resume with nothing to resume": ({"s.fasta": ">a\nCASS\n"},
                                      lambda t: ["pretrain", "--data", str(t / "s.fasta"), "--resume",
                                                 "--batch-size", "1", "--out", str(t / "o")],
                                      2, ["--resume: no earlier run here"]),
    "token labels of the wrong length (column)": (
        {"d.csv": "id,seq,lab\nx,ACDE,1212\ny,KLMN,212\n"},
        lambda t: token_crossval(t / "d.csv", "--columns", "seq", "--label-column", "lab"), 2,
        ["d.csv", "line 3", "column 'lab'", "record 'y': 3 label characters for a sequence of 4 residues"]),
    "token labels of the wrong length (FASTA)": (
        {"s.fasta": SEQS, "l.fasta": LABELS.replace("11.2", "11.")},
        lambda t: token_crossval(t / "s.fasta", "--token-labels", str(t / "l.fasta")), 2,
        ["l.fasta", "line 5", "record 'c': 3 label characters for a sequence of 4 residues"]),
    "sequence without a label record": (
        {"s.fasta": SEQS + ">e\nACDF\n", "l.fasta": LABELS},
        lambda t: token_crossval(t / "s.fasta", "--token-labels", str(t / "l.fasta")), 2,
        ["s.fasta", "line 9", "record 'e' has no label record", "l.fasta"]),
    "duplicate record id (sequences)": (
        {"s.fasta": SEQS + ">b\nACDF\n", "l.fasta": LABELS},
        lambda t: token_crossval(t / "s.fasta", "--token-labels", str(t / "l.fasta")), 2,
        ["s.fasta", "line 9", "duplicate record id 'b' (first at line 3)"]),
    "duplicate record id (labels)": (
        {"s.fasta": SEQS, "l.fasta": LABELS + ">a SET=test\n2222\n"},
        lambda t: token_crossval(t / "s.fasta", "--token-labels", str(t / "l.fasta")), 2,
        ["l.fasta", "line 9", "duplicate record id 'a'"]),
    "token label outside the fixed classes": (
        {"s.fasta": SEQS, "l.fasta": LABELS.replace("2121", "2131")},
        lambda t: token_crossval(t / "s.fasta", "--token-labels", str(t / "l.fasta"), "--token-classes", "12"), 2,
        ["l.fasta", "line 3", "label '3' at residue 3 of record 'b' is not one of the classes 12"]),
    "split column with another value": (
        {"d.csv": HEADER.strip() + ",set\n" + SPLIT_GOOD + "CASSLQ,KAYNVTQAF,1,holdout\n"},
        lambda t: crossval(t / "d.csv", "--split", "column", "--split-column", "set"), 2,
        ["line 14", "column 'set'", "split value 'holdout' is not train, test (or test:NAME) or valid"]),
    "split column with no test rows": (
        {"d.csv": HEADER.strip() + ",set\n" + SPLIT_GOOD.replace("test", "train")},
        lambda t: crossval(t / "d.csv", "--split-column", "set"), 2, ["--split-column 'set' has no test rows"]),
    "CUDA asked, none present": ({"d.csv": HEADER + GOOD}, lambda t: crossval(t / "d.csv", "--device", "cuda"), 2,
                                 ["--device cuda", "no CUDA GPU"]),
}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_bad_input(name, tmp_path, capsys, monkeypatch):
    files, argv, code, fragments = CATALOGUE[name]
    for fname, content in files.items():
        (tmp_path / fname).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path, fname, content)
    if name == "CUDA asked, none present":
        monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    args = argv(tmp_path)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert run_cli(args) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert not (tmp_path / "out" / "results.json").exists() and not (tmp_path / "o" / "model.safetensors").exists()
    assert not hinted_flags_not_accepted(args[0], err), err


def hinted_flags_not_accepted(command: str, message: str) -> list[str]:
    """The --flags a message's "fix:" hint names that ``seqssl COMMAND`` does not accept."""
    import re

    import typer

    from seqssl.cli import app
    fix = message.split("(fix:", 1)[1] if "(fix:" in message else ""
    click_command = typer.main.get_command(app).commands[command]
    accepted = {opt for param in click_command.params for opt in param.opts}
    return [flag for flag in re.findall(r"(--[a-z][a-z0-9-]*)", fix) if flag not in accepted]


@pytest.mark.parametrize("name,content", [("UTF-8 BOM", "\ufeff" + HEADER + GOOD),
                                          ("CRLF line ends", (HEADER + GOOD).replace("\n", "\r\n")),
                                          ("lowercase residues",
                                           HEADER + GOOD.lower().replace("kaynvtqaf", "KAYNVTQAF"))])
def test_accepted_variants(name, content, tmp_path, capsys):
    path = write(tmp_path, "d.csv", content)
    assert run_cli(crossval(path, "--out", str(tmp_path / "out"))) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "results.json").exists()


def test_unknown_command_line_option_is_a_usage_error_not_a_traceback(tmp_path, capsys):
    assert run_cli([*crossval(write(tmp_path, "d.csv", HEADER + GOOD)), "--patiense", "3"]) == 2
    err = capsys.readouterr().err
    assert "No such option: --patiense" in err and "Traceback" not in err, err


def test_resume_with_another_model_size_is_refused(tmp_path, small_corpus_csv, capsys):
    args = ["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--max-steps", "2",
            "--batch-size", "32", "--checkpoint-every", "1", "--out", str(tmp_path / "o"), "--quiet"]
    assert run_cli(args) == 0
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {hidden_size: 32}\n")
    assert run_cli([*args, "--resume", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    # refused by the settings check, before anything is written (the checkpoint check behind it would too)
    assert "--resume: model.hidden_size was 64, this run has 32" in err and "Traceback" not in err


if __name__ == "__main__":  # print the catalogue as Markdown
    import contextlib
    import io
    import tempfile

    import torch
    torch.cuda.is_available = lambda: False
    print("| input | exit | message |\n|---|---|---|")
    for name, (files, argv, _code, _) in CATALOGUE.items():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for fname, content in files.items():
                (tmp / fname).parent.mkdir(parents=True, exist_ok=True)
                write(tmp, fname, content)
            args = argv(tmp)
            if "--out" not in args:
                args += ["--out", str(tmp / "out")]
            buf = io.StringIO()
            with contextlib.redirect_stderr(buf):
                got = run_cli(args)
            print(f"| {name} | {got} | `{buf.getvalue().strip().replace(str(tmp) + '/', '')}` |")
