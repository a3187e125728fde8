"""Moved to :mod:`seqssl.data.tokenizers.bpe` (this path is kept for one release)."""
from ..deprecated import alias_module

alias_module(__name__, "seqssl.data.tokenizers.bpe")
