"""Atomic file writes and environment capture."""
from __future__ import annotations

import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_DEFAULT_MODE = 0o666 & ~current_umask()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temporary file in the same directory, flush, fsync, then rename over ``path``:
    a killed writer leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _DEFAULT_MODE)  # mkstemp makes 0600 files; results should read like any other file
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_tensors(tensors: dict, path: str | Path) -> None:
    """A safetensors file, written atomically (temporary file, then rename) and readable like any other file
    (``safetensors.save_file`` creates files only their owner can read)."""
    from safetensors.torch import save_file
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp))
        os.chmod(tmp, _DEFAULT_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_readable(directory: str | Path) -> None:
    """Give every file below ``directory`` the permissions of an ordinary new file (what the umask allows):
    libraries that save models (transformers, peft) create their weights readable by their owner only."""
    for path in Path(directory).rglob("*"):
        if path.is_file():
            os.chmod(path, _DEFAULT_MODE)


def output_directory(out: str | Path | None) -> Path:
    """``--out`` as a directory to write into: given, and not an existing file."""
    from .errors import InputError
    if not out:
        raise InputError("no output directory", fix="pass --out DIR")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError("--out names an existing file, expected a directory", path=str(path),
                         fix="pass a new or existing directory")
    return path


SEQSSL_MARKERS = ("run.json", "seqssl.json", "seqssl_model.json")  # files only seqssl writes
RUN_MARKERS = (*SEQSSL_MARKERS, "results.json", "config.yaml", "model.safetensors", "parts", "checkpoints")
CONFIG_SECTIONS = {"data", "model", "pretrain", "finetune", "crossval"}  # a config.yaml seqssl wrote has them all


def written_by_seqssl(path: Path) -> bool:
    """Whether the directory holds a file only seqssl writes, or a ``config.yaml`` with every section of a
    seqssl config (an interrupted crossval leaves only that and its parts)."""
    if any((path / m).exists() for m in SEQSSL_MARKERS):
        return True
    config = path / "config.yaml"
    if not config.is_file():
        return False
    import yaml
    try:
        values = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(values, dict) and CONFIG_SECTIONS <= set(values)


def claim_output(out: str | Path | None, *, resume: bool = False, overwrite: bool = False) -> Path:
    """``--out`` for a new run: a directory that holds no earlier run (an empty or new one, or one with other
    files), unless ``resume`` (continue the run there) or ``overwrite`` (empty it first: only a directory that
    seqssl wrote, :func:`written_by_seqssl`, is emptied, so a mistyped ``--out`` never deletes a user's files)."""
    from .errors import InputError
    path = output_directory(out)
    found = [m for m in RUN_MARKERS if (path / m).exists()] if path.is_dir() else []
    if resume or not found:
        return path
    if not overwrite:
        raise InputError(f"--out already holds an earlier run ({', '.join(found)})", path=str(path),
                         fix="pass --resume to continue it, --overwrite to replace it, or another --out")
    if not written_by_seqssl(path):
        raise InputError(f"--overwrite: the directory holds {', '.join(found)} but nothing that marks it as a "
                         "seqssl run (run.json, seqssl.json, seqssl_model.json, or a seqssl config.yaml), so it is "
                         "not emptied", path=str(path), fix="pass another --out, or empty it yourself")
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 empties it
        return path
    import shutil
    for entry in path.iterdir():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return path


def output_file(out: str | Path) -> Path:
    """``--out`` as one file to write: not an existing directory."""
    from .errors import InputError
    path = Path(out)
    if path.is_dir():
        raise InputError("--out names a directory, expected a file", path=str(path),
                         fix=f"pass a file name, e.g. {path / 'embeddings.parquet'}")
    return path


TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".parquet": None}  # what a table written by seqssl may be


def table_output(out: str | Path) -> Path:
    """``--out`` of a table (predictions, embeddings): a file whose suffix says its format (``.csv``, ``.tsv``,
    ``.parquet``); checked before any work, so a wrong name costs nothing."""
    from .errors import InputError
    path = output_file(out)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"cannot tell the output format from the name '{path.name}'", path=str(path),
                         fix=f"end --out with {', '.join(TABLE_SUFFIXES)}, e.g. {path.with_suffix('.csv').name}")
    return path


def write_table(frame, path: Path) -> None:
    """``frame`` (pandas) to ``path`` in the format its suffix names (:func:`table_output`), atomically."""
    separator = TABLE_SUFFIXES[path.suffix.lower()]
    if separator is not None:
        atomic_write_text(path, frame.to_csv(index=False, sep=separator))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.chmod(tmp, _DEFAULT_MODE)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def versions() -> dict:
    """Versions of Python and of the packages that decide the numbers."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("seqssl", "torch", "transformers", "numpy", "scikit-learn", "scipy", "pandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
