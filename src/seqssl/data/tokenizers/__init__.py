"""Character-level tokenizers for biological sequences, exportable to Hugging Face ``tokenizers``.

Ids are looked up in a NumPy table (fast for millions of short sequences); the same vocabulary is
exported as a ``tokenizer.json`` (WordLevel model, one-character split, ``[CLS] a [SEP] b [SEP]``
template) so ``transformers.AutoTokenizer.from_pretrained(encoder_dir)`` gives identical ids for one and two
columns. Three or more columns (``[CLS] a [SEP] b [SEP] c [SEP]``, segment id ``i`` for column ``i``) go beyond
the single and pair templates a ``transformers`` tokenizer has: ``seqssl embed``, ``seqssl predict`` and the
Python API read them.

:func:`load_tokenizer` reads back a saved tokenizer of any alphabet. The special tokens, their ids,
:class:`~seqssl.data.tokenizers.vocab.Encoded` and the
:class:`~seqssl.data.tokenizers.vocab.VocabularyTokenizer` base live in :mod:`seqssl.data.tokenizers.vocab` and
are re-exported here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError
from .bpe import BPETokenizer
from .model_tokenizer import MODEL_ALPHABET, ModelTokenizer
from .smiles import SmilesTokenizer
from .vocab import (  # noqa: F401  re-exported
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Encoded,
    VocabularyTokenizer,
    drawable_residues,
    read_spec,
)

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
ALPHABETS = {"protein": AMINO_ACIDS + "X"}
FITTED_ALPHABETS = {"text": "seqssl.data.tokenizers.bpe.BPETokenizer.train",
                    "smiles": "seqssl.data.tokenizers.smiles.SmilesTokenizer.fit"}
UNKNOWN_POLICIES = ("error", "map-to-x")


def load_tokenizer(directory: str | Path):
    """The tokenizer saved in an encoder directory, whatever its alphabet (protein, ``text`` BPE, ``smiles``, or
    a ``model``'s own tokenizer)."""
    spec, path = read_spec(directory)
    if spec.get("alphabet") == "text":
        return BPETokenizer.load(directory)
    if spec.get("alphabet") == "smiles":
        return SmilesTokenizer.load(directory)
    if spec.get("alphabet") == MODEL_ALPHABET:
        return ModelTokenizer.load(directory)
    tok = SequenceTokenizer(spec["alphabet"], spec.get("unknown", "error"))
    if tok.vocab != spec["vocab"]:
        raise InputError("vocabulary differs from this seqssl version's", path=str(path))
    tok.saved = True  # its alphabet is the model's: a hint to choose another --alphabet would mislead
    return tok


class SequenceTokenizer(VocabularyTokenizer):
    """Maps residues to ids; special tokens first: ``[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4``.

    Lower-case residues are accepted and upper-cased. Characters outside the alphabet raise an
    :class:`InputError` (``unknown="error"``) or become ``X`` (``unknown="map-to-x"``).
    """

    def __init__(self, alphabet: str = "protein", unknown: str = "error"):
        if alphabet in FITTED_ALPHABETS:
            raise InputError(f"the {alphabet} vocabulary is fitted on a corpus, not fixed",
                             fix=f"use {FITTED_ALPHABETS[alphabet]}")
        if alphabet not in ALPHABETS:
            raise InputError(f"unknown alphabet '{alphabet}'",
                             fix=f"use one of {sorted(ALPHABETS) + sorted(FITTED_ALPHABETS)}")
        if unknown not in UNKNOWN_POLICIES:
            raise InputError(f"unknown residue policy '{unknown}'", fix=f"use one of {UNKNOWN_POLICIES}")
        self.alphabet, self.unknown = alphabet, unknown
        self.saved = False  # read from an encoder directory (load_tokenizer), not chosen with --alphabet
        self.residues = ALPHABETS[alphabet]
        self.vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + list(self.residues))}
        self.residue_ids = np.arange(len(SPECIAL_TOKENS), len(self.vocab))
        self._table = np.full(256, -1, dtype=np.int64)
        for ch in self.residues:
            self._table[ord(ch)] = self.vocab[ch]
            self._table[ord(ch.lower())] = self.vocab[ch]
        self._x_id = self.vocab.get("X", UNK_ID)

    def residue_to_ids(self, sequence: str, *, where: dict | None = None) -> np.ndarray:
        """Ids of the residues of one sequence (no specials); ``where`` locates errors."""
        where = where or {}
        if not sequence:
            raise InputError("empty sequence", **where, fix="remove the row or fill in the sequence")
        try:
            codes = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
        except UnicodeEncodeError:
            bad = next(c for c in sequence if ord(c) > 127)
            codes = None
        else:
            ids = self._table[codes]
            if (ids >= 0).all():
                return ids
            bad = sequence[int(np.argmax(ids < 0))]
        if self.unknown == "map-to-x":
            ids = np.array([self._table[ord(c)] if ord(c) < 256 else -1 for c in sequence])
            ids[ids < 0] = self._x_id
            return ids
        raise InputError(f"residue '{bad}' in '{sequence[:40]}' is not in the {self.alphabet} alphabet "
                         f"({self.residues})", **where,
                         fix="clean the sequence, or pass --unknown-residues map-to-x" +
                             ("" if self.saved else " (--alphabet smiles for molecules)"))

    @classmethod
    def load(cls, directory: str | Path):
        """The tokenizer saved in ``directory`` (any alphabet: see :func:`load_tokenizer`)."""
        return load_tokenizer(directory)
