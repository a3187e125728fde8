"""The README's Python API example runs as written."""
import re
from pathlib import Path

from crossval_checks import check_binary_metrics_against_predictions


def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    results = namespace["results"]
    assert set(results["arms"]) == {"none", "simclr", "kmer", "kmer[per-value]"}
    assert check_binary_metrics_against_predictions(tmp_path / "runs" / "crossval") == 2 * len(results["arms"])
    assert (tmp_path / "runs" / "simclr-encoder" / "model.safetensors").exists()
    assert (tmp_path / "runs" / "crossval" / "results.json").exists()
    assert namespace["vectors"].shape == (2, 64)
    predictions = namespace["predictions"]
    assert len(predictions) == 1 and 0.0 <= predictions.y_score.iloc[0] <= 1.0
