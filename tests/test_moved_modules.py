"""The planned move of seqssl.data (issue 28): every old module path still imports, for one release, as the moved
module itself (so names, private helpers and patches reach the one module), with a DeprecationWarning naming both
paths; and the package's own code imports none of the old paths."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MOVED = {
    "seqssl.data.readers": "seqssl.data.formats.readers",
    "seqssl.data.table": "seqssl.data.formats.table",
    "seqssl.data.tape": "seqssl.data.formats.tape",
    "seqssl.data.benchmarks": "seqssl.data.formats.benchmarks",
    "seqssl.data.blocks": "seqssl.data.formats.blocks",
    "seqssl.data.alphabets": "seqssl.data.tokenizers.alphabets",
    "seqssl.data.bpe": "seqssl.data.tokenizers.bpe",
    "seqssl.data.vocab": "seqssl.data.tokenizers.vocab",
    "seqssl.data.model_tokenizer": "seqssl.data.tokenizers.model_tokenizer",
    "seqssl.data.smiles": "seqssl.data.tokenizers.smiles",
    "seqssl.data.clusters": "seqssl.data.splits.clusters",
    "seqssl.data.molecule_codes": "seqssl.data.molecules.codes",
    "seqssl.data.multilabel": "seqssl.tasks.labels.multilabel",
    "seqssl.data.token_labels": "seqssl.tasks.labels.token",
    "seqssl.data.labelled": "seqssl.tasks.labelled",
    "seqssl.data.labelled_stream": "seqssl.tasks.labelled_stream",
    "seqssl.data.positives": "seqssl.positives",
}
NEEDS_RDKIT = {"seqssl.data.molecule_codes"}


@pytest.mark.parametrize("old, new", MOVED.items())
def test_an_old_module_path_is_the_moved_module_with_a_warning(old, new, monkeypatch):
    if old in NEEDS_RDKIT:
        pytest.importorskip("rdkit")
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning):
        exec(f"from {old} import *", {})  # noqa: S102  (the from-import form too)


def test_the_package_imports_none_of_the_old_paths():
    """Importing every module of the package (its commands, the API, the arms, the report) warns of no moved path."""
    code = ("import warnings\nwarnings.filterwarnings('error', message='.* moved to ', category=DeprecationWarning)\n"
            "import pkgutil, importlib, seqssl\n"
            f"old = {sorted(MOVED)!r}\n"
            "skip = set(old) | {'seqssl.__main__', 'seqssl.evaluate.ray_parts', 'seqssl.options_manifest'}\n"
            "for info in pkgutil.walk_packages(seqssl.__path__, 'seqssl.'):\n"
            "    if info.name in skip or info.name.startswith('seqssl.data.builtin'):\n"
            "        continue\n"
            "    try:\n        importlib.import_module(info.name)\n"
            "    except ImportError as err:\n"
            "        if 'rdkit' not in str(err) and 'torch_geometric' not in str(err) and 'sceptr' not in str(err):\n"
            "            raise\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
