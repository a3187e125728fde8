"""A cross-validation's (fold, arm) parts as jobs of a cluster: ``crossval --list-parts``, ``--part ID`` and
``--emit-slurm FILE``.

A part is one arm on one fold (its label fractions and modes, and its pretraining if it pretrains): the unit
``--jobs`` hands to worker processes (:mod:`.workers`). Its id is ``fold<K>:<arm>`` (``fold0:kmer``,
``fold3:model-name[...]`` is never needed: modes and fractions stay inside the part). ``--part ID`` runs exactly
that part into the shared ``--out`` (each row written atomically under ``parts/fold_K/``, a row never written by
two parts; a complete part is skipped), after the same up-front validation as a whole run; ``--resume`` without
``--part`` then gathers every part into the tables, statistics and report, as after ``--jobs``. Nothing is shared
between parts: the fold corpus is rebuilt by each (deterministically, from the fold's rows) and a pretrained
encoder belongs to its arm's part.

``--emit-slurm FILE`` writes a bash script that is also an sbatch array script: ``bash FILE`` submits the array
(one task per part, in ``--list-parts`` order) and a gather job that runs once every task succeeded. The run's
whole resolved config is written beside it (``FILE.config.yaml``, data and output paths made absolute), so the
tasks need no command-line flags; they run in the directory the script was written from, with the Python that
wrote it.
SLURM does the scheduling; nothing here schedules.
"""
from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io import atomic_write_text, output_directory
from ..resume import check_resume
from .workers import part_id, part_order

PART_ID = re.compile(r"^fold(\d+):(.+)$")


def part_ids(prepared) -> list[str]:
    """Every part of a prepared run, in the order ``--jobs`` hands them out (pretraining parts first)."""
    return [part_id(k, prepared.arms[i].name) for k, i in part_order(prepared.arms, len(prepared.folds))]


def find_part(prepared, ident: str) -> tuple[int, int]:
    """``(fold, arm index)`` of part ``ident``, or an error listing how to see the ids."""
    match = PART_ID.match(ident.strip())
    names = [arm.name for arm in prepared.arms]
    if match and int(match.group(1)) < len(prepared.folds) and match.group(2) in names:
        return int(match.group(1)), names.index(match.group(2))
    raise InputError(f"no part '{ident}' in this run ({len(prepared.folds)} folds; arms {', '.join(names)})",
                     fix="take an id from `seqssl crossval ... --list-parts` (fold<K>:<arm>)")


