"""Models: transformer sequence encoder with pooling, and small heads."""
from .encoder import SequenceEncoder, load_encoder  # noqa: F401
