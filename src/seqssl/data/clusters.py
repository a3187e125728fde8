"""Moved to :mod:`seqssl.data.splits.clusters` (this path is kept for one release)."""
from ..deprecated import alias_module

alias_module(__name__, "seqssl.data.splits.clusters")
