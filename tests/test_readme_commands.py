"""Every `seqssl` command in the README's bash blocks runs as written, on small data (slow: a few minutes).

The commands run in README order in a scratch directory holding the files they name: small real slices of the
bundled data under the same relative paths (``src/seqssl/data/builtin/...``, so the configs in ``configs/``
resolve too), and the placeholder files (``corpus.csv.gz``, ``labelled.csv``, a user's ESM-2 directory, ...)
made from them. Each command gets smoke-sized budgets appended (``--max-steps 2``, ``--epochs 1``, 2 folds: the
last occurrence of a flag wins). ``make`` and ``torchrun`` lines and ``...`` elisions are not seqssl commands.
"""
import gzip
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from tiny_models import esm_directory

ROOT = Path(__file__).parents[1]
BUILTIN = Path("src/seqssl/data/builtin")
# the README's examples are independent (several write enc/): here they run one after another in one directory,
# so each may replace the one before (--overwrite)
SMOKE = {"pretrain": ["--max-steps", "2", "--batch-size", "16", "--quiet", "--overwrite"],
         "finetune": ["--epochs", "1", "--quiet", "--overwrite"],
         "crossval": ["--folds", "2", "--epochs", "1", "--max-steps", "2", "--quiet", "--overwrite"]}


def readme_commands() -> list[str]:
    """The seqssl command lines of the README's bash blocks: continuations joined, comments and optional
    ``[...]`` parts dropped."""
    text = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = re.sub(r"\s\[[^\]]*\]", "", line.split(" #")[0]).strip()
            if line.startswith("seqssl ") and "..." not in line:
                lines.append(line)
    return lines


def _slice_builtin(root: Path) -> None:
    """Small slices of the bundled files at their usual relative paths."""
    target = root / BUILTIN
    (target / "mira_epitopes").mkdir(parents=True)
    for source in (ROOT / BUILTIN).glob("*.csv.gz"):
        frame = pd.read_csv(source, dtype=str)
        if "set" in frame.columns:  # a fixed split: rows of each side (FLIP's validation rows among the train ones)
            frame = pd.concat([rows.sample(120, random_state=0) for _, rows in frame.groupby("set")])
        if "binds" in frame.columns:  # BELKA's few binders: every one of them, and negatives beside them
            frame = pd.concat([frame[frame.binds == "1"], frame[frame.binds != "1"].sample(240, random_state=0)])
        frame.iloc[:300].to_csv(target / source.name, index=False)
    for source in sorted((ROOT / BUILTIN / "mira_epitopes").glob("*.csv.gz"))[:3]:
        pd.read_csv(source, dtype=str).iloc[:40].to_csv(target / "mira_epitopes" / source.name, index=False)
    keep = None
    for name in ("flip_conservation_labels.fasta.gz", "flip_conservation_sequences.fasta.gz"):  # labels say SET=
        lines = gzip.open(ROOT / BUILTIN / name, "rt").read().splitlines()
        records = list(zip(lines[0::2], lines[1::2]))
        if keep is None:  # 16 train (4 of them validation) and 8 test proteins, the same in both files
            train = [h for h, _ in records if "SET=train" in h][:16]
            keep = {h.split()[0] for h in train + [h for h, _ in records if "SET=test" in h][:8]}
        chosen = [(h, s) for h, s in records if h.split()[0] in keep]
        with gzip.open(target / name, "wt") as handle:
            handle.write("".join(f"{h}\n{s}\n" for h, s in chosen))
    shutil.copytree(ROOT / "configs", root / "configs")


def _placeholders(root: Path) -> None:
    """The files the README's examples name, from real rows."""
    binding = pd.read_csv(ROOT / BUILTIN / "mira_binding_demo.csv.gz", dtype=str).sample(200, random_state=0)
    background = pd.read_csv(ROOT / BUILTIN / "background_cdr3b_100k.csv.gz", dtype=str).iloc[:300]
    corpus = pd.DataFrame({"cdr3_b_aa": background.cdr3_b_aa, "seq": background.cdr3_b_aa})
    corpus.to_csv(root / "corpus.csv.gz", index=False)
    corpus.to_csv(root / "corpus.csv", index=False)
    corpus[["cdr3_b_aa"]].to_csv(root / "tcrs.csv", index=False)
    (root / "corpus.fasta").write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(corpus.seq)))
    labelled = binding.assign(sequence=binding.cdr3_b_aa, y=binding.label)
    labelled.to_csv(root / "labelled.csv", index=False)
    labelled[["cdr3_b_aa", "peptide"]].iloc[:20].to_csv(root / "new.csv", index=False)
    labelled.rename(columns={"cdr3_b_aa": "a", "peptide": "b"})[["a", "b"]].to_csv(root / "pairs.csv", index=False)
    families = binding.assign(sequence=binding.cdr3_b_aa, family=binding.peptide)[["sequence", "family"]]
    families.to_csv(root / "families.csv", index=False)
    rng = np.random.default_rng(0)
    residues = pd.DataFrame({"id": [f"p{i // 2}" for i in range(60)], "sequence": background.cdr3_b_aa.iloc[:60]})
    residues["ss3"] = ["".join(rng.choice(list("HEC"), len(s))) for s in residues.sequence]
    residues.to_csv(root / "residues.csv", index=False)
    words = "the quick brown fox jumps over the lazy dog while a cat sleeps in the warm sun".split()
    (root / "docs.txt").write_text("".join(" ".join(rng.choice(words, 200)) + "\n" for _ in range(30)))
    esm_directory(root / "models" / "esm2_t6_8M_UR50D")
    paired = _dash_pairs().iloc[:240]  # the paired mouse table of scripts/dash_mouse_pairs.py
    paired.to_csv(root / "paired.csv", index=False)
    (root / "runs").mkdir()
    paired.to_csv(root / "runs" / "dash_paired.csv", index=False)


def _dash_pairs() -> pd.DataFrame:
    import importlib.util
    spec = importlib.util.spec_from_file_location("dash_mouse_pairs", ROOT / "scripts" / "dash_mouse_pairs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pairs_table(pd.read_csv(ROOT / BUILTIN / "dash_mouse_paired.csv.gz"))


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path, monkeypatch):
    _slice_builtin(tmp_path)
    _placeholders(tmp_path)
    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert len(commands) >= 20
    for line in commands:
        argv = shlex.split(line.replace("~/models/", f"{tmp_path}/models/"))[1:]
        smoke = SMOKE.get(argv[0], [])
        extra = ["--too-long", "truncate"] if argv[0] in ("crossval", "finetune") and "--too-long" not in argv else []
        assert run_cli([*argv, *smoke, *extra]) == 0, line
