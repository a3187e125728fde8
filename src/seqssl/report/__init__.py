"""What a user reads after a cross-validation, from the typed :class:`~seqssl.evaluate.schema.Results` that
:mod:`seqssl.evaluate` produces: the console summary (:mod:`.console`), ``report.md`` and ``report.html``
(:mod:`.markdown`, :mod:`.html`), the tables (:mod:`.tables`), the prose beside them (:mod:`.notes`,
:mod:`.verdicts`) and the figures (:mod:`.figures`, :mod:`.forest`, :mod:`.embedding_maps`). Nothing here
computes a metric or a test; it renders what ``results.json`` holds, so a report can be redrawn from that file
alone (``write_report(json.load(...), out, predictions)``)."""
from __future__ import annotations

from .console import print_summary
from .markdown import write_report

__all__ = ["print_summary", "write_report"]
