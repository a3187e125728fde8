"""The table of input formats: every format gives the same rows, at the same lines, read into memory
(``read_table``) and streamed (``rows_of``); unknown suffixes and bad files are clear errors on both paths."""
import gzip

import numpy as np
import pandas as pd
import pytest

from seqssl.data.dataset import sequences_of
from seqssl.data.formats import FORMATS, default_columns, format_of, is_fasta_header, supported_suffixes
from seqssl.data.formats.readers import expand_paths, read_table
from seqssl.data.stream import rows_of
from seqssl.errors import InputError

FASTA = ">s1 first record\nACDE\nFGH\n\n>s2\nKLM\n\n\n>s3 KEY=v x\r\nNPQ\nRST\nVW\n"
FASTA_ROWS = [(1, ("s1", "s1 first record", "ACDEFGH")), (5, ("s2", "s2", "KLM")),
              (9, ("s3", "s3 KEY=v x", "NPQRSTVW"))]
TEXT = "first document\n\n  second one  \n\t\nthird\r\nfourth\n"
TEXT_ROWS = [(1, ("first document",)), (3, ("second one",)), (5, ("third",)), (6, ("fourth",))]
TABLE = "a,b,label\nAC,x,1\n\nDE ,y,0\n , ,\n\"F,G\",z,1\n,w,0\n"
TABLE_ROWS = [(2, ("AC", "x")), (4, ("DE", "y")), (6, ("F,G", "z")), (7, ("", "w"))]


def _write(path, text: str):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def _in_memory(path, columns):
    table = read_table(path)
    return [(table.line_of(i), row) for i, row in enumerate(sequences_of(table, columns))]


def _both(path, columns):
    memory, streamed = _in_memory(path, columns), list(rows_of(str(path), columns))
    assert memory == streamed
    return streamed


@pytest.mark.parametrize("name", ["s.fasta", "s.fa", "s.faa", "s.fas", "s.fna", "s.fna.gz", "s.FASTA.gz"])
def test_fasta_wrapped_lines_and_blank_lines_give_the_same_records(name, tmp_path):
    path = _write(tmp_path / name, FASTA)
    assert _both(path, ["id", "description", "sequence"]) == FASTA_ROWS
    assert _both(path, ["sequence"]) == [(n, (row[2],)) for n, row in FASTA_ROWS]
    assert format_of(path).name == "fasta" and default_columns(str(path), []) == ["sequence"]


@pytest.mark.parametrize("name", ["docs.txt", "docs.txt.gz"])
def test_plain_text_is_one_document_per_non_empty_line_on_both_paths(name, tmp_path):
    path = _write(tmp_path / name, TEXT)
    assert _both(path, ["text"]) == TEXT_ROWS
    assert list(read_table(path).frame.columns) == ["text"]


@pytest.mark.parametrize("name,delimiter", [("t.csv", ","), ("t.csv.gz", ","), ("t.tsv", "\t"), ("t.tsv.gz", "\t")])
def test_csv_and_tsv_skip_blank_lines_and_keep_their_line_numbers(name, delimiter, tmp_path):
    text = TABLE if delimiter == "," else TABLE.replace(",", "\t").replace('"F\tG"', "F,G")
    path = _write(tmp_path / name, text)
    assert _both(path, ["a", "b"]) == TABLE_ROWS
    assert _both(path, ["label"]) == [(2, ("1",)), (4, ("0",)), (6, ("1",)), (7, ("0",))]


@pytest.mark.parametrize("variant", ["bom", "crlf"])
def test_a_byte_order_mark_and_crlf_line_ends_read_alike(variant, tmp_path):
    text = "\ufeff" + TABLE if variant == "bom" else TABLE.replace("\n", "\r\n")
    assert _both(_write(tmp_path / "t.csv", text), ["a", "b"]) == TABLE_ROWS


def test_csv_with_blank_lines_keeps_exact_line_numbers(tmp_path):
    lines = ["seq,n"] + [f"CASS{i % 7}F,{i}" if i % 5 else "" for i in range(1, 200)]
    path = _write(tmp_path / "many.csv", "\n".join(lines) + "\n")
    rows = _both(path, ["seq", "n"])
    assert len(rows) == 160 and all(int(n) + 1 == line for line, (_, n) in rows)


