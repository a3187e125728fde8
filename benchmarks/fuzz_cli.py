"""Fuzz the command line in-process: every generated input must end in a result or seqssl's clean input error.

Generates ``--n`` inputs (seeded) and runs each through ``seqssl.cli.main(argv)`` in this process: a data file
(CSV, TSV, FASTA, plain text, Parquet, gzip-compressed or not, or missing, empty, a directory, random bytes,
a mislabelled gzip) made from a small valid table with 0-4 mutations (random Unicode, empty and huge fields,
ragged rows, renamed or repeated columns, random label values, flipped or truncated bytes), random flag values
(valid, out of range, garbage) and sometimes a random YAML ``--config``, for the commands that fail fast:

    crossval --arms kmer ...     pretrain --max-steps 1 ...     embed ...     predict ...     config show ...

An outcome is clean when ``main`` returns, or exits with code 0, or 2 (InputError and usage errors: one line
on stderr), or 1 with a ``stopped:`` line (TrainingStopped, an InputError too). Anything else is unclean: an
exception escaping ``main``, another exit code, or a run longer than ``--timeout`` seconds. Clean errors whose
message spans several lines (the CLI promises one) are counted apart, as a warning.

Setup (5-10 s) trains a tiny encoder and a tiny fine-tuned model once, for ``embed`` and ``predict``; runs
are timed with SIGALRM (Unix). Inputs take about 0.1 s each on one CPU thread (10,000: about 20 minutes).

    python benchmarks/fuzz_cli.py [--n 10000] [--seed 0] [--show 5] [--timeout 60] [--keep DIR] [--top 12]

Last line: ``fuzz_unclean: <N>`` (target 0).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import io
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

AMINO = "ACDEFGHIKLMNPQRSTVWY"
JUNK = ["", " ", "nan", "NA", "None", "null", "-1", "2", "0.5", "1e309", "inf", "-inf", "true", "Z", "*", "-",
        '"', '""', "a,b", "a\tb", "é", "CASSÄQ", "🧬", "\x00", "\ufeff", "\u2028", "\\", "x" * 5000, "A" * 3000,
        "CASS\nLQ", "'; DROP TABLE", "%s%n", "../../etc", "C1=CC=CC=C1", "[nH]", "[Na+].[Cl-]"]
TASKS = ["classification", "pair-classification", "regression", "multiclass", "multilabel", "token-classification"]
TINY_MODEL = "model:\n  hidden_size: 16\n  num_layers: 1\n  num_heads: 2\n  intermediate_size: 32\n"


class Timeout(BaseException):
    """A run past ``--timeout`` (BaseException: seqssl's own ``except Exception`` must not swallow it)."""


def _on_alarm(signum, frame):
    raise Timeout()


# --- inputs ----------------------------------------------------------------------------------------------


def peptide(rng: random.Random, lo: int = 4, hi: int = 14) -> str:
    return "".join(rng.choice(AMINO) for _ in range(rng.randint(lo, hi)))


def junk(rng: random.Random) -> str:
    """A random bad or odd value: from the palette, random Unicode, or random printable text."""
    kind = rng.random()
    if kind < 0.6:
        return rng.choice(JUNK)
    if kind < 0.8:
        return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x2FFF), rng.randint(0x1F300, 0x1F6FF)]))
                       for _ in range(rng.randint(0, 12)))
    return "".join(rng.choice("ACDEFGHIKLMNPQRSTVWYacdexXBZ*-. 0123456789") for _ in range(rng.randint(0, 20)))


