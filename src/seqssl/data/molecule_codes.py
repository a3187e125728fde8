"""Moved to :mod:`seqssl.data.molecules.codes` (this path is kept for one release)."""
from ..deprecated import alias_module

alias_module(__name__, "seqssl.data.molecules.codes")
