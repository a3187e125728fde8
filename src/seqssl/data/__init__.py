"""Data layer: readers (validated tables), tokenizers, collation, splits, bundled data."""
