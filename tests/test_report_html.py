"""report.html: one self-contained page (figures as data URIs) that a browser renders with every image loaded;
short pretraining runs log a curve; the embedding map says what its colours are."""
import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli

PNG = b"\x89PNG\r\n\x1a\n"
DATA_PNG = "data:image/png;base64,"
# after the load event, the body lists each image as ok (decoded, non-zero width) or broken, for --dump-dom
PROBE = ("<script>window.addEventListener('load',()=>{document.body.dataset.images=[...document.images]"
         ".map(i=>i.complete&&i.naturalWidth>0?'ok':'broken').join(' ')});</script>")


class Tags(HTMLParser):
    """The tags seen, the attributes of every ``<img>`` and those of ``<body>``."""

    def __init__(self):
        super().__init__()
        self.images, self.tags, self.body = [], [], {}

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "body":
            self.body = dict(attrs)


def parse(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    return tags


@pytest.fixture(scope="module")
def crossval_run(tmp_path_factory, binding_frame):
    """One tiny real crossval (none and kmer arms, 2 folds, 2 fine-tuning steps): results, predictions and
    fold 0's embedding map, to call write_report with."""
    root = tmp_path_factory.mktemp("crossval")
    rows = binding_frame.iloc[np.random.default_rng(0).choice(len(binding_frame), 240, replace=False)]
    rows.to_csv(root / "binding.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:  # module scope: conftest's registry fixture is not active yet
        patch.setenv("SEQSSL_HOME", str(root / "seqssl-home"))
        assert run_cli(["crossval", "--data", str(root / "binding.csv"), "--columns", "cdr3_b_aa,peptide",
                        "--label-column", "label", "--arms", "none,kmer", "--folds", "2", "--epochs", "1",
                        "--max-steps", "2", "--out", str(root / "run"), "--quiet"]) == 0
    out = root / "run"
    maps = {"none": json.loads((out / "parts" / "fold_0" / "none.json").read_text())["info"]["embedding_map"]}
    return json.loads((out / "results.json").read_text()), pd.read_csv(out / "predictions.csv"), maps, out


@pytest.fixture(scope="module")
def report(crossval_run, tmp_path_factory):
    """write_report on the run's results plus two pretraining histories: a 10-step run logged every step
    and a 2,000-record run (smoothed), so every plot of a binary task is drawn."""
    from seqssl.report import write_report
    results, predictions, maps, _ = crossval_run
    rng = np.random.default_rng(0)
    short = [{"step": s, "loss": 5.0 - 0.1 * s} for s in range(1, 11)]
    long = [{"step": 20 * s, "loss": 5.0 / (1 + s / 200) + rng.normal(0, 0.3)} for s in range(1, 2001)]
    results = {**results, "pretraining": {"mlm": [{"fold": 0, "history": short}, {"fold": 1, "history": short}],
                                          "simclr": [{"fold": 0, "history": long}]}}
    out = tmp_path_factory.mktemp("report")
    write_report(results, out, predictions, maps)
    return out


def test_html_report_embeds_every_plot_of_the_markdown_report(report, crossval_run):
    markdown, page = (report / "report.md").read_text(), (report / "report.html").read_text()
    plots = [line[2:line.index("]")] for line in markdown.splitlines() if line.startswith("![")]
    assert {"metrics.png", "roc.png", "pretraining_loss.png", "embedding_map.png"} <= set(plots)
    tags = parse(page)
    assert [img["alt"] for img in tags.images] == plots
    for img in tags.images:
        assert img["src"].startswith(DATA_PNG), img["alt"]
        data = base64.b64decode(img["src"][len(DATA_PNG):], validate=True)
        assert data.startswith(PNG) and data == (report / img["alt"]).read_bytes()
    assert tags.tags.count("table") == sum(line.startswith("|:") or line.startswith("|-")
                                           for line in markdown.splitlines())  # one per alignment row
    assert "<h1>seqssl cross-validation report</h1>" in page and "<code>auroc</code>" in page
    assert "<script" not in page and not list(report.glob(".report.html.*.tmp"))  # atomic: no leftovers
    # crossval itself writes it too, beside report.md
    assert parse((crossval_run[3] / "report.html").read_text()).images


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium executable; the test that needs it skips when there is none (CI images may lack it)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the HTML checks without a "
                    "browser still run")
    return browser


def test_html_report_renders_in_headless_chromium_with_every_image_loaded(chromium, report, tmp_path):
    alone = tmp_path / "alone"  # nothing beside the page: it must not need the PNGs
    alone.mkdir()
    page = (report / "report.html").read_text()
    (alone / "report.html").write_text(page.replace("</body>", PROBE + "</body>"))
    done = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--virtual-time-budget=5000",
                           "--dump-dom", (alone / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    states = (parse(done.stdout).body.get("data-images") or "").split()
    assert states == ["ok"] * len(parse(page).images), states
    assert "seqssl cross-validation report" in done.stdout


def test_short_pretraining_runs_log_often_enough_to_draw_a_curve():
    from seqssl.config import PretrainConfig
    from seqssl.train.loop import log_interval
    default = PretrainConfig()
    assert [log_interval(default, n) for n in (1, 10, 199, 200, 1000, 5000, 100_000)] == [1, 1, 1, 2, 10, 20, 20]
    assert log_interval(PretrainConfig(log_every=2), 6) == 2  # a configured interval is kept as given
    assert log_interval(PretrainConfig(log_every=50), 100) == 50


def test_ten_step_pretraining_history_has_a_record_per_step(tmp_path, small_corpus_csv):
    config = tmp_path / "small.yaml"
    config.write_text("model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n")
    assert run_cli(["pretrain", "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa", "--objective", "mlm",
                    "--max-steps", "10", "--batch-size", "16", "--config", str(config), "--out",
                    str(tmp_path / "enc"), "--quiet"]) == 0
    assert list(pd.read_csv(tmp_path / "enc" / "pretrain_history.csv")["step"]) == list(range(1, 11))


def test_pretraining_plot_smooths_long_runs_only(monkeypatch, tmp_path):
    from seqssl.report import figures
    from seqssl.report.figures import plot_pretraining as _plot_pretraining
    from seqssl.report.figures import running_mean
    assert running_mean([1.0, 3.0, float("nan"), 5.0], 2).tolist() == [1.0, 2.0, 3.0, 5.0]
    drawn = _capture(monkeypatch, figures)
    short = [{"step": s, "loss": 1.0 / s} for s in range(1, 11)]
    long = [{"step": s, "loss": 1.0 / s} for s in range(1, 501)]
    assert _plot_pretraining({"pretraining": {"a": [{"fold": 0, "history": short}],
                                              "b": [{"fold": 0, "history": long}]}}, tmp_path / "p.png")
    a, b = drawn[0].axes[:2]
    assert len(a.lines) == 1 and len(a.lines[0].get_xdata()) == 10 and a.lines[0].get_marker() == "o"
    assert len(b.lines) == 2 and b.lines[0].get_alpha() < b.lines[1].get_alpha()  # raw faint behind the mean
    assert "running mean of 20 logs" in b.get_title()


def test_embedding_map_names_its_colours(monkeypatch, tmp_path):
    from seqssl.report import figures
    from seqssl.report.embedding_maps import plot_embedding_maps
    drawn = _capture(monkeypatch, figures)
    points = {"x": [0.0, 1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0, 1.0], "label": [0, 1, 2, 1]}
    assert plot_embedding_maps({"mlm": points}, tmp_path / "m.png", continuous=False,
                               names=["alpha", "beta", "gamma"], label="family")
    legend = drawn[0].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["alpha (n=1)", "beta (n=2)", "gamma (n=1)"]
    assert legend.get_title().get_text() == "label column 'family'"
    assert "coloured by label column 'family'" in drawn[0]._suptitle.get_text()
    assert plot_embedding_maps({"mlm": {**points, "label": [0.5, 1.5, 2.5, 3.5]}}, tmp_path / "r.png",
                               continuous=True, label="affinity")
    colourbar = drawn[1].axes[1]  # the colourbar's own axes
    assert colourbar.get_ylabel() == "label column 'affinity'"


def _capture(monkeypatch, figures) -> list:
    """Keep each figure ``figures.save`` is given (saved as usual) for inspection."""
    drawn, save = [], figures.save

    def keep(fig, path, dpi=120):
        drawn.append(fig)
        save(fig, path, dpi)
    monkeypatch.setattr(figures, "save", keep)
    return drawn