def valid_table(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    """A small labelled table that every command accepts: CDR3-like, peptide, binary label, a group and a
    split column (groups sometimes class-pure, as one peptide's binders are)."""
    n = rng.randint(8, 30)
    header = ["cdr3_b_aa", "peptide", "label", "group", "split"]
    peptides = [peptide(rng, 8, 10) for _ in range(3)]
    pure = rng.random() < 0.3  # groups that each hold one class (one peptide's binders, say), else mixed
    rows = [["CASS" + peptide(rng, 3, 10) + "F", rng.choice(peptides), str(i % 2),
             f"g{i % 4 if pure else rng.randrange(4)}", "test" if i % 4 == 0 else "train"] for i in range(n)]
    return header, rows


def mutate(rng: random.Random, header: list[str], rows: list[list[str]]) -> None:
    """One random change, in place."""
    kind = rng.randrange(11)
    if kind <= 3 and rows:  # a field becomes junk (label, sequence, anything)
        row = rng.choice(rows)
        if row:
            row[rng.randrange(len(row))] = junk(rng)
    elif kind == 4 and rows:  # a ragged row
        row = rng.choice(rows)
        if rng.random() < 0.5 and row:
            row.pop()
        else:
            row.append(junk(rng))
    elif kind == 5:  # a renamed, repeated or blank column name
        i = rng.randrange(len(header))
        header[i] = rng.choice([junk(rng), header[rng.randrange(len(header))], "", " " + header[i] + " "])
    elif kind == 6:  # fewer rows
        del rows[rng.randint(0, len(rows)):]
    elif kind == 7 and rows:  # one label everywhere, or random labels
        value = junk(rng) if rng.random() < 0.5 else "1"
        for row in rows:
            if len(row) > 2:
                row[2] = value if rng.random() < 0.8 else row[2]
    elif kind == 8 and rows:  # blank lines
        rows.insert(rng.randrange(len(rows) + 1), [""] * rng.randint(0, len(header)))
    elif kind == 9:  # a huge field
        row = rng.choice(rows) if rows else header
        if row:
            row[0] = rng.choice(AMINO) * rng.choice([1000, 20000])
    else:  # duplicate rows
        rows.extend(rng.sample(rows, k=min(len(rows), 3)))


def serialise(rng: random.Random, header: list[str], rows: list[list[str]], kind: str) -> bytes:
    if kind in ("csv", "tsv"):
        delimiter = "," if kind == "csv" else "\t"
        if rng.random() < 0.3:  # the wrong delimiter
            delimiter = rng.choice([";", "|", "," if kind == "tsv" else "\t"])
        text = "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"  # raw: stray quotes and all
        if rng.random() < 0.6:
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=delimiter, lineterminator=rng.choice(["\n", "\r\n"]),
                                quoting=csv.QUOTE_MINIMAL if kind == "csv" else csv.QUOTE_NONE, escapechar="\\")
            with contextlib.suppress(csv.Error):  # e.g. a lone empty field unquoted: keep the raw text
                writer.writerow(header)
                writer.writerows(rows)
                text = buffer.getvalue()
    elif kind == "fasta":
        text = "".join(f">{r[0][:8] if r else ''}{i} {' '.join(r[1:2])}\n{r[0] if r else ''}\n"
                       for i, r in enumerate(rows))
        if rng.random() < 0.2:
            text = rng.choice(["ACDE\n", "\n", ">\n", ">only_header\n"]) + text
    else:  # text: one document per line
        text = "\n".join(r[0] if r else "" for r in rows)
    return text.encode("utf-8")


def corrupt(rng: random.Random, payload: bytes) -> bytes:
    """Byte-level damage: truncation, flipped bytes, a NUL, a BOM, Latin-1, random bytes."""
    kind = rng.randrange(6)
    if kind == 0 and payload:
        return payload[:rng.randrange(len(payload))]
    if kind == 1 and payload:
        data = bytearray(payload)
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:
        return payload + b"\x00"
    if kind == 3:
        return b"\xef\xbb\xbf" + payload
    if kind == 4:
        return payload.decode("utf-8", "replace").encode("latin-1", "replace")
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))


