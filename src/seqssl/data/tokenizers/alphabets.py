"""Which tokenizer an alphabet uses: residues (protein), a SMILES vocabulary fitted on the data, or a BPE
vocabulary trained on a text corpus (``--alphabet protein|smiles|text``)."""
from __future__ import annotations

from ...errors import InputError
from ..dataset import sequences_of
from ..formats.readers import read_table
from . import SequenceTokenizer


def fit_smiles_tokenizer(tables: list[tuple]):
    """A :class:`~seqssl.data.tokenizers.smiles.SmilesTokenizer` fitted on the ``(table, columns)`` pairs' SMILES
    (tokens outside it map to ``[UNK]``; characters that are not SMILES are reported by file, line and column)."""
    from .smiles import SmilesTokenizer
    located = ((s, {"path": table.path, "line": table.line_of(i), "column": c})
               for table, columns in tables for i, row in enumerate(sequences_of(table, columns))
               for c, s in zip(columns, row))
    return SmilesTokenizer.fit(located)


def labelled_tokenizer(data_cfg, table, columns: list[str]):
    """The tokenizer of labelled data when no encoder brings its own: residues, SMILES fitted on the table's
    sequence columns, or for text a BPE vocabulary (:func:`text_tokenizer`)."""
    if data_cfg.alphabet == "text":
        return text_tokenizer(data_cfg, table, columns)
    if data_cfg.alphabet == "smiles":
        return fit_smiles_tokenizer([(table, columns)])
    return SequenceTokenizer(data_cfg.alphabet, data_cfg.unknown_residues)


def corpus_tokenizer(data_cfg, files: list[tuple[str, list[str]]], streamed: bool = False):
    """Character tokenizer for protein; for ``--alphabet text`` a BPE tokenizer trained on the corpus,
    for ``--alphabet smiles`` a SMILES vocabulary fitted on it (``streamed``: row by row from disk)."""
    if data_cfg.alphabet == "smiles" and streamed:
        from ..stream import rows_of
        from .smiles import SmilesTokenizer
        return SmilesTokenizer.fit((s, {"path": f, "line": line, "column": c}) for f, columns in files
                                   for line, row in rows_of(f, columns) for c, s in zip(columns, row))
    if data_cfg.alphabet == "smiles":
        return fit_smiles_tokenizer([(read_table(f), columns) for f, columns in files])
    if data_cfg.alphabet == "text" and streamed:
        raise InputError("--stream does not train a BPE vocabulary (--alphabet text)",
                         fix="use --alphabet protein or smiles, or drop --stream")
    if data_cfg.alphabet != "text":
        return SequenceTokenizer(data_cfg.alphabet, data_cfg.unknown_residues)
    from .bpe import BPETokenizer
    texts = [s for f, columns in files for row in sequences_of(read_table(f), columns) for s in row]
    return BPETokenizer.train(texts, data_cfg.bpe_vocab_size)


def text_tokenizer(data_cfg, table, columns: list[str]):
    """A BPE vocabulary for labelled text when no encoder brings one: trained on the ``--pretrain-data``
    corpora when given, else on the labelled table's text columns (labels unseen: a tokenizer fitted without
    supervision, as GLUE models' tokenizers are fitted on unlabelled text)."""
    from ..formats import default_columns
    from ..formats.readers import expand_paths
    from .bpe import BPETokenizer
    if data_cfg.pretrain_data:
        corpus_columns = data_cfg.pretrain_columns or columns[:1]
        files = [(f, default_columns(path, corpus_columns)) for path in data_cfg.pretrain_data
                 for f in expand_paths(path)]
        return corpus_tokenizer(data_cfg, files)
    return BPETokenizer.train([s for row in sequences_of(table, columns) for s in row], data_cfg.bpe_vocab_size)
