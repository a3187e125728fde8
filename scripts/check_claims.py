"""Check every tagged number in the project's prose against the committed result it rests on.

A published figure is tagged where it is written, with an HTML comment (invisible when the Markdown is
rendered) that names the committed file under ``docs/results/`` and a query into it:

- **a number in prose**: the comment follows the number (or interval) directly::

      SimCLR +0.017 <!-- claim tcr_gpu_all_objectives.json: delta(simclr, none, auroc) -->
      CI [−0.014, +0.049] <!-- claim tcr_gpu_all_objectives.json: ci(simclr, none, auroc) -->
      ratio 1.06 <!-- claim throughput_idle_2threads.txt: line(shape_b_ratio_vs_grouped_trainer) -->

  A file is named under ``docs/results/``, or by its path from the repository's root when the name has a ``/``
  (a bundled model's ``provenance.json``). The claimed text is the number, interval (``[a, b]``) or range
  (``a–b``) just before the comment; each of its numbers must equal the query's value rounded to as many decimals
  as the text shows (``59%`` is read as 0.59).

- **a table**: a comment on the line above the table names the file and one query list per column after the
  first (``|``-separated; ``-`` leaves a column unchecked; ``{row}`` is the row's first cell, ``{N}`` its cell N,
  ``{a}`` and ``{b}`` the two sides of a first cell "a − b", ``{mode}`` its part from "[", all without backticks)::

      <!-- claims-table tcr_gpu_all_objectives.json: mean({row}, auroc) std({row}, auroc) | - | ... -->

  Every number of every checked cell must match its column's queries in order (a cell "< 0.001": the value
  must be below it); a cell of ``—`` is skipped. A
  column read from another file starts with that file's name: ``| other.json: mean({row}, auroc) |``. A row whose
  first cell describes rather than names what it compares names it in a comment: ``<!-- key: a − b -->``.

- **a quoted output**: ``<!-- claims-include FILE -->`` before a fenced block: the block must be the committed
  file (a console output, say), line for line.

Queries (the registry ``QUERIES`` below). On a ``results.json``: ``mean(arm, metric)``, ``std(arm, metric)``,
``subset(arm, metric, subset)`` (mean and std; subset ``all``: pooled), ``delta(arm, baseline, metric)``, ``ci(arm,
baseline, metric)`` (two numbers), ``p(...)`` (the comparison's p), ``holm(...)`` (Holm over the primary-metric
family, computed by seqssl's own rule where an older file lacks it), ``capped(arm)`` (fine-tuning runs at the epoch
cap, and the number of folds), ``pretrain_s(arm)`` (mean pretraining seconds per fold), ``runs(arm, key)`` (a value of
each fold's run), ``runs_mean(arm, key)`` (their mean), ``across(other.json, arm, metric, key[, other_arm])`` (the
paired comparison of one arm in two runs on the same folds, or of ``other_arm`` there against ``arm`` here, by
seqssl's own statistics; ``across_corrected``: with the corrected resampled t of crossval's comparisons),
``change(other.json, arm, metric)`` (the arm's mean there minus here: two runs on different splits). On a targets
file: ``target(split, arm − baseline, key)``. On any JSON file: ``get(dotted.path)`` and ``span(dotted.path.with.*)``
(min and max). On a committed text output (a benchmark's printed figures): ``line(name)`` (the value of a ``name:
value`` line) and ``row("line prefix", N[, "after"])`` (the N-th number, from 0, after the prefix on the first line
that starts with it, after the first line containing "after" if given; "20.7%" reads 0.207) and, on a CSV, ``csv(key,
value, column)``. Arguments with commas or parentheses are quoted: ``row("plain, full batch", 1)``.

    python scripts/check_claims.py            # exit 0 when every claim matches; else one line per mismatch (exit 1)
                                              # exit 2: not the project's environment (some claims use seqssl's
                                              # statistics: statsmodels, scipy)
    python scripts/check_claims.py --list     # every claim and its value
    python scripts/check_claims.py --untagged # also count the decimal numbers no claim covers, per file

Written by hand: no library checks prose against result files.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
DOCUMENTS = ("README.md", "docs/results/README.md", "docs/results/throughput.md")

NUMBER = r"[+\-−]?\d[\d,]*(?:\.\d+)?"
CLAIM = re.compile(r"<!-- claim (?P<file>[^:\s]+): (?P<query>[^>]*?) -->")
TABLE = re.compile(r"<!-- claims-table (?P<file>[^:\s]+): (?P<columns>[^>]*?) -->")
ROW_KEY = re.compile(r"<!-- key: (.*?) -->")
INCLUDE = re.compile(r"<!-- claims-include (?P<file>[^\s>]+) -->")
CALL = re.compile(r'(?P<name>\w+)\((?P<args>(?:"[^"]*"|[^()"])*)\)')  # arguments: plain, or "quoted"
# the claimed text just before a claim comment: an interval, a range a–b, or one number, with an optional unit
CLAIMED = re.compile(rf"(\[\s*{NUMBER}\s*,\s*{NUMBER}\s*\]|{NUMBER}\s*[–-]\s*{NUMBER}|{NUMBER})\s*"
                     r"(%|×|x|s|ms|µs|MB|MiB|GB|GiB|min)?[`)*]*\s*$")


# -- the committed files --------------------------------------------------------------------------------------
_cache: dict[str, object] = {}


def load(name: str):
    if name not in _cache:
        path = ROOT / name if "/" in name else RESULTS / name  # a bare name: docs/results/; else from the root
        if not path.exists():
            raise ClaimError(f"no committed file {path.relative_to(ROOT)}")
        _cache[name] = json.loads(path.read_text()) if path.suffix == ".json" else path.read_text()
    return _cache[name]


class ClaimError(Exception):
    pass


def comparison(results: dict, arm: str, baseline: str, metric: str) -> dict:
    for c in results["comparisons"]:
        if c["arm"] == arm and c["baseline"] == baseline and c["metric"] == metric:
            return c
    raise ClaimError(f"no comparison {arm} − {baseline} on {metric}")


def arm_body(results: dict, arm: str) -> dict:
    if arm not in results["arms"]:
        raise ClaimError(f"no arm {arm!r} (arms: {', '.join(results['arms'])})")
    return results["arms"][arm]


class MissingEnvironment(Exception):
    """A claim needs seqssl's own statistics, and this Python lacks the project's dependencies."""


def with_seqssl_statistics(call):
    """``call()`` with ``src/`` importable; an ImportError (statsmodels, scipy, ... missing: not the project's
    environment) becomes :class:`MissingEnvironment`, reported once by :func:`main` (exit 2), not as a claim."""
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))
    try:
        return call()
    except ImportError as error:
        raise MissingEnvironment(f"{error}: some claims are recomputed by seqssl's own statistics; run with the "
                                 f"project's environment (make install-test, then .venv/bin/python "
                                 f"scripts/check_claims.py)") from error


def holm_p(results: dict, arm: str, baseline: str, metric: str) -> float:
    if not any("p_holm" in c for c in results["comparisons"]):
        def adjust():
            from seqssl.evaluate.verdicts import add_verdicts
            add_verdicts(results["comparisons"], results["primary_metric"])
        with_seqssl_statistics(adjust)
    return comparison(results, arm, baseline, metric)["p_holm"]


def walk(value, path: str) -> list:
    """The values at a dotted path; ``*`` matches every key or index (entries after it that lack the rest of
    the path are left out)."""
    values, wild = [value], False
    for part in path.split("."):
        nxt = []
        for v in values:
            if part == "*":
                nxt.extend(v.values() if isinstance(v, dict) else v)
            elif isinstance(v, list):
                nxt.append(v[int(part)])
            elif isinstance(v, dict) and part in v:
                nxt.append(v[part])
            elif not wild:  # (after a *, entries without the key are left out)
                raise ClaimError(f"no {part!r} on the path {path!r}")
        values, wild = nxt, wild or part == "*"
    if not values:
        raise ClaimError(f"nothing at the path {path!r}")
    return values


def line_value(text: str, name: str) -> float:
    found = re.findall(rf"^{re.escape(name)}: ({NUMBER})", text, re.M)
    if not found:
        raise ClaimError(f"no line '{name}: value'")
    return float(found[-1].replace(",", ""))


def row_value(text: str, prefix: str, index: str, after: str | None = None) -> float:
    """The ``index``-th number (from 0) on the first line that starts with ``prefix`` (leading spaces ignored) and,
    with ``after``, comes after (below) the first line containing ``after``; a number printed with ``%`` is read as a
    fraction (20.7% → 0.207), as prose percentages are."""
    lines = text.splitlines()
    if after is not None:
        start = next((i for i, line in enumerate(lines) if after in line), None)
        if start is None:
            raise ClaimError(f"no line contains {after!r}")
        lines = lines[start + 1:]
    for line in lines:
        if line.lstrip().startswith(prefix):
            rest = line[len(line) - len(line.lstrip()) + len(prefix):]
            numbers = list(re.finditer(rf"{NUMBER}(%?)", rest))
            if int(index) >= len(numbers):
                raise ClaimError(f"the line starting {prefix!r} has {len(numbers)} numbers")
            found = numbers[int(index)]
            value = float(found[0].rstrip("%").replace(",", "").replace("−", "-"))
            return value / 100 if found[1] else value
    raise ClaimError(f"no line starts with {prefix!r}")


def csv_value(text: str, key: str, value: str, column: str) -> float:
    """``column`` of the row of a committed CSV whose ``key`` column reads ``value``."""
    rows = list(csv.DictReader(text.splitlines()))
    found = [row for row in rows if row.get(key) == value]
    if not found:
        raise ClaimError(f"no row with {key} = {value}")
    return float(found[0][column])


def late_mean(results: dict, objective: str, key: str) -> float:
    """Mean of ``key`` over the second half of the first fold's pretraining history of ``objective`` (records
    after half the last step that have the key)."""
    history = results["pretraining"][objective][0]["history"]
    last = history[-1]["step"]
    values = [h[key] for h in history if h["step"] > last // 2 and key in h]
    if not values:
        raise ClaimError(f"no {key!r} in the second half of {objective}'s history")
    return mean_of(values)


def target_value(targets: dict, split: str, pair: str, key: str) -> list[float]:
    """``key`` of the target ``arm − baseline`` of ``split`` in a targets file (``scripts/table_tcr_ab.py``)."""
    arm, _, baseline = pair.partition(" − ")
    for entry in targets[split]:
        if entry["arm"] == arm.strip() and entry["baseline"] == baseline.strip():
            value = entry[key]
            return list(value) if isinstance(value, list) else [value]
    raise ClaimError(f"no target {pair!r} in {split!r}")


def across_files(results: dict, other: str, arm: str, metric: str, key: str, other_arm: str | None = None,
                 corrected: bool = False) -> list[float]:
    """``key`` (``delta_mean``, ``ci95``, ``p_value``) of the paired comparison, fold by fold, of ``other_arm``'s
    (default: ``arm``'s) ``metric`` in the file ``other`` against ``arm`` in this file (two runs on the same folds,
    e.g. focal against BCE loss), by seqssl's own :func:`~seqssl.evaluate.stats.paired_comparison`, or with
    ``corrected`` its corrected resampled t (Nadeau & Bengio 2003, this file's n_test / n_train), as crossval's
    own comparisons."""
    theirs = arm_body(load(other), other_arm or arm)["folds"]
    ours = arm_body(results, arm)["folds"]

    def compare():
        from seqssl.evaluate.results import n_test_over_n_train
        from seqssl.evaluate.stats import corrected_resampled_t, paired_comparison
        pairs = [f.get(metric) for f in theirs], [f.get(metric) for f in ours]
        if not corrected:
            return paired_comparison(*pairs)
        return corrected_resampled_t([a - b for a, b in zip(*pairs)], n_test_over_n_train(results["leakage"]))
    value = with_seqssl_statistics(compare)[key]
    return list(value) if isinstance(value, list) else [value]


def mean_of(values: list) -> float:
    return sum(values) / len(values)


QUERIES: dict[str, Callable[..., list[float]]] = {
    "mean": lambda r, arm, metric: [arm_body(r, arm)["mean"][metric]],
    "subset": lambda r, arm, metric, subset: [arm_body(r, arm)[kind][metric if subset == "all" else
                                                                    f"{metric}@{subset}"] for kind in ("mean", "std")],
    "std": lambda r, arm, metric: [arm_body(r, arm)["std"][metric]],
    "delta": lambda r, arm, base, metric: [comparison(r, arm, base, metric)["delta_mean"]],
    "ci": lambda r, arm, base, metric: list(comparison(r, arm, base, metric)["ci95"]),
    "p": lambda r, arm, base, metric: [comparison(r, arm, base, metric)["p_value"]],
    "holm": lambda r, arm, base, metric: [holm_p(r, arm, base, metric)],
    "capped": lambda r, arm: [sum(not run.get("stopped_early", True) for run in arm_body(r, arm)["runs"]),
                              len(arm_body(r, arm)["runs"])],
    "runs": lambda r, arm, key: [float(run[key]) for run in arm_body(r, arm)["runs"]],
    "runs_mean": lambda r, arm, key: [mean_of([float(run[key]) for run in arm_body(r, arm)["runs"]])],
    "target": lambda r, split, pair, key: target_value(r, split, pair, key),
    "across": lambda r, other, arm, metric, key, other_arm=None: across_files(r, other, arm, metric, key, other_arm),
    "across_corrected": lambda r, other, arm, metric, key, other_arm=None: across_files(r, other, arm, metric, key,
                                                                                        other_arm, corrected=True),
    "change": lambda r, other, arm, metric: [arm_body(load(other), arm)["mean"][metric]
                                             - arm_body(r, arm)["mean"][metric]],
    "pretrain_s": lambda r, arm: [mean_of([run["pretrain_seconds"] for run in arm_body(r, arm)["runs"]])],
    "get": lambda r, path: [float(v) for v in walk(r, path)],
    "span": lambda r, path: [min(walk(r, path)), max(walk(r, path))],
    "line": lambda text, name: [line_value(text, name)],
    "row": lambda text, prefix, index, after=None: [row_value(text, prefix, index, after)],
    "csv": lambda text, key, value, column: [csv_value(text, key, value, column)],
    "late": lambda r, objective, key: [late_mean(r, objective, key)],
}


def fill(query: str, cells: list[str] | None) -> str:
    """A table query for one row: ``{row}`` (the first cell), ``{N}`` (cell N), ``{a}``/``{b}`` (the first cell's
    two sides of " − ") and ``{mode}`` (the first cell from its "[", else from its "@": ``none{mode}`` is the
    same mode's and label fraction's ``none`` row), each without backticks or asterisks."""
    if not cells:
        return query
    key = cells[0]
    a, _, b = key.replace("`", "").partition(" − ")
    quoted = re.findall(r"`([^`]+)`", key)
    key = quoted[0] if quoted else key  # "`kmer` (k-mer counts)": the row is kmer
    mode = key[key.index("["):] if "[" in key else key[key.index("@"):] if "@" in key else ""
    out = (query.replace("{row}", key).replace("{a}", a.strip()).replace("{b}", b.strip())
           .replace("{mode}", mode))
    for index, cell in enumerate(cells):
        out = out.replace(f"{{{index}}}", cell.replace("`", "").strip("—"))
    return out.replace("[]", "")  # an empty mode cell: the arm has no mode


def evaluate(file: str, query: str, cells: list[str] | None = None) -> list[float]:
    """Every value of a space-separated list of query calls, in order."""
    values: list[float] = []
    for call in CALL.finditer(fill(query, cells)):
        name = call["name"]
        if name not in QUERIES:
            raise ClaimError(f"unknown query {name}() (known: {', '.join(QUERIES)})")
        args = next(csv.reader([call["args"]], skipinitialspace=True)) if call["args"].strip() else []
        args = [a.strip() for a in args]
        try:
            values.extend(QUERIES[name](load(file), *args))
        except (KeyError, IndexError, TypeError) as error:
            raise ClaimError(f"{call.group(0)}: {type(error).__name__} {error}") from error
    if not values:
        raise ClaimError(f"no query in {query!r}")
    return values


# -- comparing ------------------------------------------------------------------------------------------------
def numbers_of(text: str) -> list[str]:
    return re.findall(NUMBER, text)


def matches(written: str, value: float | None, percent: bool = False) -> bool:
    """The written number equals the value rounded to the decimals written (a percentage: value × 100)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    number = float(written.replace("−", "-").replace(",", ""))
    decimals = len(written.split(".")[1]) if "." in written else 0
    target = value * 100 if percent else value
    return abs(round(target, decimals) - number) <= 0.5 * 10 ** -decimals + 1e-12


@dataclass
class Claim:
    document: str
    line: int
    file: str
    query: str
    written: list[str]
    values: list[float] | None = None
    percent: bool = False
    below: bool = False  # written "< x": the value must be below x
    error: str | None = None

    def check(self, cells: list[str] | None = None) -> bool:
        try:
            self.values = evaluate(self.file, self.query, cells)
        except ClaimError as error:
            self.error = str(error)
            return False
        if len(self.values) != len(self.written):
            self.error = f"{len(self.written)} numbers written, the query gives {len(self.values)}"
            return False
        wrong = [(w, v) for w, v in zip(self.written, self.values)
                 if not (v is not None and v < float(w) if self.below else matches(w, v, self.percent))]
        if wrong:
            self.error = "; ".join(f"written {w}, the file gives {v:.6g}" for w, v in wrong)
        return not wrong

    def where(self) -> str:
        return f"{self.document}:{self.line}"


def prose_claims(document: str, text: str) -> list[Claim]:
    claims = []
    for match in CLAIM.finditer(text):
        before = text[:match.start()]
        written = CLAIMED.search(before[-80:])
        line = before.count("\n") + 1
        if not written:
            claims.append(Claim(document, line, match["file"], match["query"], [],
                                error="no number just before the claim comment"))
            continue
        claims.append(Claim(document, line, match["file"], match["query"], numbers_of(written.group(1)),
                            percent=written.group(2) == "%"))
    return claims


def table_claims(document: str, text: str) -> list[tuple[Claim, list[str] | None]]:
    """One claim per checked cell of each tagged table, with the row's cells it is evaluated for."""
    lines = text.splitlines()
    claims = []
    for number, line in enumerate(lines):
        tag = TABLE.search(line)
        if not tag:
            continue
        columns = [c.strip() for c in tag["columns"].split("|")]
        rows: list[tuple[int, str]] = []
        for at in range(number + 1, len(lines)):
            if not lines[at].startswith("|"):
                if rows or lines[at].strip():
                    break
                continue
            rows.append((at + 1, lines[at]))
        for at, row in rows[2:]:  # after the header and its separator
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            keys = [c.replace("*", "").strip() for c in cells]
            named = ROW_KEY.search(cells[0])
            if named:  # a described row names its arms in a comment: "knn readout vs knn <!-- key: a − b -->"
                keys[0] = named[1].strip()
            for cell, spec in zip(cells[1:], columns):
                if spec in ("-", "") or cell in ("-", "") or cell.startswith("—"):
                    continue
                own = re.match(r"(\S+\.(?:json|txt)): (.*)$", spec)  # a column from another file
                file, spec = (own[1], own[2]) if own else (tag["file"], spec)
                claims.append((Claim(document, at, file, spec, numbers_of(cell), percent=cell.endswith("%"),
                                     below=cell.startswith("<")), keys))
    return claims


def included_blocks(document: str, text: str) -> list[Claim]:
    """A fenced block after a ``claims-include FILE`` comment must be the committed file, line for line (trailing
    spaces aside): a console output quoted in a document is the one committed beside the results."""
    claims = []
    for match in INCLUDE.finditer(text):
        line = text[:match.start()].count("\n") + 1
        claim = Claim(document, line, match["file"], "include", [])
        block = re.match(r"\s*```[^\n]*\n(.*?)\n```", text[match.end():], re.S)
        try:
            committed = load(match["file"])
        except ClaimError as error:
            claim.error = str(error)
        else:
            if block is None:
                claim.error = "no fenced block after the claims-include comment"
            else:
                quoted = [row.rstrip() for row in block[1].splitlines()]
                expected = [row.rstrip() for row in str(committed).rstrip("\n").splitlines()]
                if quoted != expected:
                    differing = next((i for i, (a, b) in enumerate(zip(quoted, expected)) if a != b),
                                     min(len(quoted), len(expected)))
                    claim.error = (f"the quoted block differs from the file at its line {differing + 1} "
                                   f"({len(quoted)} lines quoted, {len(expected)} in the file)")
        claims.append(claim)
    return claims


def untagged_numbers(text: str) -> dict[str, int]:
    """Decimal numbers (x.yy) outside code blocks, claim-tagged tables and claimed texts, per section heading: what
    is left to tag (a count, not a verdict: some are settings or formulas, not measurements)."""
    counts: dict[str, int] = {}
    heading, in_code, in_table = "(top)", False, False
    claimed = (rf"(\[\s*{NUMBER}\s*,\s*{NUMBER}\s*\]|{NUMBER})\s*(?:%|×|x|s|ms|MB|MiB|GB|GiB|min)?[`)*]*\s*"
               r"<!-- claim [^>]*-->")
    text = re.sub(claimed, "", text)
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if line.startswith("#") and not in_code:
            heading = line.lstrip("# ").strip()
        if TABLE.search(line):
            in_table = True
            continue
        if in_table and not line.startswith("|") and line.strip():
            in_table = False
        if in_code or in_table:
            continue
        stripped = CLAIM.sub("", re.sub(rf"(\[\s*{NUMBER}\s*,\s*{NUMBER}\s*\]|{NUMBER})\s*\S{{0,2}}\s*<!-- claim "
                                        r"[^>]*-->", "", line))
        found = len(re.findall(r"(?<![\w.])[+\-−]?\d+\.\d+", stripped))
        if found:
            counts[heading] = counts.get(heading, 0) + found
    return counts


def main(argv: list[str] | None = None) -> int:
    """0: every claim matches; 1: some do not (one line each); 2: this Python cannot recompute some claims."""
    try:
        return check(argv)
    except MissingEnvironment as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2


def check(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("documents", nargs="*", default=list(DOCUMENTS), help="Markdown files, from the root")
    parser.add_argument("--list", action="store_true", help="print every claim and its value")
    parser.add_argument("--untagged", action="store_true", help="count decimal numbers no claim covers")
    args = parser.parse_args(argv)
    failed = total = tables = 0
    for document in args.documents:
        text = (ROOT / document).read_text()
        checks = [(c, None) for c in prose_claims(document, text)] + table_claims(document, text)
        includes = included_blocks(document, text)
        tables += len(TABLE.findall(text))
        for claim, row in checks + [(c, None) for c in includes]:
            total += 1
            ok = claim.error is None and (claim.query == "include" or claim.check(row))
            if args.list or not ok:
                shown = " ".join(claim.written) or "?"
                status = "ok  " if ok else "FAIL"
                detail = "" if ok else f": {claim.error}"
                print(f"{status} {claim.where()}: {shown} ← {claim.file}: {fill(claim.query, row)}{detail}")
            failed += not ok
        if args.untagged:
            counts = untagged_numbers(text)
            print(f"untagged decimal numbers in {document}: {sum(counts.values())}")
            for heading, n in sorted(counts.items(), key=lambda item: -item[1]):
                print(f"  {n:5d}  {heading[:100]}")
    print(f"claims: {total} checked ({tables} tables), {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
