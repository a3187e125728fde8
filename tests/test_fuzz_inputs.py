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
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from seqssl.config import Config, load_config
from seqssl.data.formats import FORMATS, format_of
from seqssl.data.formats.readers import SequenceTable, read_table
from seqssl.data.splits import carve_validation, make_folds
from seqssl.data.stream import ArrowCorpus, rows_of, tokenize_to_arrow
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.data.tokenizers.smiles import SmilesTokenizer, tokenize_smiles
from seqssl.errors import InputError
from seqssl.tasks.labelled import carve, load_labelled

# Modest budgets: the whole file runs in well under a minute on two cores. No example database (no
# .hypothesis/ folder in the checkout); a failure prints the falsifying example to reproduce it. conftest's
# autouse fixtures (a private run registry) are function-scoped: sharing them across examples is harmless.
FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(FUZZ, max_examples=50)

TEXT_SUFFIXES = [".csv", ".tsv", ".txt", ".fasta", ".fa", ".faa", ".fna"]
ALL_SUFFIXES = TEXT_SUFFIXES + [s + ".gz" for s in TEXT_SUFFIXES] + [".parquet", ".pq", ".parquet.gz", ".json", ".lmdb"]
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One folder for the module's examples (hypothesis runs a test body many times per ``tmp_path``); every
    example writes a file of its own name."""
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, suffix: str, payload: bytes) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(payload)
    return path


def result_or_input_error(fn, *args, **kwargs):
    """``fn(*args)``, or None when it raised InputError: every other exception propagates (and fails)."""
    try:
        result = fn(*args, **kwargs)
    except InputError as err:
        assert str(err).strip(), "an InputError must say what is wrong"
        event(f"{fn.__name__}: InputError")
        return None
    event(f"{fn.__name__}: result")
    return result


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

# Any text UTF-8 can hold (no lone surrogates): letters, digits, punctuation, delimiters and quotes,
# whitespace and line breaks, accents, CJK, emoji and control characters.
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
    """A header and rows of random fields. Half are regular (distinct names, every row as wide as the header,
    no line breaks: what the readers should accept); the rest ragged. Sometimes written by ``csv.writer``
    (proper quoting), sometimes joined raw (stray quotes, embedded delimiters)."""
    n_cols = draw(st.integers(1, 5))
    if draw(st.booleans()):
        header = draw(st.lists(st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=6)
                               | st.sampled_from(["seq", "label", "id"]), min_size=n_cols, max_size=n_cols,
                               unique=True))
        cells = fields.filter(lambda f: not any(c in f for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))
        rows = draw(st.lists(st.lists(cells, min_size=n_cols, max_size=n_cols), min_size=1, max_size=8))
    else:
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


# --- what fuzzing found, pinned --------------------------------------------------------------------------

FOUND = {  # name: (file name, content, fragment of the InputError)
    # stripped, two names were one: read_table crashed (frame[name] was a DataFrame)
    "repeated column name": ("d.csv", "seq, seq \nACDE,KLMN\n", "'seq' appears twice"),
    "repeated column name, TSV": ("d.tsv", "seq\tlabel\tseq\nA\t1\tC\n", "'seq' appears twice"),
    # pandas made the first field the row index: every column shifted by one, silently
    "first row longer than the header": ("d.csv", "seq,label\nACDE,1,x\nKLMN,0,y\n", "more fields than the header"),
    "trailing delimiters on data rows": ("d.csv", "seq,label\nACDE,1,\nKLMN,0,\n", "more fields than the header"),
}


@pytest.mark.parametrize("name", list(FOUND))
def test_found_by_fuzzing_reader(workdir, name):
    """In memory and streamed alike: an InputError, not a traceback or shifted columns."""
    suffix, content, fragment = FOUND[name]
    path = _write(workdir, suffix, content.encode())
    with pytest.raises(InputError, match=fragment) as err:
        read_table(path)
    assert str(err.value).startswith(str(path))
    with pytest.raises(InputError):
        _streamed(path, ["seq"])


def test_found_by_fuzzing_blank_column_names_stay_distinct(workdir):
    """Names of spaces are no names (pandas calls an empty one "Unnamed: i"): two of them are not a repeat."""
    table = read_table(_write(workdir, ".csv", b"seq, ,  \nACDE,1,2\n"))
    assert list(table.frame.columns) == ["seq", "Unnamed: 1", "Unnamed: 2"]


@pytest.mark.parametrize("overrides", [{"seed": "inf"}, {"seed": ".nan"}, {"seed": float("nan")},
                                       {"crossval": {"folds": 10**400}}, {"model": {"hidden_size": "-inf"}}])
def test_found_by_fuzzing_config_numbers(overrides):
    """An integer key given infinity, NaN or an integer beyond float range: an InputError naming the key
    (was OverflowError / ValueError from int())."""
    with pytest.raises(InputError, match="config key"):
        load_config(None, overrides)


def test_found_by_fuzzing_streamed_corpus_missing_file(workdir):
    """``pretrain --stream`` on a missing file (was FileNotFoundError from the cache key's os.stat)."""
    with pytest.raises(InputError, match="file not found"):
        tokenize_to_arrow([(str(workdir / "absent.csv"), ["seq"])], SequenceTokenizer("protein"), None, "error",
                          workdir / "cache", progress=False)


def test_found_by_fuzzing_damaged_parquet_row_group(workdir):
    """A Parquet file whose footer reads but whose data does not (was OSError from the streaming reader)."""
    path = workdir / f"f{next(_counter)}.parquet"
    pd.DataFrame({"seq": [f"ACDE{i}" for i in range(200)]}).to_parquet(path)
    raw = bytearray(path.read_bytes())
    raw[8:200] = bytes(range(192))  # the first data page, after the magic; the footer stays whole
    path.write_bytes(bytes(raw))
    for read in (lambda: read_table(path), lambda: _streamed(path, ["seq"])):
        with pytest.raises(InputError, match="cannot read Parquet"):
            read()


def test_found_by_fuzzing_more_folds_than_rows():
    """``--folds 1000`` on 10 rows, and a validation split carved from a 5-row training fold (both were
    scikit-learn's ValueError)."""
    with pytest.raises(InputError, match="10 examples cannot make 1000 folds"):
        make_folds(1000, np.zeros(10), None, "random", 0, stratify=False)
    with pytest.raises(InputError, match="0 examples cannot make 2 folds"):  # was numpy's "zero-size array"
        make_folds(2, np.zeros(0), None, "stratified", 0, stratify=True)
    fit, val, _ = carve_validation(np.arange(5), np.arange(5.0), None, 0.15, 0, stratify=False)
    assert sorted([*fit, *val]) == [0, 1, 2, 3, 4] and len(val) > 0


@pytest.mark.parametrize("seed", [-1, 2**31, 2**40, 2**64])
def test_found_by_fuzzing_seed_range(seed):
    """A seed NumPy, scikit-learn or torch refuses (was ValueError "expected non-negative integer" when training
    began; 2^40 passed the check and failed in scikit-learn's RandomState, "Seed must be between 0 and 2**32 - 1")."""
    with pytest.raises(InputError, match="config key 'seed'"):
        load_config(None, {"seed": seed})
    assert load_config(None, {"seed": 2**31 - 1}).seed == 2**31 - 1


def test_found_by_fuzzing_one_class_left_to_fit(workdir):
    """Groups that each hold one class: carving a whole group off for validation left one class to fit (the
    k-mer arm crashed in scikit-learn); now an InputError naming the file."""
    rows = "".join(f"{'ACDEFGHIK'[i % 9]}KLM{'ACDEFGHIKLMNPQRSTVWY'[i]},{i % 2},g{i % 4}\n" for i in range(16))
    path = _write(workdir, ".csv", f"seq,label,group\n{rows}".encode())
    cfg = load_config(None, {"data": {"path": str(path), "columns": ["seq"], "label_column": "label",
                                      "group_column": "group"}})
    data = load_labelled(cfg)
    train = np.flatnonzero(np.isin(data.groups, ["G0", "G1"]))  # one group of each class
    with pytest.raises(InputError, match="one class only.*groups holds one class"):
        carve(data, train, 0.15, 0)
    mixed = load_labelled(load_config(None, {"data": {**cfg.data.__dict__, "group_column": None}}))
    carve(mixed, np.arange(len(mixed)), 0.15, 0)  # no groups: both classes on each side


def test_found_by_fuzzing_no_arms():
    """``--arms ""`` (or ``arms: []``): an InputError before any work (crossval crashed at its end, concatenating
    no predictions)."""
    with pytest.raises(InputError, match="crossval.arms"):
        load_config(None, {"crossval": {"arms": []}})


def test_found_by_fuzzing_config_not_utf8(workdir):
    """A config saved as Latin-1 (was UnicodeDecodeError from read_text)."""
    path = _write(workdir, ".yaml", "seed: 1  # café\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_config(path)


@pytest.mark.parametrize("label", ["inf", "-inf", "1e39", "-1e400"])
def test_found_by_fuzzing_infinite_regression_label(workdir, label):
    """A regression label that is infinite, or beyond float32 (was loaded as inf: an infinite loss later)."""
    path = _write(workdir, ".csv", f"seq,label\nACDE,1.5\nKLMN,{label}\n".encode())
    cfg = load_config(None, {"data": {"path": str(path), "columns": ["seq"], "label_column": "label",
                                      "task": "regression"}})
    with pytest.raises(InputError, match="line 3.*not a finite number"):
        load_labelled(cfg)


# --- readers on anything --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ALL_SUFFIXES)
@FEW
@given(payload=random_payload, compress=st.booleans())
@example(payload=b"\xef\xbb\xbf\xef\xbb\xbf", compress=True)  # two byte-order marks: pandas found no columns
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
    names = [h.strip() for h in header]
    wanted = data.draw(st.lists(st.sampled_from(names) | st.just("absent"), min_size=1, max_size=2))
    streamed = result_or_input_error(_streamed, path, wanted)
    if table is None:
        return
    _check_table(table)
    if all(c in table.frame.columns for c in wanted):
        if streamed is None:
            event("read in memory, refused streamed")
        else:
            event("both read: compared")
            assert streamed == _in_memory_rows(table, wanted)


@FEW
@given(data=st.data(), max_length=st.sampled_from([None, 3, 8, 64]), too_long=st.sampled_from(["error", "truncate"]),
       unknown=st.sampled_from(["error", "map-to-x"]))
def test_streamed_corpus_on_random_tables(workdir, data, max_length, too_long, unknown):
    """``pretrain --stream``'s path: random CSVs tokenised into the Arrow cache and memory-mapped back, or an
    InputError (bad residue, empty or over-long sequence, bad file) naming where."""
    header, text = data.draw(csv_documents(","))
    path = _write(workdir, ".csv", text.encode("utf-8"))
    columns = data.draw(st.lists(st.sampled_from([h.strip() for h in header]), min_size=1, max_size=2))
    tok = SequenceTokenizer("protein", unknown=unknown)
    arrow = result_or_input_error(tokenize_to_arrow, [(str(path), columns)], tok, max_length, too_long,
                                  workdir / "cache", progress=False)
    if arrow is not None:
        corpus = result_or_input_error(ArrowCorpus, arrow)  # an empty corpus is an InputError too
        if corpus is not None:
            batch = corpus.padded(np.arange(len(corpus)))
            assert batch["input_ids"].shape[0] == len(corpus)
            if max_length is not None:  # a truncated pair keeps a residue of each: [CLS] a [SEP] b [SEP]
                assert batch["input_ids"].shape[1] <= max(max_length, 5 if len(columns) == 2 else 3)


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


LINE_BREAKS = ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"]  # what str.splitlines splits on (some)


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_errors_quoting_a_line_break_stay_one_line(workdir, brk):
    """The CLI prints ``str(InputError)`` as its one line: a value holding a line break (a quoted CSV field may)
    must not split it."""
    path = workdir / f"f{next(_counter)}.csv"
    path.write_text(f'seq,label\nACDE,1\n"AC{brk}DE",0\n', encoding="utf-8", newline="")
    cfg = load_config(None, {"data": {"path": str(path), "columns": ["seq"], "label_column": "label"}})
    for call in (lambda: SequenceTokenizer("protein").encode(f"AC{brk}DE"), lambda: tokenize_smiles(f"C{brk}C"),
                 lambda: load_labelled(cfg)):
        with pytest.raises(InputError) as err:
            call()
        assert len(str(err.value).splitlines()) == 1, str(err.value)


# --- labelled data -------------------------------------------------------------------------------------------

label_values = st.one_of(
    st.sampled_from(["0", "1", "0.0", "1.0", "true", "False", "2", "-1", "0.5", "", " ", "nan", "NaN", "NA", "None",
                     "inf", "-inf", "1e309", "1e39", "-1e39", "0x1", "1_000", "１", "½", "٣", "x" * 3000]),
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(FIELD_CHARS, max_size=8),
)


VALID_LABELS = {  # what each task accepts, with the spellings and padding users write
    "classification": st.sampled_from(["0", "1", " 1 ", "0.0", "1.0", "true", "False", "TRUE"]),
    "regression": st.one_of(st.floats(-1e30, 1e30).map(repr), st.integers(-10**6, 10**6).map(str),
                            st.sampled_from(["1e-3", " 2.5 ", "-0", "+3", ".5"])),
    "multiclass": st.sampled_from(["a", "b", "c", "1", "2", "-1", " x ", "é"]),
}


@st.composite
def task_labels(draw, task: str):
    """Mostly valid labels for the task with now and then a random one (the bad row), or all random."""
    valid = VALID_LABELS[task]
    if draw(st.booleans()):
        return draw(st.lists(valid, min_size=1, max_size=12))
    return draw(st.lists(st.one_of(valid, valid, valid, label_values), min_size=1, max_size=12))


@FUZZ
@given(data=st.data(), task=st.sampled_from(["classification", "regression", "multiclass"]),
       alphabet=st.sampled_from(["protein", "smiles"]))
def test_load_labelled_on_random_labels(workdir, data, task, alphabet):
    """Random label values for classification, regression and multiclass: labelled data with finite labels of
    the task's kind, or an InputError naming the bad one."""
    residues = st.text(st.sampled_from("ACDEFGHIKLMNPQRSTVWY"), min_size=1, max_size=12)
    molecules = st.sampled_from(["C", "CCO", "c1ccccc1", "CC(=O)O", "[NH4+]", "C#N", "OC[C@H](N)C(=O)O"])
    seqs = data.draw(st.lists(residues if alphabet == "protein" else molecules, min_size=1, max_size=12))
    labels = data.draw(task_labels(task))
    rows = [(seqs[i % len(seqs)], label) for i, label in enumerate(labels)]
    path = workdir / f"f{next(_counter)}.csv"
    pd.DataFrame(rows, columns=["seq", "label"]).to_csv(path, index=False)
    cfg = load_config(None, {"data": {"path": str(path), "columns": ["seq"], "label_column": "label", "task": task,
                                      "alphabet": alphabet}})
    loaded = result_or_input_error(load_labelled, cfg)
    if loaded is None:
        return
    assert len(loaded) == len(loaded.encoded) == len(labels)
    values = np.asarray(loaded.encoded.labels, dtype=np.float64)
    assert np.isfinite(values).all(), f"labels {labels} loaded as {values}"
    if task == "classification":
        assert set(np.unique(values)) <= {0.0, 1.0}


# --- configuration -------------------------------------------------------------------------------------------

DEFAULTS = Config().to_dict()
KNOWN_KEYS = [(section, key) for section, body in DEFAULTS.items() if isinstance(body, dict) for key in body]
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**20), st.just(10**400),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(FIELD_CHARS, max_size=10),
                         st.sampled_from(["1e-3", "five", "none", "null", "[1, 2]", "a,b", "0", "-1", "inf", "nan"]))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3)), max_leaves=6)


