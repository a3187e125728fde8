"""--stream: corpora tokenised once into a memory-mapped Arrow file give the same batches, the same
errors and the same training as the in-memory corpus."""
import os

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from conftest import run_cli
from seqssl.data.builtin import builtin_path
from seqssl.data.corpus import load_corpus
from seqssl.data.stream import ArrowCorpus, memory_mapped_table, tokenize_to_arrow
from seqssl.data.tokenizers import SequenceTokenizer
from seqssl.errors import InputError


@pytest.fixture
def unique_corpus(tmp_path):
    frame = pd.read_csv(builtin_path("background_cdr3b"), dtype=str).iloc[:700].drop_duplicates("cdr3_b_aa")
    path = tmp_path / "corpus.csv.gz"
    frame[["cdr3_b_aa"]].to_csv(path, index=False)
    return path, frame["cdr3_b_aa"].tolist()


def _write(kind: str, tmp_path, sequences, partners=None):
    if kind == "fasta":
        path = tmp_path / "c.fasta.gz"
        import gzip
        with gzip.open(path, "wt") as handle:
            for i, s in enumerate(sequences):
                handle.write(f">s{i} some description\n{s[:5]}\n{s[5:]}\n\n")
        return path, ["sequence"]
    frame = pd.DataFrame({"a": sequences, **({"b": partners} if partners else {})})
    columns = ["a", "b"] if partners else ["a"]
    if kind == "parquet":
        path = tmp_path / "c.parquet"
        frame.to_parquet(path)
    else:
        path = tmp_path / ("c.tsv" if kind == "tsv" else "c.csv.gz")
        frame.to_csv(path, index=False, sep="\t" if kind == "tsv" else ",")
    return path, columns


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "fasta", "pairs"])
def test_streamed_batches_equal_in_memory_batches(kind, tmp_path, unique_corpus, monkeypatch):
    import seqssl.data.stream as stream
    monkeypatch.setattr(stream, "ROWS_PER_BLOCK", 64)  # several record batches: rows gathered across them
    sequences = unique_corpus[1][:300]
    partners = ["GILGFVFTL", "NLVPMVATV"] * 150 if kind == "pairs" else None
    path, columns = _write("csv" if kind == "pairs" else kind, tmp_path, sequences, partners)
    tok = SequenceTokenizer("protein")
    streamed = ArrowCorpus(tokenize_to_arrow([(str(path), columns)], tok, 64, "error", tmp_path / "cache",
                                             progress=False))
    memory = load_corpus(str(path), columns, tok, 64).encoded
    assert len(streamed) == len(memory) == 300 and len(streamed._starts) == 6
    assert np.array_equal(streamed.lengths(), memory.lengths())
    positions = np.random.default_rng(0).permutation(300)[:77]
    a, b = streamed.padded(positions), memory.padded(positions)
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(a[key], b[key]), key


def test_the_cache_is_written_once_and_keyed_by_the_file(tmp_path, unique_corpus):
    path, _ = unique_corpus
    tok = SequenceTokenizer("protein")
    first = tokenize_to_arrow([(str(path), ["cdr3_b_aa"])], tok, 64, "error", tmp_path / "cache", progress=False)
    stamp = first.stat().st_mtime_ns
    again = tokenize_to_arrow([(str(path), ["cdr3_b_aa"])], tok, 64, "error", tmp_path / "cache", progress=False)
    assert again == first and again.stat().st_mtime_ns == stamp
    other = tokenize_to_arrow([(str(path), ["cdr3_b_aa"])], tok, 32, "error", tmp_path / "cache", progress=False)
    assert other != first  # another length policy is another cache
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".arrow", ".arrow"]  # no partial files


