"""Property-based robustness of what users feed seqssl (issue 18): every reader, the tokenizers, labelled-data
loading and the YAML config loader, on arbitrary bytes, random Unicode, random column layouts, random label
values and empty or huge fields. The only outcomes allowed are a result or :class:`~seqssl.errors.InputError`
(the CLI's exit code 2); any other exception fails the test. ``benchmarks/fuzz_cli.py`` runs the same kind of
inputs through the CLI entry points."""
from __future__ import annotations

import csv
import gzip
import io
import itertools
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from seqssl.config import Config, load_config
from seqssl.data.formats import FORMATS, format_of
from seqssl.data.labelled import load_labelled
from seqssl.data.readers import SequenceTable, read_table
from seqssl.data.smiles import SmilesTokenizer, tokenize_smiles
from seqssl.data.stream import rows_of
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.errors import InputError

# Modest budgets: the whole file runs in well under a minute on two cores. No example database (no
# .hypothesis/ folder in the checkout); a failure prints the falsifying example to reproduce it.
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(FUZZ, max_examples=30)

TEXT_SUFFIXES = [".csv", ".tsv", ".txt", ".fasta", ".fa", ".faa", ".fna"]
ALL_SUFFIXES = TEXT_SUFFIXES + [s + ".gz" for s in TEXT_SUFFIXES] + [".parquet", ".pq", ".parquet.gz"]
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One folder for every example of the module (hypothesis reruns a test body; function-scoped
    ``tmp_path`` would be shared by all of a test's examples anyway)."""
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, suffix: str, payload: bytes) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(payload)
    return path


def result_or_input_error(fn, *args, **kwargs):
    """``fn(*args)``, or None when it raised InputError: every other exception propagates (and fails)."""
    try:
        return fn(*args, **kwargs)
    except InputError as err:
        assert str(err).strip(), "an InputError must say what is wrong"
        assert "\n" not in err.problem, f"the CLI prints one line: {err.problem!r}"
        return None


def _check_table(table: SequenceTable) -> None:
    assert isinstance(table, SequenceTable)
    assert len(table.lines) == len(table.frame) > 0
    assert (np.diff(table.lines) > 0).all(), "rows keep their file order and distinct line numbers"


def _streamed(path: Path, columns: list[str]):
    return list(rows_of(str(path), columns))


def _in_memory_rows(table: SequenceTable, columns: list[str]):
    cols = [table.frame[c].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                               else str(v).strip()).tolist() for c in columns]
    return [(int(line), values) for line, values in zip(table.lines, zip(*cols))]


# --- strategies ------------------------------------------------------------------------------------------

# Text that users' files hold: letters, digits, punctuation, the delimiters and quotes, whitespace,
# non-ASCII (accents, CJK, emoji, surrogate-free) and the odd control character.
FIELD_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
delimiter_soup = st.sampled_from(list(",\t;\"' \r\n>#|\\") + ["A", "C", "é", "\u2028", "\x00", "\ufeff"])
fields = st.one_of(
    st.text(FIELD_CHARS, max_size=12),
    st.text(st.sampled_from("ACDEFGHIKLMNPQRSTVWYXBZ*-acdefg"), max_size=20),
    st.sampled_from(["", " ", "nan", "NA", "None", "null", "1", "0", "-1", "1.5", "inf", "-inf", "1e309",
                     "true", "FALSE", '"', '""', '"a,b"', "a\tb", "x" * 5000]),
)
header_names = st.one_of(st.text(FIELD_CHARS, max_size=8), st.sampled_from(["seq", "label", "id", "", " seq "]))


