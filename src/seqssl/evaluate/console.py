"""Moved to :mod:`seqssl.report.console`; these names work for one release."""
from __future__ import annotations

HOMES = {name: f"seqssl.report.console.{name}" for name in (
    "BORDER", "column_width", "column_groups", "print_frame", "rich_table", "print_comparisons")}


def __getattr__(name: str):
    from ..deprecated import moved
    return moved(__name__, name, HOMES)