def make_data(rng: random.Random, folder: Path) -> tuple[Path, list[str]]:
    """A data file (or a missing path, a directory, an empty file) and its column names (for flags)."""
    header, rows = valid_table(rng)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
        mutate(rng, header, rows)
    kind = rng.choices(["csv", "tsv", "fasta", "txt", "parquet", "missing", "dir", "empty"],
                       weights=[40, 12, 14, 6, 10, 2, 2, 3])[0]
    names = [h.strip() for h in header]
    if kind == "missing":
        return folder / "nope.csv", names
    if kind == "dir":
        (folder / "data").mkdir()
        if rng.random() < 0.5:
            (folder / "data" / "part.csv").write_bytes(serialise(rng, header, rows, "csv"))
        return folder / "data", names
    if kind == "empty":
        path = folder / rng.choice(["d.csv", "d.fasta", "d.txt", "d.parquet", "d.csv.gz"])
        path.write_bytes(b"")
        return path, names
    if kind == "parquet":
        import pandas as pd
        path = folder / rng.choice(["d.parquet", "d.pq", "d.parquet.gz"])
        width = len(header)
        try:
            frame = pd.DataFrame([(r + [""] * width)[:width] for r in rows], columns=header)
            if rng.random() < 0.3 and len(frame.columns):
                column = frame.columns[rng.randrange(len(frame.columns))]
                frame[column] = rng.choice([None, 1, 2.5, float("nan"), True])
            frame.to_parquet(path)
        except Exception:  # repeated column names and the like: Parquet cannot hold them, write junk instead
            path.write_bytes(corrupt(rng, b"PAR1"))
        if rng.random() < 0.1:
            path.write_bytes(corrupt(rng, path.read_bytes()))
        return path, names
    suffix = {"csv": ".csv", "tsv": ".tsv", "fasta": rng.choice([".fasta", ".fa", ".faa"]), "txt": ".txt"}[kind]
    payload = serialise(rng, header, rows, kind)
    if rng.random() < 0.2:
        payload = corrupt(rng, payload)
    gz = rng.random()
    if gz < 0.2:  # gzip-compressed, named so
        payload, suffix = gzip.compress(payload), suffix + ".gz"
    elif gz < 0.23:  # named .gz, not compressed
        suffix += ".gz"
    elif gz < 0.25:  # compressed, named as text
        payload = gzip.compress(payload)
    if rng.random() < 0.02:
        suffix = rng.choice([".xlsx", ".json", "", ".CSV", ".csv.bz2"])
    path = folder / f"d{suffix}"
    path.write_bytes(payload)
    if kind == "fasta":
        names = ["sequence", "id", "description"]
    elif kind == "txt":
        names = ["text"]
    return path, names


CONFIG_GOOD = {  # key: valid values (the tiny model stays tiny)
    "model.hidden_size": ["16", "32"], "model.num_layers": ["1", "2"], "model.max_length": ["64", "null"],
    "model.dropout": ["0.1", "0"], "model.pooling": ["mean", "cls"], "pretrain.lr": ["1e-3", "0.01"],
    "pretrain.batch_size": ["4", "16"], "pretrain.temperature": ["0.2"], "pretrain.objective": ["mlm", "simclr"],
    "pretrain.mask_rate": ["0.2", "null"], "finetune.epochs": ["1"], "finetune.patience": ["2"],
    "finetune.val_fraction": ["0.2"], "crossval.folds": ["2", "3"], "crossval.kmer.max_k": ["2", "3"],
    "crossval.label_fractions": ["[0.5, 1]"], "data.too_long": ["truncate", "error"], "data.alphabet": ["protein"],
    "seed": ["1", "7"], "threads": ["1"], "device": ["cpu"], "precision": ["fp32"], "crossval.arms": ["[kmer]"],
}
CONFIG_BAD = ["0", "-1", "nan", ".inf", "-.inf", "1e400", "x", "''", "null", "[]", "[1, 2]", "{a: 1}", "true",
              "99999999999999999999", "é", "[kmer, kmer]"]


def make_config(rng: random.Random, folder: Path) -> Path:
    """A YAML config: the tiny model, plus random keys with valid or (now and then) bad values, unknown keys,
    broken YAML, or bytes that are not UTF-8."""
    sections: dict[str, list[str]] = {"model": TINY_MODEL.splitlines()[1:]}
    top: list[str] = []
    for _ in range(rng.randint(0, 3)):
        key = rng.choice(list(CONFIG_GOOD) + (["pretrain.bogus", "bogus", "model.hidden"] if rng.random() < BAD
                                               else []))
        value = rng.choice(CONFIG_BAD) if rng.random() < BAD or key not in CONFIG_GOOD else \
            rng.choice(CONFIG_GOOD[key])
        if key == "model.hidden_size" and value in ("1e400", "99999999999999999999"):
            value = "x"  # no huge models
        section, _, leaf = key.rpartition(".")
        (sections.setdefault(section, []) if section else top).append(f"  {leaf}: {value}" if section else
                                                                       f"{leaf}: {value}")
    text = "".join(f"{s}:\n" + "\n".join(e) + "\n" for s, e in sections.items()) + "".join(f"{x}\n" for x in top)
    if rng.random() < BAD:
        text = rng.choice(["{", ": :", "- a\n- b", "\t x: 1", "\x00", "model: 3", "&a [*a]"]) + text
    payload = text.encode("utf-8")
    if rng.random() < BAD / 2:
        payload = corrupt(rng, payload)
    path = folder / rng.choice(["c.yaml", "c.yaml", "c.yml", "c.txt"])
    path.write_bytes(payload)
    return path