@st.composite
def csv_documents(draw, delimiter: str):
    """A header and rows of random fields: sometimes written by ``csv.writer`` (proper quoting), sometimes joined
    raw (stray quotes, ragged rows, embedded delimiters)."""
    n_cols = draw(st.integers(1, 5))
    header = draw(st.lists(header_names, min_size=n_cols, max_size=n_cols))
    rows = draw(st.lists(st.lists(fields, min_size=0, max_size=n_cols + 1), max_size=8))
    if draw(st.booleans()):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(rows)
        text = buffer.getvalue()
    else:
        text = "\n".join(delimiter.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", "\n", "\n\n"]))
    if draw(st.booleans()):
        text = "\ufeff" + text
    return header, text


random_payload = st.one_of(
    st.binary(max_size=600),
    st.text(FIELD_CHARS, max_size=300).map(lambda t: t.encode("utf-8")),
    st.lists(delimiter_soup, max_size=200).map(lambda xs: "".join(xs).encode("utf-8")),
)


# --- readers on anything --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
@FEW
@given(payload=random_payload, compress=st.booleans())
def test_read_table_on_random_bytes(workdir, suffix, payload, compress):
    """Arbitrary bytes under every suffix (gzip-compressed or not, whatever the suffix says): a table or an
    InputError, in memory and streamed."""
    path = _write(workdir, suffix, gzip.compress(payload) if compress else payload)
    table = result_or_input_error(read_table, path)
    if table is not None:
        _check_table(table)
        columns = [str(c) for c in table.frame.columns[:2]]
        result_or_input_error(_streamed, path, columns)


@pytest.mark.parametrize("delimiter,suffix", [(",", ".csv"), ("\t", ".tsv"), (",", ".csv.gz"), ("\t", ".tsv.gz")])
@FUZZ
@given(data=st.data())
def test_random_unicode_delimited_tables(workdir, delimiter, suffix, data):
    """Random headers, column counts, quoting and Unicode fields: read_table gives a table or an InputError, and
    the streaming reader gives the same rows (lines and stripped values) or an InputError."""
    header, text = data.draw(csv_documents(delimiter))
    payload = text.encode("utf-8")
    path = _write(workdir, suffix, gzip.compress(payload) if suffix.endswith(".gz") else payload)
    table = result_or_input_error(read_table, path)
    wanted = data.draw(st.lists(st.sampled_from([h.strip() for h in header] + ["absent"]), min_size=1, max_size=2))
    streamed = result_or_input_error(_streamed, path, wanted)
    if table is None:
        return
    _check_table(table)
    if streamed is not None and all(c in table.frame.columns for c in wanted):
        assert streamed == _in_memory_rows(table, wanted)


@FUZZ
@given(records=st.lists(st.tuples(st.text(FIELD_CHARS, max_size=20), st.lists(fields, max_size=4)), max_size=6),
       prefix=st.sampled_from(["", "\n", "ACDE\n", "; comment\n", "\ufeff"]), gz=st.booleans(),
       columns=st.lists(st.sampled_from(["id", "description", "sequence", "seq"]), min_size=1, max_size=2))
def test_random_fasta(workdir, records, prefix, gz, columns):
    """Random FASTA headers and (wrapped, empty, non-ASCII) sequence lines: the same records in memory and
    streamed, or an InputError."""
    text = prefix + "".join(f">{h}\n" + "".join(f"{line}\n" for line in lines) for h, lines in records)
    payload = text.encode("utf-8")
    path = _write(workdir, ".fasta.gz" if gz else ".fasta", gzip.compress(payload) if gz else payload)
    table = result_or_input_error(read_table, path)
    streamed = result_or_input_error(_streamed, path, columns)
    if table is not None:
        _check_table(table)
        assert list(table.frame.columns) == ["id", "description", "sequence"]
        if streamed is not None:
            assert streamed == _in_memory_rows(table, columns)


@FUZZ
@given(lines=st.lists(st.one_of(st.text(FIELD_CHARS, max_size=40), st.just("x" * 20000)), max_size=8),
       gz=st.booleans())
def test_random_plain_text(workdir, lines, gz):
    """One document per non-empty line, huge lines included: the same documents in memory and streamed."""
    payload = "\n".join(lines).encode("utf-8")
    path = _write(workdir, ".txt.gz" if gz else ".txt", gzip.compress(payload) if gz else payload)
    table = result_or_input_error(read_table, path)
    streamed = result_or_input_error(_streamed, path, ["text"])
    if table is not None:
        _check_table(table)
        assert streamed == _in_memory_rows(table, ["text"])


parquet_values = st.one_of(
    st.lists(st.one_of(st.none(), st.text(FIELD_CHARS, max_size=10)), min_size=1, max_size=6),
    st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=6),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6),
    st.lists(st.booleans(), min_size=1, max_size=6),
)


