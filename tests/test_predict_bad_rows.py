"""predict on messy inputs: every bad row named at once (--on-bad-rows error) or skipped with its reason (skip);
the input's columns and a DataFrame's index kept; the fix hints name options predict accepts."""
import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from seqssl.api import predict
from test_bad_input_catalogue import hinted_flags_not_accepted


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, binding_frame):
    tmp = tmp_path_factory.mktemp("model")
    data = tmp / "train.csv"
    binding_frame.sample(200, random_state=0).to_csv(data, index=False)
    assert run_cli(["finetune", "--data", str(data), "--columns", "cdr3_b_aa,peptide", "--label-column", "label",
                    "--epochs", "1", "--out", str(tmp / "ft"), "--quiet"]) == 0
    return tmp / "ft"


def _messy(binding_frame, tmp_path):
    frame = binding_frame.sample(30, random_state=1).reset_index(drop=True)
    frame.insert(0, "receptor_id", [f"r{i}" for i in range(len(frame))])
    frame.loc[4, "cdr3_b_aa"] = "CASSBQEQYF"  # a residue the protein alphabet lacks
    frame.loc[11, "cdr3_b_aa"] = ""  # an empty sequence
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    return frame, path


def test_error_names_every_bad_row_with_hints_predict_accepts(model_dir, binding_frame, tmp_path, capsys):
    _, path = _messy(binding_frame, tmp_path)
    assert run_cli(["predict", "--model", str(model_dir), "--data", str(path), "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 2 bad rows") and "line 6" in err and "line 13" in err, err
    assert "residue 'B'" in err and "empty sequence" in err and "--on-bad-rows skip" in err
    assert not hinted_flags_not_accepted("predict", err) and not (tmp_path / "p.csv").exists()


def test_skip_scores_the_good_rows_and_keeps_ids_and_reasons(model_dir, binding_frame, tmp_path):
    frame, path = _messy(binding_frame, tmp_path)
    out = tmp_path / "p.csv"
    assert run_cli(["predict", "--model", str(model_dir), "--data", str(path), "--out", str(out),
                    "--on-bad-rows", "skip"]) == 0
    rows = pd.read_csv(out)
    assert len(rows) == 30 and list(rows["receptor_id"]) == list(frame["receptor_id"])
    assert rows["y_score"].isna().sum() == 2 and rows.loc[[4, 11], "y_score"].isna().all()
    assert "residue 'B'" in rows.loc[4, "error"] and "empty sequence" in rows.loc[11, "error"]
    assert {"peptide", "label", "neg_type"} <= set(rows.columns)  # every input column kept
    fewer = tmp_path / "q.csv"
    assert run_cli(["predict", "--model", str(model_dir), "--data", str(path), "--out", str(fewer),
                    "--on-bad-rows", "skip", "--keep-columns", "receptor_id"]) == 0
    assert list(pd.read_csv(fewer).columns[:2]) == ["receptor_id", "row"]


def test_a_dataframe_keeps_its_index_so_predictions_join_back(model_dir, binding_frame):
    sample = binding_frame.sample(40, random_state=3)
    scores = predict(model_dir, sample)
    assert list(scores.index) == list(sample.index)
    joined = sample.join(scores[["y_score"]])
    assert joined["y_score"].notna().all()
    assert np.array_equal(scores["cdr3_b_aa"].to_numpy(), sample["cdr3_b_aa"].to_numpy())