def plausible(default):
    """Values of the default's type (strings: the default itself or a near miss)."""
    if isinstance(default, bool):
        return st.booleans() | st.sampled_from(["yes", "no", "1", "0"])
    if isinstance(default, int):
        return st.integers(-2, 300) | st.integers(-2, 300).map(str) | st.floats(0, 300)
    if isinstance(default, float):
        return st.floats(-1, 2) | st.floats(-1, 2).map(repr)
    if isinstance(default, list):
        return st.lists(st.sampled_from(default or ["a"]) | st.text(max_size=4), max_size=3)
    if isinstance(default, str):
        return st.sampled_from([default, default.upper(), default + "x", ""])
    return st.none() | st.integers(1, 100) | st.text(max_size=5)


@st.composite
def override_dicts(draw):
    """Mostly real keys (sections and fields) with random values, sometimes misspelt or misplaced keys."""
    out: dict = {}
    for _ in range(draw(st.integers(0, 4))):
        section, key = draw(st.sampled_from(KNOWN_KEYS))
        kind = draw(st.integers(0, 9))
        if kind >= 6:  # a plausible value: the default's type, in a plausible range
            default = DEFAULTS[section][key]
            body = out[section] if isinstance(out.get(section), dict) else {}
            out[section] = body
            body[key] = draw(plausible(default))
        elif kind == 0:
            out[draw(st.text(max_size=6))] = draw(yaml_values)  # unknown or top-level key
        elif kind == 1:
            out[section] = draw(yaml_values)  # a section given a scalar or list
        else:
            body = out[section] if isinstance(out.get(section), dict) else {}
            out[section] = body
            name = draw(st.one_of(st.text(max_size=6), st.integers())) if kind == 2 else key
            body[name] = draw(yaml_values)
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


@FEW
@given(payload=random_payload)
def test_load_config_on_random_bytes(workdir, payload):
    """A config file that is not text (binary, Latin-1, a NUL): an InputError, never a decoding traceback."""
    path = workdir / f"c{next(_counter)}.yaml"
    path.write_bytes(payload)
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
