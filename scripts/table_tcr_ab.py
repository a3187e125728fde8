"""Print issue 27's table (docs/results/README.md) from the results.json of crossval runs of
``configs/tcr_ab_eval_mira.yaml`` and ``configs/tcr_paired_eval.yaml``: one column per run, rows ``ARM[MODE]@FRACTION``
(the primary metric, mean ± std over folds), then the issue's targets, each an arm − baseline difference on the
run's folds with the corrected resampled t-test (Nadeau & Bengio 2003, as the runs' own comparisons) and Holm over
the targets of each run.

    python scripts/table_tcr_ab.py mira-grouped=runs/mira-ab-grouped/results.json \\
        dash-grouped=runs/paired-grouped/results.json [--json OUT.json]

"Best" rows are chosen by their mean on the same test folds (as the targets are worded), so a target met by a
best row is read with that selection in mind; every row is printed. A target is *met* when the difference reaches
it and its 95% CI excludes 0, *not shown* when it reaches it but the CI holds 0, *missed* otherwise.
"""
from __future__ import annotations

import argparse
import json

from seqssl.evaluate.results import compare, n_test_over_n_train
from seqssl.evaluate.stats import holm

ENCODER = "builtin-tcr-ab"


def mean(run: dict, row: str, metric: str) -> float:
    return run["arms"][row]["mean"][metric]


def fraction_of(row: str) -> str:
    """A row's label fraction (``@0.1``); a run of one fraction writes none (all labels)."""
    return row.rpartition("@")[2] if "@" in row else "1"


def row_name(run: dict, base: str, fraction: str = "1") -> str:
    return f"{base}@{fraction}" if any("@" in r for r in run["arms"]) else base


def best(run: dict, metric: str, prefixes: tuple[str, ...], fraction: str) -> str | None:
    """The row with the highest mean among arms named by ``prefixes`` at label fraction ``fraction``."""
    rows = [r for r in run["arms"] if r.startswith(prefixes) and fraction_of(r) == fraction
            and mean(run, r, metric) is not None]
    return max(rows, key=lambda r: mean(run, r, metric)) if rows else None


def targets(run: dict) -> list[tuple[str, str | None, str | None, float]]:
    """(what, arm row, baseline row, target difference) of the issue's targets that this run can answer."""
    metric = run["primary_metric"]
    ab, ab_low = best(run, metric, (f"{ENCODER}[",), "1"), best(run, metric, (f"{ENCODER}[",), "0.1")
    kmer, kmer_low = best(run, metric, ("kmer",), "1"), best(run, metric, ("kmer",), "0.1")
    rows = [("best builtin-tcr-ab row ≥ best k-mer row + 0.02", ab, kmer, 0.02),
            ("best builtin-tcr-ab row ≥ tcrdist", ab, row_name(run, "tcrdist"), 0.0),
            ("builtin-tcr-ab[knn] ≥ edit-distance knn + 0.03", row_name(run, f"{ENCODER}[knn]"),
             row_name(run, "knn"), 0.03),
            ("10% of labels: best builtin-tcr-ab row ≥ best k-mer row", ab_low, kmer_low, 0.0)]
    sceptr = best(run, metric, ("sceptr",), "1")
    if sceptr:
        rows.append(("best builtin-tcr-ab row ≥ best SCEPTR row", ab, sceptr, 0.0))
    return [r for r in rows if r[1] in run["arms"] and r[2] in run["arms"]]


def verdict(delta: float, ci: list | None, target: float) -> str:
    if delta < target:
        return "missed"
    return "met" if ci is not None and ci[0] > 0 else "not shown"


def judged(run: dict) -> list[dict]:
    metric = run["primary_metric"]
    per_arm = {row: body["folds"] for row, body in run["arms"].items()}
    ratio = n_test_over_n_train(run["leakage"])
    found = []
    for what, arm, baseline, target in targets(run):
        c = compare(arm, baseline, metric, per_arm, ratio, None)
        found.append({"target": what, "arm": arm, "baseline": baseline, "delta": c["delta_mean"], "ci95": c["ci95"],
                      "p": c["p_value"], "goal": target})
    for item, p_holm in zip(found, holm([f["p"] for f in found])):
        item["p_holm"] = p_holm
        item["verdict"] = verdict(item["delta"], item["ci95"], item["goal"])
    return found


def print_rows(runs: dict) -> None:
    first = next(iter(runs.values()))
    metric = first["primary_metric"]
    names = list(dict.fromkeys(row for run in runs.values() for row in run["arms"]))
    print(f"{metric}, mean ± std over folds\n")
    print("| row | " + " | ".join(runs) + " |")
    print("|:--|" + "--:|" * len(runs))
    for row in names:
        cells = [f"{mean(r, row, metric):.3f} ± {r['arms'][row]['std'][metric]:.3f}" if row in r["arms"] else "—"
                 for r in runs.values()]
        print(f"| `{row}` | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="NAME=results.json")
    parser.add_argument("--json", help="also write the targets' verdicts here")
    args = parser.parse_args()
    runs = {name: json.load(open(path)) for name, path in (a.split("=", 1) for a in args.runs)}
    print_rows(runs)
    verdicts = {}
    for name, run in runs.items():
        verdicts[name] = judged(run)
        print(f"\n{name}: targets ({run['n_folds']} folds, corrected resampled t, Holm over these)\n")
        print("| target | arm − baseline | Δ [95% CI] | Holm p | verdict |")
        print("|:--|:--|:--|--:|:--|")
        for t in verdicts[name]:
            ci = "[—]" if t["ci95"] is None else f"[{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}]"
            p = "—" if t["p_holm"] is None else f"{t['p_holm']:.3g}"
            print(f"| {t['target']} | `{t['arm']}` − `{t['baseline']}` | {t['delta']:+.3f} {ci} | {p} | "
                  f"{t['verdict']} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(verdicts, handle, indent=1)


if __name__ == "__main__":
    main()
