"""Mistakes a new user makes end in one line and exit code 2, with nothing left behind."""
import pytest

from conftest import run_cli


def test_version(capsys):
    assert run_cli(["--version"]) == 0
    assert capsys.readouterr().out.startswith("seqssl ")


def test_out_naming_an_existing_file_is_refused(tmp_path, small_binding_csv, capsys):
    taken = tmp_path / "taken.txt"
    taken.write_text("mine")
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--encoder", "none", "--out", str(taken), "--quiet"]) == 2
    assert "--out names an existing file" in capsys.readouterr().err
    assert taken.read_text() == "mine"


def test_config_naming_a_directory_is_refused(tmp_path, small_binding_csv, capsys):
    assert run_cli(["crossval", "--data", str(small_binding_csv), "--config", str(tmp_path),
                    "--out", str(tmp_path / "cv")]) == 2
    assert "--config names a directory" in capsys.readouterr().err


def test_embed_out_naming_a_directory_leaves_nothing(tmp_path, small_binding_csv, small_corpus_csv, capsys):
    enc = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "mlm",
                    "--max-steps", "1", "--batch-size", "16", "--out", str(enc), "--quiet"]) == 0
    target = tmp_path / "emb"
    target.mkdir()
    assert run_cli(["embed", "--encoder", str(enc), "--data", str(small_binding_csv), "--columns", "cdr3_b_aa",
                    "--out", str(target)]) == 2
    assert "--out names a directory" in capsys.readouterr().err
    assert list(target.iterdir()) == [] and not list(tmp_path.glob("*.tmp"))


def test_finetuned_directory_as_encoder_points_inside(tmp_path, small_binding_csv, capsys):
    ft = tmp_path / "ft"
    assert run_cli(["finetune", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide",
                    "--label-column", "label", "--encoder", "none", "--max-steps", "1", "--epochs", "1",
                    "--out", str(ft), "--quiet"]) == 0
    capsys.readouterr()
    assert run_cli(["embed", "--encoder", str(ft), "--data", str(small_binding_csv), "--columns", "cdr3_b_aa",
                    "--out", str(tmp_path / "e.parquet")]) == 2
    assert f"--encoder {ft / 'encoder'}" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["pretrain", "crossval"])
def test_a_misspelt_objective_writes_no_config(tmp_path, small_binding_csv, small_corpus_csv, command):
    out = tmp_path / "run"
    args = (["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "simclrr"]
            if command == "pretrain" else
            ["crossval", "--data", str(small_binding_csv), "--columns", "cdr3_b_aa,peptide", "--label-column",
             "label", "--arms", "none,simclrr"])
    assert run_cli([*args, "--out", str(out), "--quiet"]) == 2
    assert not (out / "config.yaml").exists()


def test_one_column_defaults_to_classification(tmp_path):
    from seqssl.config import load_config
    assert load_config(None, {"data": {"columns": ["cdr3_b_aa"]}}).data.task == "classification"
    assert load_config(None, {"data": {"columns": ["a", "b"]}}).data.task == "pair-classification"


def test_import_help_and_runs_list_do_not_load_torch(tmp_path):
    """``import seqssl``, ``seqssl --help`` and ``seqssl runs list`` stay light; the API loads on first use."""
    import subprocess
    import sys
    code = ("import sys, seqssl\n"
            "from seqssl.cli import main\n"
            "for argv in (['--help'], ['runs', 'list']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "assert callable(seqssl.pretrain) and 'torch' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "SEQSSL_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr


def test_help_lists_the_registered_choices_and_config_defaults(capsys):
    """--help's choice lists are the registries' names, and an option that falls back to the config shows that
    default with its key."""
    from seqssl.cli_options import ARM_CHOICES, OBJECTIVE_CHOICES, TASK_CHOICES
    from seqssl.evaluate.arms import ARMS
    from seqssl.objectives import OBJECTIVES
    from seqssl.tasks import TASKS
    assert set(OBJECTIVE_CHOICES.split(" | ")) == set(OBJECTIVES)
    assert set(ARM_CHOICES.split(", ")) == set(ARMS)
    assert set(TASK_CHOICES.split(" | ")) == set(TASKS)
    assert run_cli(["finetune", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "finetune.epochs = 30" in text and "Examples:" in text