BAD = 0.12  # the chance that a flag, once given, gets a bad value


def maybe(rng: random.Random, argv: list[str], flag: str, good: list, bad: list = (), p: float = 0.3) -> None:
    """Add ``flag`` with probability ``p``: a value from ``good``, or now and then from ``bad``."""
    if rng.random() < p:
        value = rng.choice(list(bad)) if bad and rng.random() < BAD else rng.choice(good)
        argv += [flag] if value is True else [flag, str(value)]


def pick(rng: random.Random, good: list, bad: list) -> str:
    return str(rng.choice(bad) if rng.random() < BAD else rng.choice(good))


def columns_flag(rng: random.Random, names: list[str]) -> str:
    kind = rng.random()
    if kind < 0.5:
        return "cdr3_b_aa,peptide" if "peptide" in names else names[0] if names else "x"
    if kind < 0.8:
        return names[0] if names else "cdr3_b_aa"
    if kind < 0.9:
        return ",".join(rng.sample(names, k=min(len(names), rng.randint(1, 3)))) if names else ""
    return rng.choice(["", ",", "absent", "a,b,c", "cdr3_b_aa,cdr3_b_aa", junk(rng)])


def make_argv(rng: random.Random, folder: Path, encoder: Path, model: Path) -> list[str]:
    data, names = make_data(rng, folder)
    out = folder / "out"
    command = rng.choices(["crossval", "pretrain", "embed", "predict", "config", "usage"],
                          weights=[40, 20, 14, 10, 10, 6])[0]
    if command == "crossval":
        argv = ["crossval", "--data", str(data), "--columns", columns_flag(rng, names), "--out", str(out), "--quiet",
                "--arms", pick(rng, ["kmer"], ["", "bogus", "kmer,kmer", "KMER"]),
                "--folds", pick(rng, [2, 2, 3], [1, 0, -1, 1000, "x"])]
        if rng.random() < 0.9:
            argv += ["--label-column", pick(rng, ["label"], ["peptide", "group", "absent", ""])]
        maybe(rng, argv, "--task", ["classification", "pair-classification", "regression", "multiclass"],
              TASKS + ["bogus", ""], 0.4)
        maybe(rng, argv, "--split", ["random", "stratified", "grouped"], ["cluster", "column", "scaffold", "bogus"])
        maybe(rng, argv, "--group-column", ["group", "peptide"], ["absent", ""])
        maybe(rng, argv, "--split-column", ["split"], ["label", "absent"], 0.15)
        maybe(rng, argv, "--cluster-threshold", ["edit:1", "identity:0.9"], ["edit:-1", "identity:2", "bogus"], 0.1)
        maybe(rng, argv, "--label-fractions", ["0.5,1", "1"], ["0", "2", "x", "", "0.1,0.1"], 0.15)
        maybe(rng, argv, "--negative-type-column", ["group"], ["absent"], 0.1)
        maybe(rng, argv, "--group-metric", ["peptide"], ["absent"], 0.1)
        maybe(rng, argv, "--primary-metric", ["auroc", "accuracy"], ["bogus"], 0.1)
        maybe(rng, argv, "--remove-duplicates", [True], p=0.1)
        maybe(rng, argv, "--invalid-smiles", ["error", "skip"], ["bogus"], 0.1)
    elif command == "pretrain":
        argv = ["pretrain", "--data", str(data), "--out", str(out), "--quiet",
                "--max-steps", pick(rng, [1], [0, -1, "x", 2])]
        maybe(rng, argv, "--columns", [columns_flag(rng, names)], p=0.7)
        maybe(rng, argv, "--objective", ["mlm", "simclr"], ["bogus", ""], 0.6)
        maybe(rng, argv, "--batch-size", [1, 2, 8], [0, -3, 10**9, "x"])
        maybe(rng, argv, "--lr", [1e-3, 0.1], [0, -1, "nan", "inf", 1e30, "x"])
        maybe(rng, argv, "--view", ["mask", "crop", "substitute"], ["bogus"])
        maybe(rng, argv, "--positives", ["augment", "label", "neighbours"], ["bogus"], 0.15)
        maybe(rng, argv, "--pretrain-label-column", ["label", "peptide"], ["absent"], 0.1)
        maybe(rng, argv, "--mask-tokens", [1, 2], [0, 100, -1])
        maybe(rng, argv, "--temperature", [0.1, 0.5], [0, -1, "nan"])
        maybe(rng, argv, "--chunk-size", [1, 4], [0, -1], 0.15)
        maybe(rng, argv, "--stream", [True], p=0.2)
    elif command == "embed":
        argv = ["embed", "--encoder", pick(rng, [encoder], [model, folder / "none", data, folder]),
                "--data", str(data), "--out", str(out / pick(rng, ["e.parquet"], ["e.csv", "e", "deep/e.parquet"]))]
        maybe(rng, argv, "--columns", [columns_flag(rng, names)], p=0.8)
        maybe(rng, argv, "--id-column", ["group", "peptide", "label"], ["absent"], 0.2)
        maybe(rng, argv, "--batch-size", [1, 512], [0, -1, "x"], 0.2)
    elif command == "predict":
        argv = ["predict", "--model", pick(rng, [model], [encoder, folder / "none", data]),
                "--data", str(data), "--out", str(out / pick(rng, ["p.csv", "p.parquet"], ["p.txt", "deep/p.csv"]))]
        maybe(rng, argv, "--columns", [columns_flag(rng, names)], p=0.5)
        maybe(rng, argv, "--batch-size", [1, 512], [0, -1, "x"], 0.2)
    elif command == "config":
        argv = ["config", "show"]
    else:  # usage errors: unknown commands and flags, missing values
        return rng.choice([["bogus"], ["crossval", "--bogus"], ["crossval", "--data"], ["pretrain", "--lr"],
                           ["embed"], ["predict", "--model"], ["runs", "show", junk(rng) or "x"], ["--version"], []])
    if command in ("crossval", "pretrain", "embed"):
        maybe(rng, argv, "--max-length", [64, 128], [3, 8, 0, -5, 10**6, "x"], 0.2)
        maybe(rng, argv, "--too-long", ["error", "truncate"], ["bogus"], 0.2)
    if command in ("crossval", "pretrain"):
        maybe(rng, argv, "--device", ["cpu", "auto"], ["cuda", "bogus"], 0.1)
        maybe(rng, argv, "--alphabet", ["protein"], ["smiles", "text", "bogus"], 0.15)
        maybe(rng, argv, "--unknown-residues", ["error", "map-to-x"], ["bogus"], 0.3)
        maybe(rng, argv, "--seed", [0, 1], [-1, 2**40, "x"], 0.1)
    if command in ("crossval", "pretrain") and rng.random() < 0.3 or command == "config":
        argv += ["--config", str(make_config(rng, folder))]
    return argv


