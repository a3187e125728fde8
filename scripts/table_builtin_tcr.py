"""Print issue 17's table (docs/results/README.md) from the results.json of crossval runs of
``configs/tcr_builtin_eval.yaml``: one column per run (split), rows ``ARM[MODE]@FRACTION``, the primary metric as
mean ± std over folds, then the comparisons the issue's targets name, with the corrected test's Holm p-value.

    python scripts/table_builtin_tcr.py grouped=runs/builtin-grouped/results.json \
        cluster=runs/builtin-cluster/results.json
"""
from __future__ import annotations

import json
import sys

TARGETS = [("builtin-tcr[knn]@1", "knn@1", "knn readout vs edit-distance knn (target +0.03)"),
           ("builtin-tcr[full]@1", "kmer@1", "fine-tuned (full) vs kmer (target >= 0)"),
           ("builtin-tcr[per-value]@1", "kmer@1", "fine-tuned (per-value) vs kmer (target >= 0)"),
           ("builtin-tcr[full]@1", "none[full]@1", "full vs none, same mode (target: better at 5%)"),
           ("builtin-tcr[per-value]@1", "none[per-value]@1", "per-value vs none, same mode (target: better at 5%)"),
           ("builtin-tcr[per-value]@0.1", "kmer@0.1", "10% labels: per-value vs kmer@0.1 (target >= 0)"),
           ("builtin-tcr[full]@0.1", "kmer@0.1", "10% labels: full vs kmer@0.1 (target >= 0)")]


def main(args: list[str]) -> None:
    runs = {name: json.load(open(path)) for name, path in (a.split("=", 1) for a in args)}
    first = next(iter(runs.values()))
    metric = first["primary_metric"]
    print("| row | " + " | ".join(runs) + " |")
    print("|:--|" + "--:|" * len(runs))
    for arm in first["arms"]:
        cells = [f"{r['arms'][arm]['mean'][metric]:.3f} ± {r['arms'][arm]['std'][metric]:.3f}" if arm in r["arms"]
                 else "—" for r in runs.values()]
        print(f"| `{arm}` | " + " | ".join(cells) + " |")
    print()
    print("| comparison | " + " | ".join(f"{name}: Δ [95% CI], Holm p" for name in runs) + " |")
    print("|:--|" + ":--|" * len(runs))
    for arm, baseline, label in TARGETS:
        cells = []
        for r in runs.values():
            match = [c for c in r["comparisons"] if c["arm"] == arm and c["baseline"] == baseline
                     and c["metric"] == metric]
            if not match:
                cells.append("—")
                continue
            c = match[0]
            cells.append(f"{c['delta_mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}], {c['p_holm']:.3g}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
