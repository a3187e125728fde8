"""Moved to :mod:`seqssl.data.tokenizers.vocab` (this path is kept for one release)."""
from ..deprecated import alias_module

alias_module(__name__, "seqssl.data.tokenizers.vocab")
