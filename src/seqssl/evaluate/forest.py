"""Moved to :mod:`seqssl.report.forest`; these names work for one release."""
from __future__ import annotations

HOMES = {name: f"seqssl.report.forest.{name}" for name in (
    "COLOURS", "forest_rows", "plot_forest")}


def __getattr__(name: str):
    from ..deprecated import moved
    return moved(__name__, name, HOMES)