def test_a_bad_residue_names_file_line_and_column_and_leaves_no_cache(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("cdr3\nCASSLGQF\nCASSJQF\n")
    with pytest.raises(InputError) as err:
        tokenize_to_arrow([(str(path), ["cdr3"])], SequenceTokenizer("protein"), 64, "error", tmp_path / "cache",
                          progress=False)
    assert err.value.path == str(path) and err.value.line == 3 and "'J'" in str(err.value)
    assert not list((tmp_path / "cache").iterdir())
    with pytest.raises(InputError, match="missing column"):
        tokenize_to_arrow([(str(path), ["cdr3_b_aa"])], SequenceTokenizer("protein"), 64, "error", tmp_path / "c2",
                          progress=False)


def test_streamed_pretraining_trains_exactly_like_the_in_memory_corpus(tmp_path, unique_corpus):
    path, _ = unique_corpus
    base = ["pretrain", "--data", str(path), "--columns", "cdr3_b_aa", "--objective", "mlm", "--max-steps", "4",
            "--batch-size", "64", "--seed", "2", "--quiet"]
    assert run_cli([*base, "--out", str(tmp_path / "memory")]) == 0
    assert run_cli([*base, "--out", str(tmp_path / "stream"), "--stream", "--cache-dir", str(tmp_path / "cache")]) == 0
    a = load_file(str(tmp_path / "memory" / "model.safetensors"))
    b = load_file(str(tmp_path / "stream" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_stream_refuses_positives_that_need_the_corpus_in_memory(tmp_path, unique_corpus, capsys):
    path, _ = unique_corpus
    assert run_cli(["pretrain", "--data", str(path), "--columns", "cdr3_b_aa", "--positives", "label",
                    "--stream", "--out", str(tmp_path / "o"), "--max-steps", "1", "--quiet"]) == 2
    assert "--stream" in capsys.readouterr().err


def test_the_memory_mapped_table_is_read_without_copying_its_columns(tmp_path):
    import pyarrow as pa
    values = pa.array([[i] * 50 for i in range(20_000)], type=pa.list_(pa.int32()))
    path = tmp_path / "t.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, pa.schema([("x", values.type)])) as writer:
        writer.write_batch(pa.record_batch([values], names=["x"]))
    before = pa.total_allocated_bytes()
    table = memory_mapped_table(path)
    assert pa.total_allocated_bytes() - before < 100_000  # the 4 MB of values stay in the map
    assert table.column("x").to_pylist()[123] == [123] * 50


def _resident_kib(path) -> int:
    """Resident KiB of this process's mappings of ``path`` (Linux /proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            inside = fields[-1] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.parametrize("release_every, most_kib", [(10**12, None), (2048, 2048), (1, 2048)])
def test_gathering_every_row_keeps_the_files_resident_pages_bounded(tmp_path, monkeypatch, release_every, most_kib):
    """A pass over every row of a memory-mapped corpus touches every page; with the pages released every
    RELEASE_EVERY_ROWS rows, what stays resident is what the last rows touched, not the file."""
    import mmap
    from pathlib import Path

    import pyarrow as pa

    import seqssl.data.stream as stream
    if not Path("/proc/self/smaps").exists() or not hasattr(mmap, "MADV_DONTNEED"):
        pytest.skip("needs Linux's /proc/self/smaps and madvise")
    rows, width = 20_000, 100
    ids = pa.array([np.full(width, 5 + i % 20, dtype=np.int32) for i in range(rows)], type=pa.list_(pa.int32()))
    table = pa.table({"input_ids": ids, "length": pa.array(np.full(rows, width, dtype=np.int32))})
    path = (tmp_path / "corpus.arrow").resolve()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=4096)
    monkeypatch.setattr(stream, "RELEASE_EVERY_ROWS", release_every)
    corpus = ArrowCorpus(path)
    for start in range(0, rows, 256):
        batch = corpus.padded(np.arange(start, min(start + 256, rows)))
    assert int(batch["input_ids"][-1, 0]) == 5 + (rows - 1) % 20
    size_kib = path.stat().st_size // 1024
    resident = _resident_kib(path)
    if most_kib is None:
        assert resident > 0.9 * size_kib  # the whole file counted: this test can tell the difference
    else:
        assert resident < most_kib < size_kib / 3


def test_scattered_gathers_keep_one_gathers_pages_of_the_file_resident(tmp_path, monkeypatch):
    """Each fault maps the file's cached pages around it too (fault-around, whatever the map's advice; for a file
    just written, whole large folios: :func:`drop_cached_pages`): random batches never released add up to most of
    the file; released before each gather (the default), at most what one batch of 64 rows touched stays."""
    import mmap
    from pathlib import Path

    import pyarrow as pa

    import seqssl.data.stream as stream
    if not Path("/proc/self/smaps").exists() or not hasattr(mmap, "MADV_DONTNEED"):
        pytest.skip("needs Linux's /proc/self/smaps and madvise")
    rows, width = 200_000, 100
    values = pa.array((np.arange(rows * width, dtype=np.int32) // width) % 1000)
    ids = pa.ListArray.from_arrays(pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32)), values)
    table = pa.table({"input_ids": ids, "length": pa.array(np.full(rows, width, dtype=np.int32))})
    path = (tmp_path / "corpus.arrow").resolve()
    with stream.arrow_written_atomically(path, table.schema, "test", False) as (writer, _):
        writer.write_table(table, max_chunksize=65_536)
    size_kib, rng = path.stat().st_size // 1024, np.random.default_rng(0)

    def resident_after_batches(corpus, batches: int) -> int:
        for _ in range(batches):
            positions = rng.choice(rows, 64, replace=False)
            batch = corpus.padded(positions)
            assert batch["input_ids"][:, 0].tolist() == (positions % 1000).tolist()
        return _resident_kib(path)

    monkeypatch.setattr(stream, "RELEASE_EVERY_ROWS", 10**12)
    never_released = resident_after_batches(ArrowCorpus(path), 400)
    monkeypatch.undo()
    released = resident_after_batches(ArrowCorpus(path), 400)
    assert released <= 64 * 4 * 64 < never_released  # 64 rows, each its length's, offsets' and values' 64 KiB
    assert never_released > 0.5 * size_kib


def test_a_cache_just_written_maps_one_small_page_run_per_touch(tmp_path):
    """Written through arrow_written_atomically, the file leaves the page cache (drop_cached_pages): a touch maps at
    most the 64 KiB of fault-around, not a whole large folio (2 MiB on this machine's ext4 when still cached)."""
    import mmap
    from pathlib import Path

    import pyarrow as pa

    from seqssl.data.stream import advised_map, arrow_written_atomically
    if not Path("/proc/self/smaps").exists() or not hasattr(os, "posix_fadvise"):
        pytest.skip("needs Linux's /proc/self/smaps and posix_fadvise")
    table = pa.table({"x": pa.array(np.arange(4_000_000, dtype=np.int32))})
    path = (tmp_path / "written.arrow").resolve()
    with arrow_written_atomically(path, table.schema, "test", False) as (writer, _):
        writer.write_table(table)
    mapped = advised_map(path)
    assert mapped[len(mapped) // 2 + 1] is not None
    assert _resident_kib(path) <= 64
    assert isinstance(mapped, mmap.mmap)