# --- running ---------------------------------------------------------------------------------------------


def run_one(argv: list[str], timeout: float) -> tuple[str, str, str]:
    """``(outcome, stderr, traceback)``: outcome is ``clean:<ok|input error|stopped>``, ``clean-multiline`` or
    ``unclean:<what>``."""
    from seqssl.cli import main
    out, err = io.StringIO(), io.StringIO()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Timeout:
        return f"unclean:timeout>{timeout:g}s", err.getvalue(), ""
    except BaseException as exc:  # noqa: BLE001  (the point: anything else escaping main)
        return f"unclean:{type(exc).__name__}", err.getvalue(), traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    message = err.getvalue().strip()
    if code == 0 or code == 2 or (code == 1 and message.startswith("stopped:")):
        error_lines = [line for line in message.splitlines() if line.startswith(("error:", "stopped:"))]
        multiline = code != 0 and error_lines and len(message.splitlines()) > 1 and "Usage:" not in message
        kind = {0: "ok", 1: "stopped", 2: "input error"}[code]
        return ("clean-multiline" if multiline else f"clean:{kind}"), message, ""
    return f"unclean:exit {code}", message, ""


def _shape(message: str) -> str:
    """The first line of an error with the temporary paths, quoted values and numbers blanked, so that
    errors of one kind count together."""
    line = next((x for x in message.splitlines() if x.startswith(("error:", "stopped:"))), message.splitlines()[-1])
    line = re.sub(r"/tmp/\S+?(?=[,:)\s]|$)", "PATH", line)
    line = re.sub(r"'[^']*'", "'…'", line)
    return re.sub(r"\d+", "N", line)[:150]


