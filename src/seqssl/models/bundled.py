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

BUNDLED = {"builtin-tcr": "tcr", "builtin-tcr-ab": "tcr_ab"}  # name → directory under seqssl/models/builtin/
PAIRED_COLUMNS = ["v_a_gene_cdr1", "v_a_gene_cdr2", "cdr3_a_aa", "v_b_gene_cdr1", "v_b_gene_cdr2", "cdr3_b_aa"]
BETA_COLUMNS = PAIRED_COLUMNS[3:]
# builtin-tcr-ab: 7 segments (the six loops and a peptide); β-only inputs go to the β and peptide segments
PAIRED_LAYOUTS = {4: [3, 4, 5, 6], 3: [3, 4, 5], 2: [5, 6], 1: [5]}
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


def labelled_paired_cdr3s() -> set[str]:
    """Every CDR3 (α or β) of the bundled labelled TCR sets (MIRA pairs, Dash et al. mouse receptors): kept out
    of the corpus of ``builtin-tcr-ab``."""
    from ..data.builtin import builtin_path
    dash = pd.read_csv(builtin_path("dash_mouse_paired"), dtype=str)
    chains = pd.concat([dash["cdr3_a_aa"], dash["cdr3_b_aa"]]).str.strip()
    return labelled_cdr3s() | set(chains)


def paired_training_corpus(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The corpus of ``builtin-tcr-ab`` (needs ``seqssl[synthetic]``): ``n`` human and ``n`` mouse α/β rows drawn
    from OLGA's models (seeds ``seed`` and ``seed + 1``, chains drawn independently), and the bundled real
    background β chains (β-only rows); any row with a labelled CDR3 removed, exact duplicates dropped. Returns
    (paired rows in :data:`PAIRED_COLUMNS`, β-only rows in :data:`BETA_COLUMNS`, counts)."""
    from ..data.synthetic import synthetic_repertoire, with_background
    held = labelled_paired_cdr3s()
    human, counts = synthetic_repertoire("human", ["alpha", "beta"], n, seed)
    mouse, mouse_counts = synthetic_repertoire("mouse", ["alpha", "beta"], n, seed + 1)
    beta_only = with_background(human.iloc[:0], counts)[0]
    paired = pd.concat([human.assign(species="human"), mouse.assign(species="mouse")], ignore_index=True)

    def clean(frame: pd.DataFrame, cdr3s: list[str], columns: list[str]) -> tuple[pd.DataFrame, int]:
        labelled = frame[cdr3s].isin(held).any(axis=1)
        kept = frame[~labelled][columns].astype(str).drop_duplicates().reset_index(drop=True)
        return kept, int(labelled.sum())

    paired_rows, paired_removed = clean(paired, ["cdr3_a_aa", "cdr3_b_aa"], PAIRED_COLUMNS)
    beta_rows, beta_removed = clean(beta_only, ["cdr3_b_aa"], BETA_COLUMNS)
    record = {"human": counts, "mouse": mouse_counts, "paired_rows": len(paired_rows), "beta_only_rows": len(beta_rows),
              "rows_with_labelled_cdr3_removed": paired_removed + beta_removed, "labelled_cdr3s": len(held)}
    return paired_rows, beta_rows, record


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
