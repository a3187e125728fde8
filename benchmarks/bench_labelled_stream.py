"""Labelled data at BELKA scale: featurisation, streamed fine-tuning and streamed prediction on a synthetic
BELKA-format file of ``--rows`` molecules, with the peak memory of each.

The file is SYNTHETIC: the bundled BELKA format sample's molecules (a 1,3,5-triazine carrying three building
blocks, one of them bearing the ``[Dy]`` DNA-tag atom) are cut at the triazine once with RDKit (404 tagged and
1,177 amine fragments), and each synthetic molecule joins one tagged and two amine fragments to a triazine, written
as dot-separated fragments joined by ring-closure bonds (``c1%91nc%92nc%93n1.N%91…``: valid SMILES, parsed by
RDKit as one molecule, not canonicalised). Labels are a rule, not measurements: for each of the three proteins a
molecule binds when its tagged fragment is among 10% and an amine fragment among 10% of that protein's choice
(about 2% binders). Layout: BELKA's usual pivot, one row per molecule with ``binds_BRD4, binds_HSA, binds_sEH``; written
as Parquet in row groups of 65,536 rows.

Phases, each in a child process of its own so that its peak resident memory is its own (``ru_maxrss``; the memory-
mapped cache's pages it touched count):

- ``featurise``: ``finetune --stream``'s reading: every molecule parsed by RDKit once (``--invalid-smiles``), its
  graph written as codes (``--mode gcn``'s input) beside its SMILES tokens, labels and side (hash of the tagged
  building block: validation 15%, test 2%) into the Arrow cache, in ``--jobs`` worker processes. molecules/s per
  core = rows / seconds / jobs.
- ``train``: ``seqssl finetune --stream`` of a small SMILES encoder (2 layers, hidden 64) for ``--steps`` steps of
  ``--batch-size`` rows (validation on a 10,000-row sample after them); the step time is the training loop's.
- ``train_gcn``: ``--mode gcn`` (3 layers, hidden 128) on the same cache for ``--steps`` steps: the fit that
  ``finetune --stream --mode gcn`` runs (``GraphNetwork.fit``), called with the cache the SMILES encoder's run
  wrote (the command line would write a cache of its own, with the SMILES base vocabulary: a GCN reads no tokens).
- ``train_in_memory`` (``--in-memory``): the same run without ``--stream`` (the whole table read, every row a
  Python object), for the step-time ratio and its memory.
- ``predict``: ``seqssl predict --stream`` over the whole file into Parquet.

    python benchmarks/bench_labelled_stream.py --rows 1000000 --in-memory
    python benchmarks/bench_labelled_stream.py --rows 10000000

Prints one ``name: value`` a line, ending with ``peak_rss_gb: X``: the largest resident memory of any phase, its
worker processes included. Several processes share pages (the libraries every worker maps, the pages inherited from
the parent), so their ``ru_maxrss`` do not add up; each phase samples, every 0.2 s, the sum over its process tree of
the proportional set size (``Pss`` in ``/proc/PID/smaps_rollup``: a shared page counted once in all), which for one
process is its resident set. The processes' own ``ru_maxrss`` are printed too (``*_process_rss_gb``,
``featurise_worker_rss_gb``), and the anonymous part of the peak (``*_peak_anonymous_gb``: without the pages of
files, the memory-mapped cache's among them, which the kernel may drop and read again). ``--predict-rows`` limits
the prediction pass to the file's first rows (its memory is one block whatever the file's size);
``predict_anonymous_mb_after_*_block`` is the prediction process's anonymous memory between blocks (without the
activations of the batch being scored, which the peaks include). ``--no-graphs``:
the SMILES encoder's cache only (no graph codes, no ``train_gcn``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PROTEINS = ("BRD4", "HSA", "sEH")
ATOM = re.compile(r"^(\[[^\]]+\]|Br|Cl|[BCNOSPFIbcnosp])")
TINY = {"hidden_size": 64, "num_heads": 4, "num_layers": 2, "intermediate_size": 128, "max_length": 160,
        "pooling": "mean"}


def fragments() -> tuple[list[str], list[str]]:
    """The bundled sample's molecules cut at the triazine: (tagged fragments, amine fragments), each written from
    the atom that bonded the ring."""
    import pandas as pd
    from rdkit import Chem

    from seqssl.data.builtin import builtin_path
    core = Chem.MolFromSmarts("c1ncncn1")
    tagged, amines = set(), set()
    for smiles in pd.read_csv(builtin_path("belka_sample"))["molecule_smiles"].unique():
        side = Chem.ReplaceCore(Chem.MolFromSmiles(smiles), core, labelByIndex=True)
        parts = Chem.GetMolFrags(side, asMols=True) if side is not None else ()
        if len(parts) != 3:
            continue
        for part in parts:
            dummy = [a.GetIdx() for a in part.GetAtoms() if a.GetAtomicNum() == 0]
            text = re.sub(r"^(\[\d*\*\]|\*)", "", Chem.MolToSmiles(part, rootedAtAtom=dummy[0]))
            (tagged if "[Dy]" in text else amines).add(text)
    return sorted(tagged), sorted(amines)


def bonded(fragment: str, closure: str) -> str:
    """The fragment with the ring-closure bond to the triazine on its first atom."""
    end = ATOM.match(fragment).end()
    return fragment[:end] + closure + fragment[end:]


def make(rows: int, path: Path, seed: int = 0, block: int = 65_536) -> None:
    """The synthetic BELKA-format Parquet file (module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    tagged, amines = fragments()
    rng = np.random.default_rng(seed)
    tagged_b = [bonded(f, "%91") for f in tagged]
    amine_b2, amine_b3 = [bonded(f, "%92") for f in amines], [bonded(f, "%93") for f in amines]
    binders_a = {p: rng.random(len(tagged)) < 0.10 for p in PROTEINS}
    binders_b = {p: rng.random(len(amines)) < 0.10 for p in PROTEINS}
    with pq.ParquetWriter(path, pa.schema([("id", pa.int64()), ("buildingblock1_smiles", pa.string()),
                                           ("buildingblock2_smiles", pa.string()),
                                           ("buildingblock3_smiles", pa.string()), ("molecule_smiles", pa.string()),
                                           *((f"binds_{p}", pa.int8()) for p in PROTEINS)])) as writer:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            a, b, c = rng.integers(0, len(tagged), n), rng.integers(0, len(amines), n), rng.integers(0, len(amines), n)
            columns = {"id": np.arange(start, start + n), "buildingblock1_smiles": [tagged[i] for i in a],
                       "buildingblock2_smiles": [amines[i] for i in b], "buildingblock3_smiles": [amines[i] for i in c],
                       "molecule_smiles": [f"c1%91nc%92nc%93n1.{tagged_b[i]}.{amine_b2[j]}.{amine_b3[k]}"
                                           for i, j, k in zip(a, b, c)]}
            for p in PROTEINS:
                columns[f"binds_{p}"] = (binders_a[p][a] & (binders_b[p][b] | binders_b[p][c])).astype(np.int8)
            writer.write_table(pa.table(columns))


def make_encoder(data: Path, out: Path) -> None:
    """A random small SMILES encoder whose vocabulary is fitted on the file's first 20,000 molecules (fragments
    recur, so it covers them all)."""
    import pyarrow.parquet as pq

    from seqssl.config import ModelConfig
    from seqssl.data.tokenizers.smiles import SmilesTokenizer
    from seqssl.models.encoder import SequenceEncoder
    first = pq.ParquetFile(data).read_row_group(0, columns=["molecule_smiles"]).column(0).to_pylist()[:20_000]
    tokenizer = SmilesTokenizer.fit(first)
    SequenceEncoder.build(ModelConfig(**TINY), tokenizer.vocab_size).save(out, tokenizer)


def config(work: Path, args, stream: bool) -> dict:
    return {"data": {"path": str(work / "belka.parquet"), "columns": ["molecule_smiles"], "task": "multilabel",
                     "label_column": ",".join(f"binds_{p}" for p in PROTEINS), "alphabet": "smiles",
                     "group_column": "buildingblock1_smiles", "stream": stream, "jobs": args.jobs,
                     "cache_dir": str(work / "cache")},
            "model": {"max_length": TINY["max_length"]},
            "finetune": {"encoder": str(work / "encoder"), "max_steps": args.steps, "epochs": 1,
                         "batch_size": args.batch_size, "val_rows": 10_000, "test_fraction": 0.02 if stream else 0.0,
                         "lr": 1e-3},
            "crossval": {"split": "grouped"}, "quiet": True, "threads": args.threads, "seed": 0}


def phase(name: str, work: Path, args) -> dict:
    """Run one phase here (in the child process) and return its figures."""
    from seqssl import api
    from seqssl.config import load_config
    started = time.perf_counter()
    if name == "featurise":
        from seqssl.models.encoder import load_encoder
        from seqssl.tasks.labelled_stream import load_streamed
        cfg = load_config(None, config(work, args, stream=True))
        data = load_streamed(cfg, load_encoder(str(work / "encoder"))[1], molecular=True, graphs=not args.no_graphs)
        return {"rows": len(data), "seconds": time.perf_counter() - started,
                "invalid_smiles_skipped": data.encoded.meta.get("invalid_smiles_skipped", 0)}
    if name in ("train", "train_in_memory"):
        cfg = load_config(None, {**config(work, args, stream=name == "train"), "out": str(work / name)})
        out = api.finetune(cfg)
        metrics = json.loads((Path(out) / "metrics.json").read_text())
        steps = min(args.steps, -(-metrics["n_fit"] // args.batch_size))
        return {"seconds": time.perf_counter() - started, "step_seconds": metrics["history"][0]["seconds"] / steps,
                "steps": steps, "n_fit": metrics["n_fit"], "val_map": metrics["validation"].get("map")}
    if name == "train_gcn":
        return gcn_phase(work, args, started)
    if name == "predict":
        source = work / "belka.parquet"
        if args.predict_rows < args.rows:
            source = first_rows(source, args.predict_rows, work / "predict_input.parquet")
            started = time.perf_counter()
        between_blocks = anonymous_after_each_block()
        api.predict(work / "train", source, out=work / "predictions.parquet", stream=True, keep_columns=["id"],
                    device="cpu")
        return {"seconds": time.perf_counter() - started, "rows": min(args.rows, args.predict_rows),
                "anonymous_mb_between_blocks": between_blocks}
    raise SystemExit(f"unknown phase {name}")


def anonymous_after_each_block() -> list[int]:
    """A list that fills, as ``predict --stream`` runs, with this process's anonymous memory (MB) just after each
    block's output is written (``seqssl.streamed_output.write_table`` wrapped): what a pass keeps from block to block,
    without the activations of the batch being scored, which come and go within a block."""
    import seqssl.streamed_output as streamed
    from seqssl.heap import anonymous_resident_bytes
    after: list[int] = []
    write = streamed.write_table

    def written(rows, path) -> None:
        write(rows, path)
        after.append((anonymous_resident_bytes() or 0) >> 20)
    streamed.write_table = written
    return after


def gcn_phase(work: Path, args, started: float) -> dict:
    """``--mode gcn`` fitted on the featurised cache for ``--steps`` steps (validation sample after them)."""
    import torch

    from seqssl.config import load_config
    from seqssl.models.encoder import load_encoder
    from seqssl.runtime import configure_process
    from seqssl.tasks.labelled_stream import load_streamed, streamed_split
    from seqssl.transfer.modes import get_mode
    cfg = load_config(None, {**config(work, args, stream=True), "finetune": {
        **config(work, args, stream=True)["finetune"], "encoder": "none", "mode": "gcn"}})
    configure_process(cfg.threads, True)
    data = load_streamed(cfg, load_encoder(str(work / "encoder"))[1], molecular=True, graphs=True)
    split = streamed_split(data.encoded, cfg.finetune.val_fraction, cfg.finetune.val_rows, cfg.seed)
    loaded = time.perf_counter()
    fitted = get_mode("gcn").configured(cfg).fit(
        None, data.encoded.subset(split.train), data.encoded.subset(split.val), cfg.finetune, data.task,
        device=torch.device("cpu"), precision="fp32", seed=0, progress=False, desc="gcn")
    steps = min(args.steps, -(-len(split.train) // args.batch_size))
    return {"seconds": time.perf_counter() - started, "load_seconds": loaded - started, "steps": steps,
            "step_seconds": fitted.details["history"][0]["seconds"] / steps,
            "val_map": fitted.details["history"][0].get("val_map")}


def first_rows(path: Path, rows: int, out: Path) -> Path:
    """The file's first ``rows`` rows as a Parquet file of their own."""
    import pyarrow.parquet as pq
    source = pq.ParquetFile(path)
    with pq.ParquetWriter(out, source.schema_arrow) as writer:
        kept = 0
        for group in range(source.num_row_groups):
            table = source.read_row_group(group).slice(0, rows - kept)
            writer.write_table(table)
            kept += table.num_rows
            if kept >= rows:
                break
    return out


def tree_pss_kib(pid: int) -> tuple[int, int]:
    """Proportional set size (KiB) of ``pid`` and every process below it: all of it, and its anonymous part (what
    the processes allocated; the rest is files' pages, the memory-mapped cache's included, which the kernel drops
    under memory pressure and reads again)."""
    total, anonymous = 0, 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
            elif line.startswith("Pss_Anon:"):
                anonymous += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                below = tree_pss_kib(int(child))
                total, anonymous = total + below[0], anonymous + below[1]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return total, anonymous


class PeakPss:
    """The largest :func:`tree_pss_kib` of this process (all, anonymous), sampled every 0.2 s on a thread."""

    def __init__(self):
        self.peak, self.peak_anonymous, self._stop = 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _take(self):
        total, anonymous = tree_pss_kib(os.getpid())
        self.peak, self.peak_anonymous = max(self.peak, total), max(self.peak_anonymous, anonymous)

    def _sample(self):
        while not self._stop.is_set():
            self._take()
            self._stop.wait(0.2)

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        self._take()
        return self.peak / 1024 ** 2, self.peak_anonymous / 1024 ** 2


def run_phase(name: str, work: Path, args) -> dict:
    """A phase in a child process; its figures and peak memory (its own and its workers')."""
    argv = [sys.executable, __file__, "--phase", name, "--work", str(work), "--rows", str(args.rows), "--jobs",
            str(args.jobs), "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--threads",
            str(args.threads), "--predict-rows", str(args.predict_rows), *(("--no-graphs",) if args.no_graphs else ()),
            *(("--no-heap-trim",) if args.no_heap_trim else ()),
            *(("--heap-trim-after", str(args.heap_trim_after)) if args.heap_trim_after is not None else ())]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh(work: Path) -> None:
    """What an earlier run left in ``work`` removed (the cache, the runs' folders, the predictions), so that every
    phase is measured again: a cache left in place would be read, not written."""
    import shutil
    for name in ("cache", "train", "train_in_memory", "train_gcn", "predictions.parquet.parts"):
        shutil.rmtree(work / name, ignore_errors=True)
    for name in ("predictions.parquet", "predict_input.parquet"):
        (work / name).unlink(missing_ok=True)


def counted_trims() -> dict:
    """Count this process's heap trims from here on (``seqssl.heap``'s ``malloc_trim`` wrapped): ``{"trims": n}``."""
    import seqssl.heap
    real, count = seqssl.heap._malloc_trim(), {"trims": 0}
    if real is not None:
        def counted(pad: int) -> int:
            count["trims"] += 1
            return real(pad)
        seqssl.heap._malloc_trim = lambda: counted
    return count


def child(args) -> None:
    if args.no_heap_trim:
        import seqssl.heap
        seqssl.heap._malloc_trim = lambda: None  # trim_heap then trims nothing (workers forked from here inherit it)
    trims = counted_trims()
    if args.heap_trim_after is not None:
        import seqssl.data.stream
        seqssl.data.stream.TRIM_AFTER_GROWTH_BYTES = int(args.heap_trim_after * 2**20)
    sampler = PeakPss()
    figures = phase(args.phase, Path(args.work), args)
    figures["pss_gb"], figures["anonymous_pss_gb"] = sampler.stop()
    figures["heap_trims"] = trims["trims"]
    gib = 1024 ** 2  # ru_maxrss is in KiB on Linux
    figures["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / gib
    figures["worker_rss_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / gib
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes featurising blocks")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--predict-rows", type=int, default=10**12, help="predict the first N rows (default all)")
    parser.add_argument("--in-memory", action="store_true", help="also fine-tune without --stream (reference)")
    parser.add_argument("--no-graphs", action="store_true",
                        help="featurise for the SMILES encoder only (RDKit check and tokens; no graph codes, no GCN)")
    parser.add_argument("--work", help="working directory (default: a temporary one, removed at the end)")
    parser.add_argument("--no-heap-trim", action="store_true",
                        help="seqssl.heap.trim_heap off in every phase (the contrast: benchmarks/bench_heap_trim.py)")
    parser.add_argument("--heap-trim-after", type=float, default=None, metavar="MB",
                        help="a streamed gather trims the C heap once the process has grown by MB since the last trim "
                             "(default: seqssl.data.stream.TRIM_AFTER_GROWTH_BYTES; 0: before every gather)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return child(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        fresh(work)
        started = time.perf_counter()
        make(args.rows, work / "belka.parquet")
        make_encoder(work / "belka.parquet", work / "encoder")
        print(f"rows: {args.rows}")
        print(f"synthetic_file_seconds: {time.perf_counter() - started:.1f}")
        print(f"synthetic_file_gb: {(work / 'belka.parquet').stat().st_size / 1e9:.2f}")
        phases = ["featurise", "train", *(() if args.no_graphs else ("train_gcn",)),
                  *(("train_in_memory",) if args.in_memory else ()), "predict"]
        results = {name: run_phase(name, work, args) for name in phases}
        report(results, args)


def report(results: dict, args) -> None:
    feat, train, pred = results["featurise"], results["train"], results["predict"]
    print(f"featurise_rows_per_s: {feat['rows'] / feat['seconds']:.0f}")
    print(f"featurise_molecules_per_s_per_core: {feat['rows'] / feat['seconds'] / args.jobs:.0f}")
    print(f"featurise_jobs: {args.jobs}")
    print(f"featurise_graphs: {'no' if args.no_graphs else 'yes'}")
    print(f"train_step_s: {train['step_seconds']:.4f}")
    print(f"train_rows_per_s: {args.batch_size / train['step_seconds']:.0f}")
    print(f"train_n_fit: {train['n_fit']}")
    if "train_gcn" in results:
        gcn = results["train_gcn"]
        print(f"gcn_train_step_s: {gcn['step_seconds']:.4f}")
        print(f"gcn_train_rows_per_s: {args.batch_size / gcn['step_seconds']:.0f}")
    print(f"predict_rows: {pred['rows']}")
    print(f"predict_rows_per_s: {pred['rows'] / pred['seconds']:.0f}")
    between = pred["anonymous_mb_between_blocks"]
    print(f"predict_blocks: {len(between)}")
    print(f"predict_anonymous_mb_after_first_block: {between[0]}")
    print(f"predict_anonymous_mb_after_last_block: {between[-1]}")
    print(f"predict_anonymous_mb_between_blocks_max: {max(between)}")
    if "train_in_memory" in results:
        memory = results["train_in_memory"]
        print(f"in_memory_train_step_s: {memory['step_seconds']:.4f}")
        print(f"stream_step_time_ratio_vs_in_memory: {train['step_seconds'] / memory['step_seconds']:.3f}")
        print(f"in_memory_run_seconds: {memory['seconds']:.1f}")
        print(f"in_memory_peak_rss_gb: {memory['pss_gb']:.2f}")
        print(f"in_memory_process_rss_gb: {memory['rss_gb']:.2f}")
        print(f"in_memory_peak_anonymous_gb: {memory['anonymous_pss_gb']:.2f}")
    streamed = {name: r for name, r in results.items() if name != "train_in_memory"}
    for name, r in streamed.items():
        print(f"{name}_process_rss_gb: {r['rss_gb']:.2f}")
    print(f"featurise_worker_rss_gb: {feat['worker_rss_gb']:.2f}")
    for name, r in streamed.items():
        print(f"{name}_peak_rss_gb: {r['pss_gb']:.2f}")
    for name, r in streamed.items():
        print(f"{name}_peak_anonymous_gb: {r['anonymous_pss_gb']:.2f}")
    print(f"peak_anonymous_gb: {max(r['anonymous_pss_gb'] for r in streamed.values()):.2f}")
    print(f"peak_rss_gb: {max(r['pss_gb'] for r in streamed.values()):.2f}")


if __name__ == "__main__":
    main()