@pytest.mark.parametrize("name", ["t.parquet", "t.pq"])
def test_parquet_rows_are_numbered_from_one(name, tmp_path):
    frame = pd.DataFrame({"a": ["AC", " DE ", "FG"], "b": ["x", "y", "z"], "n": [1, 2, 3]})
    frame.to_parquet(tmp_path / name)
    assert _both(tmp_path / name, ["a", "b"]) == [(1, ("AC", "x")), (2, ("DE", "y")), (3, ("FG", "z"))]


@pytest.mark.parametrize("group_rows, block_rows", [(70, 100), (250, 100), (100, 100), (1000, 7)])
def test_parquet_blocks_cut_and_join_row_groups_into_full_blocks(tmp_path, group_rows, block_rows):
    """Read row group by row group, the blocks are the file's rows in order, block_rows each (the last fewer),
    numbered from 1, whatever the row groups' size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from seqssl.data.formats import parquet_batches
    from seqssl.data.formats.blocks import table_blocks
    n = 513
    pq.write_table(pa.table({"s": [f"S{i}" for i in range(n)], "n": list(range(n))}), tmp_path / "t.parquet",
                   row_group_size=group_rows)
    batches = list(parquet_batches(tmp_path / "t.parquet", ["s", "n"], block_rows))
    sizes = [block_rows] * (n // block_rows) + [n % block_rows] * bool(n % block_rows)
    assert [b.num_rows for _, b in batches] == sizes
    assert [line for line, _ in batches] == list(range(1, n + 1, block_rows))
    assert sum((b.column("n").to_pylist() for _, b in batches), []) == list(range(n))
    tables = list(table_blocks(tmp_path / "t.parquet", block_rows))
    assert np.concatenate([t.lines for t in tables]).tolist() == list(range(1, n + 1))
    assert sum((t.frame["s"].tolist() for t in tables), []) == [f"S{i}" for i in range(n)]


def test_unknown_suffix_is_a_clear_error_on_both_paths(tmp_path):
    path = _write(tmp_path / "data.xlsx", "{}")
    for read in (lambda: read_table(path), lambda: rows_of(str(path), ["a"]), lambda: format_of(path)):
        with pytest.raises(InputError, match=r"unsupported file suffix \(\.xlsx\)") as err:
            read()
        assert err.value.path == str(path) and ".fna" in err.value.fix and ".parquet" in err.value.fix
    with pytest.raises(InputError, match="cannot be read gzip-compressed"):
        format_of(tmp_path / "t.parquet.gz")


def test_expand_paths_lists_the_supported_shards_only(tmp_path):
    for name in ("a.fna", "b.txt.gz", "c.csv", "notes.xlsx"):
        _write(tmp_path / name, ">x\nAC\n")
    assert [p.rsplit("/", 1)[1] for p in expand_paths(tmp_path)] == ["a.fna", "b.txt.gz", "c.csv"]


def test_the_table_lists_each_format_once():
    assert [f.name for f in FORMATS] == ["fasta", "text", "csv", "tsv", "parquet", "tape-json", "tape-lmdb"]
    assert set(supported_suffixes()) == {".fasta", ".fa", ".faa", ".fas", ".fna", ".txt", ".csv", ".tsv",
                                         ".parquet", ".pq", ".json", ".lmdb"}
    assert is_fasta_header(">id desc") and not is_fasta_header("ACDE")


@pytest.mark.parametrize("path,expected", [("a.fasta", ["sequence"]), ("a.fa.gz", ["sequence"]),
                                           ("A.FAA", ["sequence"]), ("a.fas", ["sequence"]),
                                           ("a.fna", ["sequence"]), ("a.txt", ["text"]), ("a.txt.gz", ["text"])])
def test_default_columns_by_format(path, expected):
    assert default_columns(path, []) == expected
    assert default_columns(path, ["x", "y"]) == ["x", "y"]  # columns given win


@pytest.mark.parametrize("path", ["a.csv", "a.tsv.gz", "a.parquet", "shards", "a.xlsx"])
def test_default_columns_needs_columns_for_tables(path):
    with pytest.raises(InputError) as err:
        default_columns(path, [])
    assert str(err.value) == f"{path}: no sequence column given (fix: pass --columns COL[,COL])"
    assert default_columns(path, ["cdr3"]) == ["cdr3"]


BAD = {  # name: (file, content, columns, fragment expected on both paths)
    "FASTA without header": ("s.fasta", "CASS\n>b\nCAW\n", ["sequence"], "line 1: sequence data before the first '>'"),
    "FASTA without records": ("s.fasta", "\n\n", ["sequence"], "no FASTA records found"),
    "empty text": ("d.txt", " \n\n", ["text"], "file is empty"),
    "empty CSV": ("d.csv", "", ["a"], "file is empty"),
    "header only": ("d.csv", "a,b\n\n", ["a"], "no data rows after the header"),
    "missing column": ("d.csv", "a,b\nAC,x\n", ["c"], "missing column 'c' (fix: choose one of: a, b)"),
    "wrong delimiter": ("d.csv", "a;b\nAC;x\n", ["a"], "wrong delimiter?"),
    "FASTA column": ("s.fasta", ">a\nAC\n", ["seq"], "missing column 'seq' (fix: choose one of: id, description"),
    "binary": ("d.csv", "\x00\x01PK" * 50, ["a"], "looks like a binary file"),
    "not gzip": ("d.fasta.gz", ">a\nAC\n", ["sequence"], "not a valid gzip file"),
    "not UTF-8": ("d.txt", None, ["text"], "not UTF-8 text"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_fail_alike_in_memory_and_streamed(name, tmp_path):
    file, content, columns, fragment = BAD[name]
    path = tmp_path / file
    if content is None:
        path.write_bytes(b"fine\ncaf\xff\n")
    elif name == "not gzip":
        path.write_text(content)
    else:
        _write(path, content)
    for read in (lambda: _in_memory(path, columns), lambda: list(rows_of(str(path), columns))):
        with pytest.raises(InputError) as err:
            read()
        assert fragment in str(err.value) and err.value.path == str(path)


def test_a_missing_file_or_a_directory_is_refused_before_the_format(tmp_path):
    for read in (read_table, lambda p: rows_of(str(p), ["a"])):
        with pytest.raises(InputError, match="file not found"):
            read(tmp_path / "nope.json")
        with pytest.raises(InputError, match="is a directory"):
            read(tmp_path)


def test_lines_after_a_quoted_field_with_line_breaks_count_its_lines(tmp_path):
    text = 'a,b\nAC,"one\ntwo\nthree"\n\nDE,x\n"FG\r\nH",y\nKL,z\n'
    path = _write(tmp_path / "multi.csv", text)
    assert _both(path, ["a"]) == [(2, ("AC",)), (6, ("DE",)), (7, ("FG\nH",)), (9, ("KL",))]


def test_a_short_row_is_filled_and_a_long_one_refused_by_both_readers(tmp_path):
    short = _write(tmp_path / "short.csv", "a,b,c\nAC,1,x\nDE,2\n")
    assert _both(short, ["a", "b", "c"]) == [(2, ("AC", "1", "x")), (3, ("DE", "2", ""))]
    long = _write(tmp_path / "long.csv", "a,b\nAC,1\n\nDE,2,extra\n")
    fmt = format_of(long)
    for read in (lambda: fmt.read(long), lambda: list(fmt.rows(long, ["a"]))):
        with pytest.raises(InputError, match=r"line 4: a data row has more fields than the header \(3 against 2"):
            read()


def test_an_empty_parquet_file_is_refused_by_both_readers(tmp_path):
    """(found by benchmarks/fuzz_cli.py: crossval on it ended in NumPy's "zero-size array" ValueError)"""
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=str)}).to_parquet(path)
    fmt = format_of(path)
    for read in (lambda: fmt.read(path), lambda: list(fmt.rows(path, ["a"]))):
        with pytest.raises(InputError, match="empty.parquet: no rows"):
            read()


def test_tables_are_written_in_the_format_their_suffix_names(tmp_path):
    import pandas as pd

    from seqssl.errors import InputError
    from seqssl.io import table_output, write_table
    frame = pd.DataFrame({"id": ["a", "b"], "emb_0": [0.5, -1.25]})
    for name, read in (("e.csv", pd.read_csv), ("e.tsv", lambda p: pd.read_csv(p, sep="\t")),
                       ("e.parquet", pd.read_parquet)):
        path = table_output(tmp_path / name)
        write_table(frame, path)
        assert read(path).equals(frame)
    with pytest.raises(InputError, match="cannot tell the output format"):
        table_output(tmp_path / "e.txt")
