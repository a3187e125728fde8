"""Tables on a terminal of any width, nothing that matters cut: a table wider than the console is printed as
several tables, each with the key columns and as many of the others as fit; the paired differences become
two lines per comparison (what is compared, then Δ, CI, p, Holm p and the verdict). rich itself would
squeeze the columns and cut their cells (``[-0.0…``, ``disti…``); no library lays a table out so."""
from __future__ import annotations

import pandas as pd

from ..evaluate.schema import Results

BORDER = 3  # a column's share of a boxed table's rules and padding (rich's default box, padding (0, 1))


def column_width(frame: pd.DataFrame, column) -> int:
    """The width a column needs for its longest cell and its header on one line (rich then neither wraps
    nor squeezes it)."""
    return max([len(str(column)), *(len(str(v)) for v in frame[column])])


def column_groups(frame: pd.DataFrame, keys: list, width: int) -> list[list]:
    """The other columns of ``frame`` packed in order into groups that fit ``width`` beside the ``keys``."""
    used = sum(column_width(frame, k) + BORDER for k in keys) + 1
    groups: list[list] = [[]]
    taken = used
    for column in (c for c in frame.columns if c not in keys):
        need = column_width(frame, column) + BORDER
        if groups[-1] and taken + need > width:
            groups.append([])
            taken = used
        groups[-1].append(column)
        taken += need
    return groups


def print_frame(console, title: str, frame: pd.DataFrame, keys: list) -> None:
    """``frame`` as one rich table, or, when it is wider than the console, as several with the ``keys``
    columns repeated in each (titles ``(1/2)``, ``(2/2)``)."""
    groups = column_groups(frame, keys, console.width)
    for i, group in enumerate(groups):
        suffix = f" ({i + 1}/{len(groups)})" if len(groups) > 1 else ""
        console.print(rich_table(title + suffix, frame[keys + group]))


def rich_table(title: str, frame: pd.DataFrame):
    from rich.markup import escape
    from rich.table import Table
    table = Table(title=escape(title))
    for column in frame.columns:
        table.add_column(escape(str(column)), min_width=column_width(frame, column), overflow="fold")
    for _, row in frame.iterrows():  # arm names such as simclr[probe] are not rich markup
        table.add_row(*[escape(str(v)) for v in row])
    return table


def print_comparisons(console, title: str, frame: pd.DataFrame) -> None:
    """The paired differences: one table when it fits the console, else two lines per comparison."""
    if not len(frame):
        return
    if sum(column_width(frame, c) + BORDER for c in frame.columns) + 1 <= console.width:
        console.print(rich_table(title, frame))
        return
    from rich.markup import escape
    console.print(escape(f"{title}; the uncorrected paired t p-values are in report.md"))
    for _, c in frame.iterrows():
        console.print(escape(f"{c['arm']} − {c['vs']} · {c['metric']}"), soft_wrap=True)
        console.print(escape(f"    Δ {c['delta']}  CI {c['95% CI']}  p {c['p']}  Holm p {c['Holm p']}  "
                             f"{c['verdict']}"), soft_wrap=True)


def print_summary(results: Results | dict, console=None) -> None:
    """The verdict lines, the results, cost and paired-differences tables, and the notes, readable at any
    console width (at 80 columns nothing is cut)."""
    from rich.console import Console
    from rich.markup import escape

    from .notes import convergence_note, split_note
    from .tables import comparisons_table, cost_table, results_table
    from .verdicts import smoke_line, verdict_lines
    results = Results.of(results)
    console = console or Console()
    for line in [smoke_line(results), *verdict_lines(results)]:
        if line:
            console.print(escape(line))
    print_frame(console, main_title(results), results_table(results).reset_index(), ["arm", "subset"])
    print_frame(console, "Cost per arm (mean over folds)", cost_table(results), ["arm"])
    print_comparisons(console, "Paired differences (arm − baseline, per fold)", comparisons_table(results))
    for note in (split_note(results), convergence_note(results)):
        if note:
            console.print(note)


def main_title(results: Results) -> str:
    if not results.single_split:
        return "Cross-validation: mean ± std over folds"
    if results.repeats == 1:
        return "Fixed split: test metrics"
    return f"Fixed split: mean ± std over {results.repeats} fine-tuning repeats"
