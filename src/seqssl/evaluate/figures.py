"""Moved to :mod:`seqssl.report.figures`; these names work for one release."""
from __future__ import annotations

HOMES = {name: f"seqssl.report.figures.{name}" for name in (
    "panels", "save", "plot_confusion")}


def __getattr__(name: str):
    from ..deprecated import moved
    return moved(__name__, name, HOMES)
