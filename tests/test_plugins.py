"""Plugins (``--plugin MODULE``, ``SEQSSL_PLUGINS``, entry points): an objective, an arm and a task, each defined
in a module of its own outside the package, run through the CLI with no edit to the package."""
import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from conftest import run_cli

OBJECTIVE = '''
"""Alignment and uniformity on the sphere (Wang & Isola 2020, eqs. 4 and 5), as a plugin objective."""
import torch
import torch.nn.functional as F

from seqssl.models.heads import projection_head
from seqssl.objectives import register
from seqssl.objectives.contrastive import TwoViewObjective


@register("align-uniform")
class AlignUniform(TwoViewObjective):
    def __init__(self, encoder, cfg, vocab_size):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)

    def loss_from_embeddings(self, embeddings, batch):
        a, b = (F.normalize(self.projector(e), dim=1) for e in embeddings)
        align = (a - b).norm(dim=1).pow(2).mean()
        uniform = torch.pdist(a).pow(2).mul(-2).exp().mean().log()
        return {"loss": align + uniform, "align": align}
'''
ARM = '''
"""A plugin baseline arm: longer sequences score higher."""
import numpy as np

from seqssl.evaluate.arms import Arm, register_arm


@register_arm
class Length(Arm):
    name = "length"

    def fit(self, run, fold, unit, state):
        lengths = np.array([len(row[0]) for row in run.data.rows], dtype=float)
        return lengths[fold.split.test], {"rule": "the first column's length"}
'''
TASK = '''
"""A plugin task: binary classification chosen and compared by average precision."""
from seqssl.tasks import register_task
from seqssl.tasks.binary import Classification


@register_task
class ClassificationByAveragePrecision(Classification):
    name = "classification-ap"
    primary_metric = "average_precision"
'''
TINY = "model:\n  hidden_size: 16\n  num_heads: 2\n  num_layers: 1\n  intermediate_size: 32\n"


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugins")
    for name, code in (("align_uniform_plugin", OBJECTIVE), ("length_arm_plugin", ARM), ("ap_task_plugin", TASK)):
        (root / f"{name}.py").write_text(textwrap.dedent(code))
    (root / "tiny.yaml").write_text(TINY)
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def test_plugin_objective_pretrains_through_the_cli(plugin_dir, small_corpus_csv, tmp_path):
    out = tmp_path / "enc"
    assert run_cli(["pretrain", "--plugin", "align_uniform_plugin", "--data", str(small_corpus_csv), "--columns",
                    "cdr3_b_aa", "--objective", "align-uniform", "--max-steps", "3", "--batch-size", "16",
                    "--config", str(plugin_dir / "tiny.yaml"), "--out", str(out), "--quiet"]) == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert "align" in history.columns and np.isfinite(history["loss"]).all()
    assert json.loads((out / "seqssl.json").read_text())["objective"] == "align-uniform"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_plugin_arm_and_task_in_crossval(plugin_dir, small_binding_csv, tmp_path, jobs):
    """The arm from a .py file, the task from a module name, the objective from a config file's ``plugins``; with
    --jobs 2 the worker processes import them too."""
    config = tmp_path / "cv.yaml"
    config.write_text(TINY + "plugins: [align_uniform_plugin]\npretrain: {max_steps: 2, batch_size: 16}\n"
                      "finetune: {epochs: 1}\n")
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--plugin", str(plugin_dir / "length_arm_plugin.py"), "--plugin", "ap_task_plugin",
                    "--data", str(small_binding_csv), "--columns", "cdr3_b_aa", "--label-column", "label", "--task",
                    "classification-ap", "--arms", "length,align-uniform", "--mode", "probe", "--folds", "2",
                    "--jobs", jobs, "--config", str(config), "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["primary_metric"] == "average_precision" and {"length", "align-uniform"} <= set(results["arms"])
    predictions = pd.read_csv(out / "predictions.csv")
    frame = pd.read_csv(small_binding_csv, dtype=str)
    for fold, metrics in enumerate(results["arms"]["length"]["folds"]):
        rows = predictions[(predictions.arm == "length") & (predictions.fold == fold)]
        lengths = frame["cdr3_b_aa"].str.len().to_numpy()[rows["row"].to_numpy()]
        assert metrics["auroc"] == pytest.approx(roc_auc_score(rows["y_true"], lengths))


