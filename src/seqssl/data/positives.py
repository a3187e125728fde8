"""Moved to :mod:`seqssl.positives` (this path is kept for one release)."""
from ..deprecated import alias_module

alias_module(__name__, "seqssl.positives")
