"""Moved to :mod:`seqssl.report.html`; these names work for one release."""
from __future__ import annotations

HOMES = {name: f"seqssl.report.html.{name}" for name in (
    "STYLE", "ImageSource", "data_uri", "inline", "table", "markdown_to_html", "write_html_report")}


def __getattr__(name: str):
    from ..deprecated import moved
    return moved(__name__, name, HOMES)