@FEW
@given(names=st.lists(header_names, min_size=1, max_size=3, unique=True), data=st.data())
def test_random_parquet_tables(workdir, names, data):
    """Parquet with random column names, types and missing values: a table, and its streamed rows, or an
    InputError."""
    n = data.draw(st.integers(1, 6))
    frame = pd.DataFrame({name: (data.draw(parquet_values) * n)[:n] for name in names})
    path = workdir / f"f{next(_counter)}.parquet"
    frame.to_parquet(path)
    table = result_or_input_error(read_table, path)
    assert table is not None and len(table) == n
    wanted = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))
    streamed = result_or_input_error(_streamed, path, wanted)
    assert streamed is not None and len(streamed) == n


@pytest.mark.parametrize("fmt", [f.name for f in FORMATS])
def test_every_format_has_a_fuzzed_suffix(fmt):
    """The suffix list above covers every registered format (a new format gets fuzzed too)."""
    assert any(format_of(f"x{s}").name == fmt for s in ALL_SUFFIXES if not s.endswith(".parquet.gz"))


# --- tokenizers ---------------------------------------------------------------------------------------------

sequences = st.one_of(st.text(FIELD_CHARS, max_size=60), st.text(st.sampled_from("ACDEFGHIKLMNPQRSTVWYacdeXBZ"),
                                                                  max_size=60), st.just("A" * 50000))


@FUZZ
@given(a=sequences, b=st.one_of(st.none(), sequences), unknown=st.sampled_from(["error", "map-to-x"]))
def test_sequence_tokenizer_on_random_unicode(a, b, unknown):
    tok = SequenceTokenizer("protein", unknown=unknown)
    enc = result_or_input_error(tok.encode, a, b, where={"path": "p.csv", "line": 3, "column": ["x", "y"]})
    if enc is not None:
        assert enc.input_ids.dtype == np.int64 and len(enc.input_ids) == len(enc.token_type_ids)
        assert ((enc.input_ids >= 0) & (enc.input_ids < tok.vocab_size)).all()
        assert len(enc.input_ids) == len(a) + 2 + (0 if b is None else len(b) + 1)


smiles_like = st.one_of(st.text(FIELD_CHARS, max_size=40),
                        st.text(st.sampled_from("CNOSPFIBrcl()[]=#@+-123%H\\/.*"), max_size=40))


@FUZZ
@given(corpus=st.lists(smiles_like, max_size=5), probe=smiles_like, unknown=st.sampled_from(["error", "map-to-unk"]))
def test_smiles_tokenizer_on_random_unicode(corpus, probe, unknown):
    tokens = result_or_input_error(tokenize_smiles, probe, where={"line": 2})
    if tokens is not None:
        assert "".join(tokens) == probe
    tok = result_or_input_error(SmilesTokenizer.fit, corpus, unknown=unknown)
    if tok is not None:
        enc = result_or_input_error(tok.encode, probe)
        if enc is not None:
            assert ((enc.input_ids >= 0) & (enc.input_ids < tok.vocab_size)).all()


# --- labelled data -------------------------------------------------------------------------------------------

label_values = st.one_of(
    st.sampled_from(["0", "1", "0.0", "1.0", "true", "False", "2", "-1", "0.5", "", " ", "nan", "NaN", "NA", "None",
                     "inf", "-inf", "1e309", "1e39", "-1e39", "0x1", "1_000", "１", "½", "٣", "x" * 3000]),
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(FIELD_CHARS, max_size=8),
)


@FUZZ
@given(labels=st.lists(label_values, min_size=1, max_size=12),
       task=st.sampled_from(["classification", "regression", "multiclass"]),
       seqs=st.lists(st.text(st.sampled_from("ACDEFGHIKLMNPQRSTVWY"), min_size=1, max_size=12), min_size=1,
                     max_size=12),
       alphabet=st.sampled_from(["protein", "smiles"]))