def test_plugins_from_the_environment_and_from_entry_points(plugin_dir, monkeypatch):
    from seqssl.evaluate.arms import ARMS
    from seqssl.objectives import OBJECTIVES
    from seqssl.plugins import declared_entry_points, load_plugins
    dist = plugin_dir / "seqssl_demo_plugin-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: seqssl-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[seqssl.arms]\nlength = length_arm_plugin\n")
    monkeypatch.setenv("SEQSSL_PLUGINS", "align_uniform_plugin")
    declared_entry_points.cache_clear()  # the scan is once per process: this package was installed just now
    loaded = load_plugins()
    assert "align_uniform_plugin" in loaded and "align-uniform" in OBJECTIVES
    assert "seqssl.arms:length" in loaded and "length" in ARMS


def test_a_plugin_that_does_not_import_is_the_users_error(tmp_path, small_corpus_csv, capsys):
    assert run_cli(["pretrain", "--plugin", "no_such_seqssl_plugin", "--data", str(small_corpus_csv), "--columns",
                    "cdr3_b_aa", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "plugin 'no_such_seqssl_plugin' could not be imported" in capsys.readouterr().err


OBJECTIVE_WITH_SETTINGS = '''
"""Alignment and uniformity (Wang & Isola 2020, eqs. 4 and 5) with the uniformity's t as a setting of its own."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seqssl.models.heads import projection_head
from seqssl.objectives import register
from seqssl.objectives.contrastive import TwoViewObjective
from seqssl.options import option


@dataclass
class AlignUniformOptions:
    t: float = option(2.0, "the uniformity loss's t (eq. 5)", above=0)
    uniform_weight: float = option(1.0, "weight of the uniformity term", at_least=0)


@register("align-uniform-t")
class AlignUniformT(TwoViewObjective):
    Options = AlignUniformOptions

    def __init__(self, encoder, cfg, vocab_size):
        super().__init__(encoder, cfg, vocab_size)
        self.projector = projection_head(encoder.hidden_size, cfg.projection_dim)

    def loss_from_embeddings(self, embeddings, batch):
        a, b = (F.normalize(self.projector(e), dim=1) for e in embeddings)
        align = (a - b).norm(dim=1).pow(2).mean()
        uniform = torch.pdist(a).pow(2).mul(-self.options.t).exp().mean().log()
        return {"loss": align + self.options.uniform_weight * uniform, "t": torch.tensor(self.options.t)}
'''
ARM_WITH_SETTINGS = '''
"""A plugin baseline arm with a setting: the first column's length raised to a power."""
from dataclasses import dataclass

import numpy as np

from seqssl.evaluate.arms import Arm, register_arm
from seqssl.options import option


@dataclass
class LengthPowerOptions:
    power: float = option(1.0, "the exponent of the length", above=0)


@register_arm
class LengthPower(Arm):
    name = "length-power"
    Options = LengthPowerOptions

    def fit(self, run, fold, unit, state):
        power = self.options(run.cfg).power
        lengths = np.array([len(row[0]) for row in run.data.rows], dtype=float)
        return lengths[fold.split.test] ** power, {"rule": f"the first column's length to the power {power}"}
'''
TASK_WITH_SETTINGS = '''
"""A plugin task with a setting: binary classification whose classes can be swapped."""
from dataclasses import dataclass

from seqssl.options import option
from seqssl.tasks import register_task
from seqssl.tasks.base import Labels
from seqssl.tasks.binary import Classification


@dataclass
class SwappableOptions:
    swap: bool = option(False, "read label 1 as 0 and 0 as 1")


@register_task
class SwappableClassification(Classification):
    name = "classification-swappable"
    Options = SwappableOptions

    def read_labels(self, table, columns, data_cfg):
        table, labels = super().read_labels(table, columns, data_cfg)
        return table, Labels(1 - labels.values if self.options(data_cfg).swap else labels.values, labels.meta)
'''


@pytest.fixture(scope="module")
def plugin_dir_with_settings(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugins_with_settings")
    for name, code in (("align_uniform_t_plugin", OBJECTIVE_WITH_SETTINGS), ("length_power_plugin", ARM_WITH_SETTINGS),
                       ("swappable_task_plugin", TASK_WITH_SETTINGS)):
        (root / f"{name}.py").write_text(textwrap.dedent(code))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def test_plugin_components_read_their_own_settings_from_a_yaml_config_and_flags(plugin_dir_with_settings,
                                                                                small_binding_csv, tmp_path):
    """The proof that one file is enough: an objective, an arm and a task, each in a module of its own with its
    own settings, set from a YAML config's sections (and one from a generated flag), with no edit to the package."""
    config = tmp_path / "cv.yaml"
    config.write_text(TINY + "plugins: [align_uniform_t_plugin, length_power_plugin, swappable_task_plugin]\n"
                      "pretrain:\n  max_steps: 2\n  batch_size: 16\n  align-uniform-t: {t: 3.5}\n"
                      "crossval:\n  length-power: {power: 2.0}\n"
                      "data:\n  classification-swappable: {swap: true}\nfinetune: {epochs: 1}\n")
    out = tmp_path / "cv"
    assert run_cli(["crossval", "--plugin", "length_power_plugin", "--data", str(small_binding_csv), "--columns",
                    "cdr3_b_aa", "--label-column", "label", "--task", "classification-swappable", "--arms",
                    "length-power,align-uniform-t", "--align-uniform-t-uniform-weight", "0.5", "--mode", "probe",
                    "--folds", "2", "--config", str(config), "--out", str(out), "--quiet"]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["pretrain"]["align-uniform-t"] == {"t": 3.5, "uniform_weight": 0.5}
    assert saved["crossval"]["length-power"] == {"power": 2.0} and saved["data"]["classification-swappable"]["swap"]
    predictions = pd.read_csv(out / "predictions.csv")
    frame = pd.read_csv(small_binding_csv, dtype=str)
    rows = predictions[predictions.arm == "length-power"]
    lengths = frame["cdr3_b_aa"].str.len().to_numpy()[rows["row"].to_numpy()]
    assert np.allclose(rows["y_score"], lengths.astype(float) ** 2)  # the arm's setting
    labels = frame["label"].astype(int).to_numpy()[rows["row"].to_numpy()]
    assert (rows["y_true"].to_numpy() == 1 - labels).all()  # the task's setting


def test_plugin_objective_settings_reach_its_loss_through_pretrain(plugin_dir_with_settings, small_corpus_csv,
                                                                   tmp_path):
    config = tmp_path / "p.yaml"
    config.write_text(TINY + "pretrain:\n  align-uniform-t: {t: 3.5}\n")
    out = tmp_path / "enc"
    assert run_cli(["pretrain", "--plugin", "align_uniform_t_plugin", "--data", str(small_corpus_csv), "--columns",
                    "cdr3_b_aa", "--objective", "align-uniform-t", "--max-steps", "3", "--batch-size", "16",
                    "--config", str(config), "--out", str(out), "--quiet"]) == 0
    history = pd.read_csv(out / "pretrain_history.csv")
    assert (history["t"] == 3.5).all()


def test_a_plugin_components_bad_setting_is_refused_before_work(plugin_dir_with_settings, small_corpus_csv,
                                                                tmp_path, capsys):
    assert run_cli(["pretrain", "--plugin", "align_uniform_t_plugin", "--data", str(small_corpus_csv), "--columns",
                    "cdr3_b_aa", "--objective", "align-uniform-t", "--align-uniform-t-t", "-1", "--out",
                    str(tmp_path / "o"), "--quiet"]) == 2
    assert "config key 'pretrain.align-uniform-t.t' must be above 0, got -1.0" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