def setup(folder: Path) -> tuple[Path, Path]:
    """A tiny encoder (pretrain) and a tiny fine-tuned model (finetune), for embed and predict."""
    from seqssl.cli import main
    rng = random.Random(12345)
    header, rows = valid_table(rng)
    rows = rows * 2
    data = folder / "setup.csv"
    data.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    config = folder / "tiny.yaml"
    config.write_text(TINY_MODEL)
    encoder, model = folder / "encoder", folder / "model"
    quiet = io.StringIO()
    for argv in (["pretrain", "--data", str(data), "--columns", "cdr3_b_aa", "--objective", "mlm", "--max-steps", "2",
                  "--config", str(config), "--out", str(encoder), "--quiet"],
                 ["finetune", "--data", str(data), "--columns", "cdr3_b_aa", "--label-column", "label",
                  "--encoder", str(encoder), "--epochs", "1", "--max-steps", "2", "--config", str(config),
                  "--out", str(model), "--quiet"]):
        try:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                main(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                sys.exit(f"setup failed: {' '.join(argv)}\n{quiet.getvalue()}")
    return encoder, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="generated inputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=5, help="unclean tracebacks printed")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input before it counts as hung")
    parser.add_argument("--keep", help="copy the inputs of unclean runs here")
    parser.add_argument("--top", type=int, default=12, help="most common error messages listed")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="seqssl-fuzz-"))
    os.environ["SEQSSL_HOME"] = str(root / "home")  # the run registry of these runs, not the user's
    os.environ["SEQSSL_CACHE"] = str(root / "cache")
    import torch
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _on_alarm)
    start = time.time()
    encoder, model = setup(root)
    setup_s = time.time() - start

    rng = random.Random(args.seed)
    outcomes: Counter = Counter()
    by_command: Counter = Counter()
    unclean: list[tuple[int, list[str], str, str, str]] = []
    multiline: list[tuple[list[str], str]] = []
    errors: Counter = Counter()  # the clean errors' messages, paths and quoted values blanked: what inputs hit
    start = time.time()
    for i in range(args.n):
        case = root / f"case{i}"
        case.mkdir()
        argv = make_argv(rng, case, encoder, model)
        outcome, message, trace = run_one(argv, args.timeout)
        outcomes[outcome] += 1
        by_command[(argv[0] if argv else "(none)", outcome.split(":")[0])] += 1
        if outcome.startswith("unclean"):
            unclean.append((i, argv, outcome, message, trace))
            if args.keep:
                shutil.copytree(case, Path(args.keep) / f"case{i}", dirs_exist_ok=True)
        elif outcome == "clean-multiline":
            multiline.append((argv, message))
        if outcome != "clean:ok" and message:
            errors[(argv[0] if argv else "", _shape(message))] += 1
        shutil.rmtree(case, ignore_errors=True)
        if (i + 1) % 500 == 0:
            print(f"  {i + 1}/{args.n} inputs, {len(unclean)} unclean, {time.time() - start:.0f} s", flush=True)
    elapsed = time.time() - start
    shutil.rmtree(root, ignore_errors=True)

    print(f"fuzzed {args.n} inputs (seed {args.seed}) in {elapsed:.1f} s ({elapsed / max(args.n, 1) * 1000:.0f} ms "
          f"each; setup {setup_s:.1f} s)")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:32s} {count}")
    print("per command (clean / clean-multiline / unclean):")
    for command in sorted({c for c, _ in by_command}):
        print(f"  {command:10s} " + " / ".join(str(by_command[(command, o)])
                                               for o in ("clean", "clean-multiline", "unclean")))
    print("most common errors (command: message, paths and quoted values blanked):")
    for (command, shape), count in errors.most_common(args.top):
        print(f"  {count:5d}  {command}: {shape}")
    for argv, message in multiline[:3]:
        print(f"\nmulti-line error message (clean exit, but the CLI promises one line): {' '.join(argv)}\n"
              f"{message[:500]}")
    for i, argv, outcome, message, trace in unclean[:args.show]:
        print(f"\n--- unclean #{i}: {outcome}\nargv: {argv}\n{trace or message[-2000:]}")
    print(f"fuzz_unclean: {len(unclean)}")


if __name__ == "__main__":
    main()
