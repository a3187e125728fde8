"""Settings components declare for themselves (seqssl.options): the config sections and flags made from them, the
checks, the old flat keys still read, and options.json in step with the declarations."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from seqssl.config import Config, PretrainConfig, load_config
from seqssl.deprecated import RenamedKey
from seqssl.errors import InputError
from seqssl.options import MANIFEST, SECTION_OF_KIND, declared
from seqssl.options_manifest import manifest_text
from test_cli_flags_table import bare, resolve

CDR3S = ["CASSLGQAYEQYF", "CASSPDRGNTEAFF", "CASRGQGNYGYTF", "CASSQDLNTGELFF"]


def test_options_json_is_in_step_with_the_declarations():
    assert MANIFEST.read_text(encoding="utf-8") == manifest_text(), \
        "a built-in component's Options changed: run python scripts/write_options_manifest.py"


def test_a_component_section_reaches_the_component_with_defaults_for_the_rest():
    from conftest import tiny_objective
    cfg = load_config(None, {"pretrain": {"objective": "moco", "projection_dim": 8, "moco": {"queue_size": 80}}})
    assert cfg.pretrain.options["moco"] == {"queue_size": 80, "momentum": 0.99, "symmetric": False}
    objective, _ = tiny_objective("moco", CDR3S, projection_dim=8, options=cfg.pretrain.options)
    assert objective.queue.size == 80 and objective.options.momentum == 0.99
    assert cfg.to_dict()["pretrain"]["moco"]["queue_size"] == 80 and "options" not in cfg.to_dict()["pretrain"]


def test_the_run_records_every_setting_of_its_components_and_only_theirs():
    cfg = load_config(None, {"pretrain": {"objective": "mlm+adversarial-mlm"}})
    assert set(cfg.pretrain.options) == {"adversarial-mlm"}  # mlm declares no settings
    assert cfg.pretrain.options["adversarial-mlm"]["noiser_steps"] == 10
    assert load_config(None, {}).pretrain.options == {}  # simclr: nothing to record


def test_old_flat_keys_keywords_and_attributes_still_work_with_a_line(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("pretrain:\n  objective: adversarial-mlm\n  noiser_steps: 3\n  adversarial_schedule: joint\n")
    with pytest.warns(RenamedKey, match="'pretrain.noiser_steps' is now 'pretrain.adversarial-mlm.noiser_steps'"):
        cfg = load_config(path)
    assert cfg.pretrain.options["adversarial-mlm"]["noiser_steps"] == 3
    assert cfg.pretrain.options["adversarial-mlm"]["schedule"] == "joint"
    with pytest.warns(RenamedKey):
        old = PretrainConfig(objective="moco", moco_queue_size=5)
    assert old.options == {"moco": {"queue_size": 5}}
    with pytest.warns(RenamedKey):
        assert old.moco_queue_size == 5 and old.moco_momentum == 0.99
    with pytest.raises(TypeError, match="no_such_key"):
        PretrainConfig(no_such_key=1)
    with pytest.raises(AttributeError):
        _ = PretrainConfig().no_such_key
    # a run's config.yaml written before the move loads to the same settings as the new layout
    new = load_config(None, {"pretrain": {"objective": "adversarial-mlm",
                                          "adversarial-mlm": {"noiser_steps": 3, "schedule": "joint"}}})
    assert new.pretrain == cfg.pretrain


def test_old_keys_of_arm_and_mode_settings_land_in_every_component_that_took_them(tmp_path):
    """crossval.gnn_hidden sized both graph arms, so it lands in both; finetune.lora_rank in the lora mode's
    section; the old keyword and attribute of a section work too, each with a deprecation line."""
    from seqssl.config import CrossvalConfig, FinetuneConfig
    path = tmp_path / "old.yaml"
    path.write_text("crossval:\n  arms: [kmer, gcn]\n  gnn_hidden: 64\n  kmer_max_k: 2\n  atom_features: simple\n"
                    "finetune:\n  mode: lora\n  lora_rank: 4\n  lora_targets: [query]\n")
    with pytest.warns(RenamedKey, match="'crossval.gnn_hidden' is now 'crossval.gcn.hidden' and "
                                        "'crossval.gat.hidden'"):
        cfg = load_config(path)
    assert cfg.crossval.options["gcn"] == {"hidden": 64, "layers": 3, "heads": 4, "dropout": 0.1,
                                           "atom_features": "simple", "bond_angles": False}
    assert cfg.crossval.options["gat"] == {"hidden": 64, "atom_features": "simple"}  # given, not run: not filled
    assert cfg.crossval.options["kmer"] == {"max_k": 2, "window": 3}
    assert cfg.finetune.options["lora"] == {"rank": 4, "alpha": 16.0, "dropout": 0.0, "targets": ["query"]}
    with pytest.warns(RenamedKey):
        old = CrossvalConfig(gnn_layers=2)
    assert old.options == {"gcn": {"layers": 2}, "gat": {"layers": 2}}
    with pytest.warns(RenamedKey):
        assert old.gnn_layers == 2 and FinetuneConfig().lora_alpha == 16.0
    with pytest.raises(InputError, match="crossval.gcn.hidden' must be at least 1"):
        load_config(None, {"crossval": {"gcn": {"hidden": 0}}})
    with pytest.raises(InputError, match="unknown crossval.gat.atom_features 'complex'"):
        load_config(None, {"crossval": {"gat": {"atom_features": "complex"}}})


def test_the_graph_modes_read_the_settings_of_the_arms_of_their_name():
    """finetune --mode gcn is sized by crossval.gcn (one description of the network), and records it."""
    pytest.importorskip("torch_geometric")
    from seqssl.transfer.modes import get_mode
    cfg = load_config(None, {"finetune": {"mode": "gcn"}, "crossval": {"gcn": {"hidden": 32, "layers": 2},
                                                                       "gat": {"hidden": 16}}})
    graph = get_mode("gcn").configured(cfg).graph
    assert (graph.hidden, graph.layers, graph.heads) == (32, 2, 4)
    assert get_mode("gat").configured(cfg).graph.hidden == 16
    assert get_mode("gcn").graph.hidden == 128  # the registered instance is left as it was
    assert cfg.to_dict()["crossval"]["gcn"]["hidden"] == 32  # the run's config.yaml records what it ran


def test_search_reaches_a_modes_declared_setting_and_reads_the_old_flat_name():
    """finetune.search over lora.rank: each candidate's finetune section carries its rank in the lora section
    (a copy: the run's own section is unchanged), and the lora mode reads it; lora_rank is read as lora.rank."""
    from seqssl.evaluate.arms.base import Unit
    from seqssl.transfer.modes import get_mode
    with pytest.warns(RenamedKey, match="finetune.search.lora_rank' is now 'finetune.search.lora.rank"):
        cfg = load_config(None, {"finetune": {"mode": "lora", "search": {"lora_rank": [2, 4], "lr": [0.1]}}})
    assert cfg.finetune.search == {"lora.rank": [2, 4], "lr": [0.1]}
    unit = Unit("x", 1.0, "lora", fit_idx=None, settings={"lora.rank": 2, "lr": 0.1})
    tuned = unit.finetune(cfg.finetune)
    assert tuned.lr == 0.1 and get_mode("lora").options(tuned).rank == 2
    assert get_mode("lora").options(cfg.finetune).rank == 8 and cfg.finetune.options["lora"]["rank"] == 8
    with pytest.raises(InputError, match="finetune.search.lora.rank' must be at least 1"):
        load_config(None, {"finetune": {"search": {"lora.rank": [0, 4]}}})
    with pytest.raises(InputError, match="'lora.targets' cannot be searched"):
        load_config(None, {"finetune": {"search": {"lora.targets": [1]}}})


@pytest.mark.parametrize("section, message", [
    ({"moco": {"queue_size": -1}}, "config key 'pretrain.moco.queue_size' must be at least 0, got -1"),
    ({"moco": {"momentum": 1.5}}, "must be at least 0 and at most 1"),
    ({"moco": {"queue": 3}}, "did you mean 'pretrain.moco.queue_size'"),
    ({"mocco": {"queue_size": 3}}, "did you mean 'pretrain.moco'"),
    ({"moco": 3}, "expected a mapping"),
    ({"adversarial-mlm": {"schedule": "sometimes"}}, "use one of alternating, joint"),
    ({"adversarial-mlm": {"noiser_steps": 2.5}}, "expects an integer"),
])
def test_a_bad_setting_is_refused_naming_its_key(section, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, {"pretrain": section})


def test_no_component_name_shadows_a_key_of_its_section():
    defaults = Config()
    for kind, section in SECTION_OF_KIND.items():
        fields = {f.name for f in dataclasses.fields(getattr(defaults, section))}
        assert not fields & set(declared(kind)), (kind, fields & set(declared(kind)))


def _flag_cases():
    """(command, flag tokens, config section, component, setting, expected value) for every declared setting of
    the built-in components, on every command that runs its kind."""
    from seqssl.cli_components import COMMAND_KINDS, components_of, flag_of
    cases = []
    for command, kinds in COMMAND_KINDS.items():
        for kind in kinds:
            for component, specs in components_of(command, kind).items():
                for spec in specs:
                    if spec.type == "bool":
                        tokens, expected = [flag_of(component, spec)], not spec.default
                    elif spec.choices:
                        expected = next(c for c in spec.choices if c != spec.default)
                        tokens = [flag_of(component, spec), str(expected)]
                    elif spec.type == "int":
                        expected = spec.default + 1
                        tokens = [flag_of(component, spec), str(expected)]
                    elif spec.type == "list[str]":  # A,B on the command line
                        expected = ["query", "key"]
                        tokens = [flag_of(component, spec), "query,key"]
                    else:
                        expected = spec.default / 2 if spec.default else 0.001
                        tokens = [flag_of(component, spec), str(expected)]
                    cases.append((command, tokens, SECTION_OF_KIND[kind], component, spec.name, expected))
    return cases


@pytest.mark.parametrize("command, tokens, section, component, setting, expected", _flag_cases(),
                         ids=[f"{c[0]} {c[1][0]}" for c in _flag_cases()])
def test_every_generated_flag_lands_in_its_components_section(command, tokens, section, component, setting,
                                                              expected, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    before = getattr(bare(command, monkeypatch)["cfg"], section).options.get(component, {})
    assert before.get(setting) != expected  # the row can fail
    got = getattr(resolve([command, *tokens], monkeypatch)["cfg"], section).options[component][setting]
    assert got == expected and type(got) is type(expected)


def test_help_lists_declared_settings_without_importing_torch():
    code = ("import sys\nfrom seqssl.cli import main\n"
            "try:\n    main(['pretrain', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "--moco-queue-size" in done.stdout and "pretrain.moco.queue_size = 4096" in done.stdout
    assert "--adversarial-mlm-noiser-steps" in done.stdout and "Objective settings" in done.stdout


def test_the_shipped_configs_use_the_new_sections():
    import warnings
    from pathlib import Path
    configs = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    assert configs
    with warnings.catch_warnings():
        warnings.simplefilter("error", RenamedKey)
        for path in configs:
            load_config(path)


def test_an_old_key_through_the_cli_is_one_plain_line(small_corpus_csv, tmp_path, capsys):
    from conftest import run_cli
    config = tmp_path / "old.yaml"
    config.write_text("pretrain:\n  moco_queue_size: 8\n  projection_dim: 8\n"
                      "model: {hidden_size: 16, num_heads: 2, num_layers: 1, intermediate_size: 32}\n")
    assert run_cli(["pretrain", "--config", str(config), "--data", str(small_corpus_csv), "--columns", "cdr3_b_aa",
                    "--objective", "moco", "--max-steps", "1", "--batch-size", "16", "--out", str(tmp_path / "o"),
                    "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: config key 'pretrain.moco_queue_size' is now 'pretrain.moco.queue_size'" in err
    assert "config.py" not in err  # not Python's warning format with seqssl's own file and line
    import yaml
    assert yaml.safe_load((tmp_path / "o" / "config.yaml").read_text())["pretrain"]["moco"]["queue_size"] == 8


def test_a_run_written_before_the_settings_moved_resumes(tmp_path):
    """A config.yaml written by the previous release holds every moved key flat (pretrain.moco_queue_size, ...), used
    or not: --resume reads them where they are now and refuses only a real difference."""
    import yaml

    from seqssl.options import SECTION_OF_KIND, old_keys
    from seqssl.resume import check_resume
    arms = {"crossval": {"arms": ["none", "moco", "kmer", "gcn"]}}
    now = load_config(None, arms).to_dict()
    before = load_config(None, arms).to_dict()
    for kind, section in SECTION_OF_KIND.items():  # the old layout: every moved setting flat, at its default
        for component, specs in declared(kind).items():
            for spec in specs:
                if spec.old is None:
                    continue
                before[section].pop(component, None)
                assert (component, spec) in old_keys(section, spec.old)
                before[section][spec.old] = spec.default
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(before))
    check_resume(saved, now)  # nothing changed
    before["pretrain"]["moco_queue_size"] = 80
    saved.write_text(yaml.safe_dump(before))
    with pytest.raises(InputError, match="pretrain.moco.queue_size was 80, this run has 4096"):
        check_resume(saved, now)