def join_shared_run(cfg) -> Path:
    """The run's ``--out``, with its ``config.yaml`` written by the first part to start and checked by every
    later one (a part of another run's settings is refused)."""
    out = output_directory(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "config.yaml"
    if saved.exists():
        check_resume(saved, cfg.to_dict())
    else:
        atomic_write_text(saved, cfg.to_yaml())
    return out


def run_one_part(cfg, ident: str) -> str:
    """Run part ``ident`` into ``cfg.out``; what happened, as one line."""
    from .crossval import RowTable, prepare_run, run_part_in_worker
    from .parts import PartStore
    prepared = prepare_run(cfg)
    k, index = find_part(prepared, ident)
    out = join_shared_run(cfg)
    store = PartStore(out, cfg.to_dict(), resume=True)
    table, arm = RowTable(cfg, prepared.arms, prepared.data), prepared.arms[index].name
    rows = [table.label(arm, fraction, mode) for fraction, mode in table.units[arm]]
    if all(store.has(k, row) for row in rows):
        return f"part {ident}: already complete ({len(rows)} rows in {out / 'parts' / f'fold_{k}'})"
    run_part_in_worker(cfg, k, index, True, prepared)
    return f"part {ident}: done ({len(rows)} rows in {out / 'parts' / f'fold_{k}'})"


@dataclass
class SlurmResources:
    """What each part's task asks SLURM for (``--slurm cpus=4,mem=16G,time=04:00:00,gpus=1,partition=gpu``)."""

    cpus: int = 4
    mem: str = "16G"
    time: str = "04:00:00"
    gpus: int = 0
    partition: str = ""
    max_parallel: int = 0  # at most this many tasks at once (0: SLURM's limit)

    @classmethod
    def parse(cls, text: str | None) -> SlurmResources:
        found = cls()
        for item in filter(None, (part.strip() for part in (text or "").split(","))):
            key, sep, value = item.partition("=")
            if not sep or key not in cls.__dataclass_fields__:
                raise InputError(f"unknown --slurm setting '{item}'",
                                 fix="use KEY=VALUE with KEY one of " + ", ".join(cls.__dataclass_fields__))
            kind = type(getattr(found, key))
            try:
                setattr(found, key, kind(value))
            except ValueError:
                raise InputError(f"--slurm {key} must be {kind.__name__}, got '{value}'") from None
        return found

    def header(self, name: str, parts: int, logs: Path) -> list[str]:
        limit = f"%{self.max_parallel}" if self.max_parallel else ""
        lines = [f"#SBATCH --job-name={name}", f"#SBATCH --array=0-{parts - 1}{limit}",
                 f"#SBATCH --cpus-per-task={self.cpus}", f"#SBATCH --mem={self.mem}", f"#SBATCH --time={self.time}",
                 f"#SBATCH --output={logs}/%x_%a.out"]
        if self.gpus:
            lines.append(f"#SBATCH --gres=gpu:{self.gpus}")
        if self.partition:
            lines.append(f"#SBATCH --partition={self.partition}")
        return lines


def job_name(out: Path) -> str:
    """A SLURM job name from the output directory's name: letters, digits, ``.``, ``_`` and ``-`` only."""
    return "seqssl-" + (re.sub(r"[^\w.-]", "_", out.name) or "cv")


def slurm_script(parts: list[str], config: Path, out: Path, workdir: Path, resources: SlurmResources,
                 python: str = sys.executable) -> str:
    """The text of the sbatch array script (see the module docstring). Paths are absolute; the tasks run in
    ``workdir`` (``--chdir``) with the Python that wrote the script (``python -m seqssl``)."""
    name = job_name(out)
    command = f"{shlex.quote(python)} -m seqssl crossval --config {shlex.quote(str(config))}"
    listed = "\n".join(f"  {shlex.quote(p)}" for p in parts)
    logs = str(out / "slurm").replace("%", "%%")
    return "\n".join([
        "#!/usr/bin/env bash",
        f"# seqssl crossval as a SLURM job array: {len(parts)} (fold, arm) parts, then a gather job.",
        "#   bash THIS_FILE   submits both (needs sbatch); the gather starts once every part succeeded, and is",
        "#                    cancelled by SLURM if one fails (--kill-on-invalid-dep)",
        "#   after a failure: resubmit the failed task alone, then the gather, e.g.",
        "#     sbatch --array=N THIS_FILE",
        "#     sbatch --dependency=afterok:JOBID --array=0 --export=ALL,SEQSSL_GATHER=1 THIS_FILE",
        *resources.header(name, len(parts), Path(logs)),
        f"#SBATCH --chdir={workdir}",
        "set -euo pipefail",
        "PARTS=(", listed, ")",
        'if [ -n "${SEQSSL_GATHER:-}" ]; then',
        f"  exec {command} --resume",
        'elif [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then',
        f'  exec {command} --part "${{PARTS[$SLURM_ARRAY_TASK_ID]}}"',
        "fi",
        f"mkdir -p {shlex.quote(str(out / 'slurm'))}",
        'array=$(sbatch --parsable "$0")',
        f'sbatch --dependency="afterok:${{array%%;*}}" --kill-on-invalid-dep=yes --array=0 '
        f'--job-name={shlex.quote(name + "-gather")} --export=ALL,SEQSSL_GATHER=1 "$0"',
        ""])


def absolute_paths(cfg):
    """The config with its data files and output directory as absolute paths (the tasks may start elsewhere)."""
    import copy
    cfg = copy.deepcopy(cfg)
    resolve = (lambda p: str(Path(p).expanduser().resolve()) if p else p)  # noqa: E731
    cfg.data.path = resolve(cfg.data.path)
    cfg.data.pretrain_data = [resolve(p) for p in cfg.data.pretrain_data]
    cfg.out = resolve(cfg.out)
    return cfg


def emit_slurm_file(cfg, prepared, file: str | Path, resources: SlurmResources) -> tuple[Path, int]:
    """Write the script and the run's resolved config (absolute paths) beside it; ``(script path, parts)``."""
    script = Path(file)
    config = script.with_name(script.name + ".config.yaml")
    cfg = absolute_paths(cfg)
    parts = part_ids(prepared)
    atomic_write_text(config, cfg.to_yaml())
    atomic_write_text(script, slurm_script(parts, config.resolve(), output_directory(cfg.out), Path.cwd(),
                                           resources))
    script.chmod(0o755)
    return script, len(parts)


def jobs_command(cfg, *, list_parts: bool, part: str | None, emit_slurm: str | None, slurm: str | None) -> list[str]:
    """What ``crossval --list-parts | --part ID | --emit-slurm FILE`` does, as the lines it prints."""
    from .crossval import prepare_run
    if sum([list_parts, part is not None, emit_slurm is not None]) > 1:
        raise InputError("--list-parts, --part and --emit-slurm are separate steps", fix="pass one of them")
    if slurm and emit_slurm is None:
        raise InputError("--slurm sets the resources of --emit-slurm's tasks", fix="pass --emit-slurm FILE too")
    if part is not None:
        return [run_one_part(cfg, part)]
    resources = SlurmResources.parse(slurm)  # a bad --slurm is refused before the data is read
    prepared = prepare_run(cfg)
    if list_parts:
        return part_ids(prepared)
    assert emit_slurm is not None
    script, n = emit_slurm_file(cfg, prepared, emit_slurm, resources)
    return [f"{script}: {n} parts as a SLURM array and a gather job (config: {script}.config.yaml); "
            f"submit with: bash {script}"]
