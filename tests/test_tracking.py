"""--tracking tensorboard,mlflow: the same numbers as the CSV history, read back with each tool's own reader."""
import pandas as pd

from conftest import run_cli


def test_pretraining_metrics_reach_tensorboard_and_mlflow(tmp_path, small_corpus_csv):
    out = tmp_path / "enc"
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "mlm",
                    "--max-steps", "6", "--batch-size", "32", "--tracking", "tensorboard,mlflow", "--out", str(out),
                    "--quiet", "--config", str(_log_every_2(tmp_path))]) == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert list(history["step"]) == [2, 4, 6]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = events.Scalars("pretrain/loss")
    assert [e.step for e in scalars] == [2, 4, 6]
    assert [round(e.value, 5) for e in scalars] == [round(v, 5) for v in history["loss"]]

    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("seqssl").experiment_id])
    logged = client.get_metric_history(run.info.run_id, "pretrain/loss")
    assert [m.step for m in logged] == [2, 4, 6]
    assert [round(m.value, 5) for m in logged] == [round(v, 5) for v in history["loss"]]
    assert run.data.params["pretrain.objective"] == "mlm" and run.info.status == "FINISHED"


def test_unknown_tracking_backend_is_refused(tmp_path, small_corpus_csv, capsys):
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--max-steps", "1",
                    "--tracking", "wandb", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "unknown tracking backend 'wandb'" in capsys.readouterr().err


def _log_every_2(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("pretrain:\n  log_every: 2\n")
    return path
