"""Character-level tokenizers for biological sequences, exportable to Hugging Face ``tokenizers``.

Ids are looked up in a NumPy table (fast for millions of short sequences); the same vocabulary is
exported as a ``tokenizer.json`` (WordLevel model, one-character split, ``[CLS] a [SEP] b [SEP]``
template) so ``transformers.AutoTokenizer.from_pretrained(encoder_dir)`` gives identical ids.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
ALPHABETS = {"protein": AMINO_ACIDS + "X"}
FITTED_ALPHABETS = {"text": "seqssl.data.bpe.BPETokenizer.train", "smiles": "seqssl.data.smiles.SmilesTokenizer.fit"}
UNKNOWN_POLICIES = ("error", "map-to-x")


def drawable_residues(vocab_size: int) -> int:
    """Residue ids that augmentations may draw: every residue but the last (``X``, unknown; ``*`` for SMILES)."""
    return vocab_size - len(SPECIAL_TOKENS) - 1


@dataclass
class Encoded:
    """Token ids and segment ids of one (possibly paired) example, specials included."""

    input_ids: np.ndarray
    token_type_ids: np.ndarray


class VocabularyTokenizer:
    """What the fixed-vocabulary tokenizers share: ``[CLS] a [SEP] (b [SEP])`` encoding, decoding, and
    persistence as ``seqssl_tokenizer.json`` + a Hugging Face fast tokenizer (WordLevel model over
    ``split_pattern``, the same ids). Subclasses give ``vocab``, ``alphabet``, ``unknown``,
    ``split_pattern`` and ``residue_to_ids``."""

    split_pattern = "."

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, first: str, second: str | None = None, *, where: dict | None = None) -> Encoded:
        """``[CLS] first [SEP]`` or ``[CLS] first [SEP] second [SEP]`` with segment ids 0/1.

        ``where`` locates errors; its ``column`` may be a list naming the column of each segment."""
        where = dict(where or {})
        names = where.pop("column", None)
        names = names if isinstance(names, (list, tuple)) else [names, names]
        a = self.residue_to_ids(first, where={**where, "column": names[0]})
        parts = [np.array([CLS_ID]), a, np.array([SEP_ID])]
        types = [np.zeros(len(a) + 2, dtype=np.int64)]
        if second is not None:
            b = self.residue_to_ids(second, where={**where, "column": names[-1]})
            parts += [b, np.array([SEP_ID])]
            types.append(np.ones(len(b) + 1, dtype=np.int64))
        return Encoded(np.concatenate(parts).astype(np.int64), np.concatenate(types))

    def decode(self, ids) -> str:
        """The tokens of ``ids`` concatenated, specials (and ``[UNK]``) left out."""
        inverse = {i: t for t, i in self.vocab.items()}
        return "".join(inverse[int(i)] for i in ids if int(i) >= len(SPECIAL_TOKENS))

    def save(self, directory: str | Path) -> None:
        """Write seqssl's own description and a Hugging Face fast tokenizer to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "seqssl_tokenizer.json").write_text(
            json.dumps({"alphabet": self.alphabet, "unknown": self.unknown, "vocab": self.vocab}, indent=1))
        self.to_hf().save_pretrained(str(directory))

    @staticmethod
    def read_spec(directory: str | Path) -> tuple[dict, Path]:
        path = Path(directory) / "seqssl_tokenizer.json"
        if not path.exists():
            raise InputError("no seqssl_tokenizer.json: not a seqssl encoder directory", path=str(directory),
                             fix="pass a directory written by `seqssl pretrain`")
        return json.loads(path.read_text()), path

    def to_hf(self):
        """A ``transformers.PreTrainedTokenizerFast`` with the same ids."""
        from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
        from transformers import PreTrainedTokenizerFast

        core = Tokenizer(models.WordLevel(self.vocab, unk_token="[UNK]"))
        core.pre_tokenizer = pre_tokenizers.Split(Regex(self.split_pattern), behavior="isolated")
        core.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)])
        return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]",
                                       cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                       model_input_names=["input_ids", "token_type_ids", "attention_mask"])


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
                         fix="clean the sequence, or pass --unknown-residues map-to-x")

    @classmethod
    def load(cls, directory: str | Path) -> "SequenceTokenizer":
        spec, path = cls.read_spec(directory)
        if spec["alphabet"] == "text":
            from .bpe import BPETokenizer
            return BPETokenizer.load(directory)
        if spec["alphabet"] == "smiles":
            from .smiles import SmilesTokenizer
            return SmilesTokenizer.load(directory)
        tok = cls(spec["alphabet"], spec.get("unknown", "error"))
        if tok.vocab != spec["vocab"]:
            raise InputError("vocabulary differs from this seqssl version's", path=str(path))
        return tok
