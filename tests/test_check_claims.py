"""scripts/check_claims.py: every tagged number in README.md and docs/ matches the committed result it names, and a
wrong number, interval or table cell is caught, named by document and line."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("check_claims", ROOT / "scripts" / "check_claims.py")
check_claims = importlib.util.module_from_spec(spec)
sys.modules["check_claims"] = check_claims  # (its dataclass looks itself up there)
spec.loader.exec_module(check_claims)
RESULTS = json.loads((ROOT / "docs/results/tcr_gpu_all_objectives.json").read_text())
SIMCLR = next(c for c in RESULTS["comparisons"]
              if (c["arm"], c["baseline"], c["metric"]) == ("simclr", "none", "auroc"))


def test_every_claim_in_the_documents_matches_its_committed_file(capsys):
    assert check_claims.main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    checked = int(out.split("claims: ")[1].split()[0])
    assert checked >= 150  # the documents' tags are found (a broken pattern would check nothing and pass)


def write(tmp_path, text: str) -> str:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("written, ok", [
    (f"{SIMCLR['delta_mean']:+.3f}", True),
    (f"{SIMCLR['delta_mean'] + 0.002:+.3f}", False),
    (f"{SIMCLR['delta_mean']:+.2f}", True),  # compared at the precision written
])
def test_a_number_in_prose_is_compared_at_its_written_precision(tmp_path, capsys, written, ok):
    doc = write(tmp_path, f"SimCLR {written} <!-- claim tcr_gpu_all_objectives.json: delta(simclr, none, auroc) -->\n")
    assert (check_claims.main([doc]) == 0) is ok
    if not ok:
        assert f"FAIL {doc}:1: {written}" in capsys.readouterr().out


def test_an_interval_needs_both_ends_right(tmp_path):
    low, high = SIMCLR["ci95"]
    good = f"[{low:+.3f}, {high:+.3f}]".replace("-", "−")
    bad = f"[{low:+.3f}, {high + 0.01:+.3f}]"
    for text, expected in ((good, 0), (bad, 1)):
        doc = write(tmp_path, f"CI {text} <!-- claim tcr_gpu_all_objectives.json: ci(simclr, none, auroc) -->\n")
        assert check_claims.main([doc]) == expected


def test_a_table_cell_is_checked_against_its_column_query(tmp_path, capsys):
    mean, std = RESULTS["arms"]["kmer"]["mean"]["auroc"], RESULTS["arms"]["kmer"]["std"]["auroc"]
    table = ("<!-- claims-table tcr_gpu_all_objectives.json: mean({row}, auroc) std({row}, auroc) | - -->\n"
             "| arm | AUROC | note |\n|---|---|---|\n"
             f"| `kmer` | {mean:.3f} ± {std:.3f} | 1.234 |\n| none | — | x |\n")
    assert check_claims.main([write(tmp_path, table)]) == 0
    wrong = table.replace(f"{mean:.3f} ±", f"{mean + 0.01:.3f} ±")
    assert check_claims.main([write(tmp_path, wrong)]) == 1
    assert ":4: " in capsys.readouterr().out  # the table's row, by line


def test_a_claim_on_a_missing_file_or_key_fails(tmp_path):
    for query in ("nofile.json: get(x)", "tcr_gpu_all_objectives.json: delta(nope, none, auroc)",
                  "tcr_gpu_all_objectives.json: unknown(1)"):
        assert check_claims.main([write(tmp_path, f"value 0.5 <!-- claim {query} -->\n")]) == 1


def test_a_benchmark_line_and_a_row_are_read_from_the_committed_output(tmp_path):
    text = (ROOT / "docs/results/bench_gradcache_cpu.txt").read_text()
    ratio = text.split("gradcache_memory_ratio: ")[1].split()[0]
    doc = write(tmp_path, f"ratio {ratio} <!-- claim bench_gradcache_cpu.txt: line(gradcache_memory_ratio) -->, "
                          "full +9,999 MiB <!-- claim bench_gradcache_cpu.txt: row(\"plain, full batch\", 1) -->\n")
    assert check_claims.main([doc]) == 1  # the second number is wrong
    full = text.split("plain, full batch  batch 4096: peak +")[1].split()[0]
    assert check_claims.main([write(tmp_path, Path(doc).read_text().replace("9,999", full))]) == 0


def test_a_quoted_console_block_must_be_the_committed_output(tmp_path, capsys):
    committed = (ROOT / "docs/results/demo_quick_console_80.txt").read_text()
    doc = "<!-- claims-include demo_quick_console_80.txt -->\n```text\n" + committed.rstrip("\n") + "\n```\n"
    assert check_claims.main([write(tmp_path, doc)]) == 0
    head, block = doc.split("```text\n")
    edited = head + "```text\n" + block.replace("0.", "9.", 1)
    assert check_claims.main([write(tmp_path, edited)]) == 1
    assert "differs from the file" in capsys.readouterr().out


def test_a_described_row_names_its_comparison_in_a_key_comment(tmp_path):
    delta = f"{SIMCLR['delta_mean']:+.3f}"
    table = ("<!-- claims-table tcr_gpu_all_objectives.json: delta({a}, {b}, auroc) -->\n"
             "| comparison | Δ |\n|---|---|\n"
             f"| pretrained vs random <!-- key: simclr − none --> | {delta} |\n")
    assert check_claims.main([write(tmp_path, table)]) == 0
    assert check_claims.main([write(tmp_path, table.replace("simclr − none", "triplet − none"))]) == 1


def test_without_the_project_environment_it_says_so_instead_of_failing_a_claim(tmp_path, capsys, monkeypatch):
    """A Python without seqssl's dependencies cannot recompute Holm for an older file: exit 2 and one line naming
    the missing module and the command to use, not a traceback and not a failed claim."""
    monkeypatch.setattr(check_claims, "_cache", {})  # (earlier tests may have filled in Holm p-values)
    monkeypatch.setitem(sys.modules, "seqssl.evaluate.verdicts", None)  # importing it raises ImportError
    doc = write(tmp_path, "Holm 0.32 <!-- claim tcr_gpu_all_objectives.json: holm(kmer, none, auroc) -->\n")
    assert check_claims.main([doc]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and ".venv/bin/python scripts/check_claims.py" in err
    monkeypatch.delitem(sys.modules, "seqssl.evaluate.verdicts")
    assert check_claims.main([doc]) == 0  # the same claim with the environment: checked and right
