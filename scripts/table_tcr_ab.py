"""Print issue 27's table (docs/results/README.md) from the results.json of crossval runs of
``configs/tcr_ab_eval_mira.yaml`` and ``configs/tcr_paired_eval.yaml``: one column per run, rows ``ARM[MODE]@FRACTION``
(the primary metric, mean ± std over folds), then the issue's targets, each an arm − baseline difference on the
run's folds with the corrected resampled t-test (Nadeau & Bengio 2003, as the runs' own comparisons) and Holm over
the targets of each run.

    python scripts/table_tcr_ab.py mira-grouped=runs/mira-ab-grouped/results.json \\
        dash-grouped=runs/paired-grouped/results.json [--json OUT.json]

"Best" rows are chosen by their mean on the same test folds (as the targets are worded), so a target met by a
best row is read with that selection in mind; every row is printed. A target is *met* when the difference reaches
it and is distinguishable from 0 after Holm (p < 0.05, CI above 0), *not shown* when it reaches it but not
distinguishably, *missed* otherwise; a target whose rows the run lacks is listed as such. Beside it, where the run
compared the same pair itself, its own Holm p and verdict (Holm over every comparison of the run: stricter).
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


def targets(run: dict) -> list[tuple[str, str | None, str | None, float]]:  # (unanswerable ones keep None rows)
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
    return [(what, arm if arm in run["arms"] else None, base if base in run["arms"] else None, goal)
            for what, arm, base, goal in rows]


def verdict(delta: float, ci: list | None, p_holm: float | None, target: float) -> str:
    """``met``: the difference reaches the target and is distinguishable from 0 after Holm (p < 0.05, a CI of
    non-zero width above 0); ``not shown``: it reaches the target, but not distinguishably; ``missed``: it does
    not reach it."""
    if delta < target:
        return "missed"
    distinguishable = ci is not None and ci[0] > 0 and ci[1] > ci[0] and p_holm is not None and p_holm < 0.05
    return "met" if distinguishable else "not shown"


def judged(run: dict) -> list[dict]:
    metric = run["primary_metric"]
    per_arm = {row: body["folds"] for row, body in run["arms"].items()}
    ratio = n_test_over_n_train(run["leakage"])
    found = []
    found, unanswered = [], []
    for what, arm, baseline, target in targets(run):
        if arm is None or baseline is None:
            unanswered.append({"target": what, "verdict": "not in this run", "arm": arm, "baseline": baseline})
            continue
        c = compare(arm, baseline, metric, per_arm, ratio, None)
        own = [r for r in run["comparisons"] if (r["arm"], r["baseline"], r["metric"]) == (arm, baseline, metric)]
        found.append({"target": what, "arm": arm, "baseline": baseline, "delta": c["delta_mean"], "ci95": c["ci95"],
                      "p": c["p_value"], "goal": target,
                      "run_p_holm": own[0]["p_holm"] if own else None,
                      "run_verdict": own[0]["verdict"] if own else None})
    for item, p_holm in zip(found, holm([f["p"] for f in found])):
        item["p_holm"] = p_holm
        item["verdict"] = verdict(item["delta"], item["ci95"], p_holm, item["goal"])
    return found + unanswered


def print_rows(runs: dict) -> None:
    names = list(dict.fromkeys(row for run in runs.values() for row in run["arms"]))
    metrics = sorted({run["primary_metric"] for run in runs.values()})
    print(f"{', '.join(metrics)}, mean ± std over folds\n")
    print("| row | " + " | ".join(runs) + " |")
    print("|:--|" + "--:|" * len(runs))
    for row in names:
        cells = [f"{mean(r, row, r['primary_metric']):.3f} ± {r['arms'][row]['std'][r['primary_metric']]:.3f}"
                 if row in r["arms"] else "—" for r in runs.values()]
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
        print("| target | arm − baseline | Δ [95% CI] | Holm p (targets) | verdict | the run's own Holm p, verdict |")
        print("|:--|:--|:--|--:|:--|:--|")
        for t in verdicts[name]:
            if "delta" not in t:
                print(f"| {t['target']} | — | — | — | {t['verdict']} | — |")
                continue
            ci = "[—]" if t["ci95"] is None else f"[{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}]"
            p = "—" if t["p_holm"] is None else f"{t['p_holm']:.3g}"
            own = "— (not a baseline of the run)" if t["run_verdict"] is None else \
                f"{t['run_p_holm']:.3g}, {t['run_verdict']}"
            print(f"| {t['target']} | `{t['arm']}` − `{t['baseline']}` | {t['delta']:+.3f} {ci} | {p} | "
                  f"{t['verdict']} | {own} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(verdicts, handle, indent=1)


if __name__ == "__main__":
    main()
