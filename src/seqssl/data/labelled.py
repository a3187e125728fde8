"""Moved to :mod:`seqssl.tasks.labelled` (this path is kept for one release)."""
from ..deprecated import alias_module

alias_module(__name__, "seqssl.tasks.labelled")