def test_load_labelled_on_random_labels(workdir, labels, task, seqs, alphabet):
    """Random label values for classification, regression and multiclass: labelled data with finite labels of
    the task's kind, or an InputError naming the bad one."""
    rows = [(seqs[i % len(seqs)], label) for i, label in enumerate(labels)]
    path = workdir / f"f{next(_counter)}.csv"
    pd.DataFrame(rows, columns=["seq", "label"]).to_csv(path, index=False)
    cfg = load_config(None, {"data": {"path": str(path), "columns": ["seq"], "label_column": "label", "task": task,
                                      "alphabet": alphabet}})
    data = result_or_input_error(load_labelled, cfg)
    if data is None:
        return
    assert len(data) == len(data.encoded) == len(labels)
    values = np.asarray(data.encoded.labels, dtype=np.float64)
    assert np.isfinite(values).all(), f"labels {labels} loaded as {values}"
    if task == "classification":
        assert set(np.unique(values)) <= {0.0, 1.0}


# --- configuration -------------------------------------------------------------------------------------------

DEFAULTS = Config().to_dict()
KNOWN_KEYS = [(section, key) for section, body in DEFAULTS.items() if isinstance(body, dict) for key in body]
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**20),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(FIELD_CHARS, max_size=10),
                         st.sampled_from(["1e-3", "five", "none", "null", "[1, 2]", "a,b", "0", "-1", "inf", "nan"]))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3)), max_leaves=6)


@st.composite
def override_dicts(draw):
    """Mostly real keys (sections and fields) with random values, sometimes misspelt or misplaced keys."""
    out: dict = {}
    for _ in range(draw(st.integers(0, 4))):
        section, key = draw(st.sampled_from(KNOWN_KEYS))
        kind = draw(st.integers(0, 9))
        if kind == 0:
            out[draw(st.text(max_size=6))] = draw(yaml_values)  # unknown or top-level key
        elif kind == 1:
            out[section] = draw(yaml_values)  # a section given a scalar or list
        elif kind == 2:
            out.setdefault(section, {})[draw(st.one_of(st.text(max_size=6), st.integers()))] = draw(yaml_values)
        else:
            out.setdefault(section, {})[key] = draw(yaml_values)
    return out


def _config(path, overrides):
    config = load_config(path, overrides)
    assert isinstance(config, Config)
    yaml.safe_load(config.to_yaml())  # what `seqssl config show` prints is YAML again
    return config


@FUZZ
@given(text=st.one_of(st.text(FIELD_CHARS, max_size=200),
                      st.lists(st.sampled_from(["data:", "  path: x", "model:", "  hidden_size: ", "- a", ": ", "{",
                                                "[", "&a", "*a", "!!python/object:os.system", "\t", "'", "seed: 1",
                                                "pretrain: {lr: five}", "<<: *a", "\ufeff", "%YAML 1.2", "---"]),
                               max_size=12).map("\n".join)))
def test_load_config_on_random_yaml_text(workdir, text):
    path = workdir / f"c{next(_counter)}.yaml"
    path.write_text(text, encoding="utf-8")
    result_or_input_error(_config, path, None)


@FUZZ
@given(overrides=override_dicts(), in_file=st.booleans())
def test_load_config_on_random_values(workdir, overrides, in_file):
    """Random values for real keys (and some unknown keys), from a YAML file or as command-line overrides."""
    if in_file:
        path = workdir / f"c{next(_counter)}.yaml"
        try:
            path.write_text(yaml.safe_dump(overrides, allow_unicode=True), encoding="utf-8")
        except yaml.YAMLError:
            assume(False)
        result_or_input_error(_config, path, None)
    else:
        result_or_input_error(_config, None, overrides)


def test_tempdir_strategy_is_not_needed():
    """Examples write under one module folder; a tempfile folder works as well for ad-hoc reproduction."""
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), ".csv", b"seq,label\nACDE,1\n")
        assert len(read_table(path)) == 1
