"""``seqssl predict --stream``: a file scored block by block into one Parquet file (a row group per block) equals
the in-memory prediction; a killed run resumes from the blocks it kept without scoring them again; errors keep
the file's own line numbers."""
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import seqssl.api
from conftest import run_cli

TINY = "model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from seqssl.data.builtin import builtin_path
    root = tmp_path_factory.mktemp("stream")
    frame = pd.read_csv(builtin_path("mira_binding"), dtype=str, keep_default_na=False).iloc[:300]
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    frame.to_csv(root / "data.csv", index=False)
    (root / "tiny.yaml").write_text(TINY)
    assert run_cli(["finetune", "--data", str(root / "data.csv"), "--columns", "cdr3_b_aa,peptide", "--label-column",
                    "label", "--encoder", "none", "--epochs", "1", "--config", str(root / "tiny.yaml"), "--out",
                    str(root / "model"), "--quiet"]) == 0
    return root


def test_streamed_prediction_equals_the_in_memory_one(model_dir, tmp_path):
    data = model_dir / "data.csv"
    assert run_cli(["predict", "--model", str(model_dir / "model"), "--data", str(data), "--out",
                    str(tmp_path / "whole.csv")]) == 0
    out = tmp_path / "streamed.parquet"
    assert run_cli(["predict", "--model", str(model_dir / "model"), "--data", str(data), "--out", str(out),
                    "--stream", "--block-rows", "70"]) == 0
    whole, streamed = pd.read_csv(tmp_path / "whole.csv"), pd.read_parquet(out)
    assert pq.ParquetFile(out).metadata.num_row_groups == 5  # 300 rows in blocks of 70
    assert streamed["id"].tolist() == whole["id"].tolist() == [f"r{i}" for i in range(300)]
    np.testing.assert_allclose(streamed["y_score"].to_numpy(), whole["y_score"].to_numpy(), rtol=1e-5, atol=1e-6)
    assert not out.with_name(out.name + ".parts").exists()


def test_a_killed_run_resumes_from_its_kept_blocks(model_dir, tmp_path, monkeypatch, capsys):
    data, out = model_dir / "data.csv", tmp_path / "p.parquet"
    real, calls = seqssl.api.predicted_rows, []

    def dying(*args, **kwargs):
        calls.append(len(args[2]))
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while scoring the third block
        return real(*args, **kwargs)
    monkeypatch.setattr(seqssl.api, "predicted_rows", dying)
    with pytest.raises(KeyboardInterrupt):
        seqssl.api.predict(str(model_dir / "model"), str(data), out=out, stream=True, block_rows=100)
    parts = out.with_name(out.name + ".parts")
    assert sorted(p.name for p in parts.glob("part-*.parquet")) == ["part-000000.parquet", "part-000001.parquet"]
    monkeypatch.setattr(seqssl.api, "predicted_rows", real)
    args = ["predict", "--model", str(model_dir / "model"), "--data", str(data), "--out", str(out), "--stream",
            "--block-rows", "100"]
    assert run_cli(args) == 2 and "--resume" in capsys.readouterr().err  # not overwritten unannounced
    counted = []
    monkeypatch.setattr(seqssl.api, "predicted_rows", lambda *a, **k: counted.append(1) or real(*a, **k))
    assert run_cli([*args, "--resume"]) == 0
    assert len(counted) == 1  # only the unfinished block was scored again
    assert pd.read_parquet(out)["row"].tolist() == list(range(300))


def test_stream_refuses_what_it_cannot_do_and_keeps_line_numbers(model_dir, tmp_path, capsys):
    data = model_dir / "data.csv"
    base = ["predict", "--model", str(model_dir / "model"), "--stream", "--block-rows", "50"]
    assert run_cli([*base, "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 2
    assert "end --out with .parquet" in capsys.readouterr().err
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    frame.loc[120, "cdr3_b_aa"] = "CASS1LG"  # a digit: a bad residue in the third block, line 122 of the file
    frame.to_csv(tmp_path / "bad.csv", index=False)
    assert run_cli([*base, "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "bad.parquet")]) == 2
    assert "line 122" in capsys.readouterr().err


def test_streamed_embeddings_equal_the_in_memory_ones(model_dir, tmp_path):
    encoder = model_dir / "model" / "encoder"
    data = tmp_path / "plain.csv"
    pd.read_csv(model_dir / "data.csv", dtype=str).drop(columns="id").to_csv(data, index=False)  # ids by place
    args = ["embed", "--encoder", str(encoder), "--data", str(data), "--columns", "cdr3_b_aa,peptide"]
    assert run_cli([*args, "--out", str(tmp_path / "whole.parquet")]) == 0
    assert run_cli([*args, "--out", str(tmp_path / "streamed.parquet"), "--stream", "--block-rows", "64"]) == 0
    whole, streamed = pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "streamed.parquet")
    assert streamed["id"].tolist() == whole["id"].tolist() == [str(i) for i in range(300)]
    vectors = [c for c in whole.columns if c.startswith("emb_")]
    np.testing.assert_allclose(streamed[vectors].to_numpy(), whole[vectors].to_numpy(), rtol=1e-5, atol=1e-5)
    assert pq.ParquetFile(tmp_path / "streamed.parquet").metadata.num_row_groups == 5

