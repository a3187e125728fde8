"""Encoders shipped inside the package, named like directories: ``--arms model:builtin-tcr``,
``--init builtin-tcr``, ``--encoder builtin-tcr``.

Each lives in ``seqssl/models/builtin/<dir>/`` as an ordinary encoder directory (safetensors weights,
tokenizer, ``seqssl.json``, model card) plus ``provenance.json``: the command and config that trained it and
the SHA-256 of the corpus it was trained on, which :func:`training_corpus` rebuilds from bundled data so that
anyone can check the hash and retrain it (``scripts/train_builtin_tcr.py``).
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd

BUNDLED = {"builtin-tcr": "tcr"}  # name → directory under seqssl/models/builtin/
ROOT = Path(__file__).parent / "builtin"
PROVENANCE = "provenance.json"


def bundled_directory(name: str) -> Path | None:
    """The package directory of bundled encoder ``name``; ``None`` if ``name`` is not one."""
    return ROOT / BUNDLED[name] if name in BUNDLED else None


def model_directory(path_or_name: str | Path) -> Path:
    """A bundled encoder's directory for its name, else the path as given."""
    found = bundled_directory(str(path_or_name))
    return found if found is not None else Path(path_or_name).expanduser()


def provenance(name: str) -> dict:
    """What ``provenance.json`` of bundled encoder ``name`` records."""
    directory = bundled_directory(name)
    assert directory is not None, f"{name} is not a bundled encoder"
    return json.loads((directory / PROVENANCE).read_text())


def labelled_cdr3s() -> set[str]:
    """Every CDR3β of the bundled labelled TCR sets (the demo's MIRA pairs): kept out of the corpus of the
    bundled encoder, so no labelled sequence was seen in its pretraining."""
    from ..data.builtin import builtin_path
    return set(pd.read_csv(builtin_path("mira_binding"))["cdr3_b_aa"].astype(str).str.strip())


def training_corpus() -> pd.DataFrame:
    """The bundled background CDR3β with their V genes, minus rows with a labelled CDR3β, exact duplicate
    rows dropped, in file order: the corpus of ``builtin-tcr``."""
    from ..data.builtin import builtin_path
    background = pd.read_csv(builtin_path("background_cdr3b"))
    background["cdr3_b_aa"] = background["cdr3_b_aa"].astype(str).str.strip()
    kept = background[~background["cdr3_b_aa"].isin(labelled_cdr3s())]
    return kept.drop_duplicates().reset_index(drop=True)


def corpus_bytes(frame: pd.DataFrame) -> bytes:
    """The corpus as the CSV text hashed and trained on (``\\n`` line ends, no index)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def corpus_sha256(frame: pd.DataFrame) -> str:
    return hashlib.sha256(corpus_bytes(frame)).hexdigest()
