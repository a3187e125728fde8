"""What every seqssl tokenizer shares: the special tokens and their ids, the :class:`Encoded` example, and the
:class:`VocabularyTokenizer` base of the fixed-vocabulary tokenizers.

The character (:mod:`~seqssl.data.tokenizers`), SMILES (:mod:`~seqssl.data.smiles`) and BPE
(:mod:`~seqssl.data.bpe`) tokenizers all import from here and not from each other, so the tokenizer modules
form no import cycle.
"""
from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)


def drawable_residues(vocab_size: int) -> int:
    """Residue ids that augmentations may draw: every residue but the last (``X``, unknown; ``*`` for SMILES)."""
    return vocab_size - len(SPECIAL_TOKENS) - 1


@dataclass
class Encoded:
    """Token ids and segment ids of one (possibly paired) example, specials included."""

    input_ids: np.ndarray
    token_type_ids: np.ndarray
    truncated: bool = False  # cut to the model's maximum length (data.too_long: truncate)


def truncate_encoded(enc: Encoded, max_length: int) -> Encoded:
    """``enc`` cut to ``max_length`` tokens, every ``[SEP]`` kept: one sequence loses its end; a pair loses
    residues from the end of its longer member first, so the second sequence is never dropped (the
    "longest first" rule of Hugging Face tokenizers)."""
    ids, types = enc.input_ids, enc.token_type_ids
    if not types.any():
        return Encoded(np.append(ids[:max_length - 1], SEP_ID), types[:max_length], truncated=True)
    n_first = int((types == 0).sum())
    first, second = ids[1:n_first - 1], ids[n_first:-1]
    keep_first, keep_second = len(first), len(second)
    while keep_first + keep_second > max(max_length - 3, 2):
        if keep_first >= keep_second:
            keep_first -= 1
        else:
            keep_second -= 1
    new_ids = np.concatenate([[CLS_ID], first[:keep_first], [SEP_ID], second[:keep_second], [SEP_ID]])
    new_types = np.concatenate([np.zeros(keep_first + 2), np.ones(keep_second + 1)])
    return Encoded(new_ids.astype(np.int64), new_types.astype(np.int64), truncated=True)


def read_spec(directory: str | Path) -> tuple[dict, Path]:
    """The ``seqssl_tokenizer.json`` of an encoder directory, and its path."""
    path = Path(directory) / "seqssl_tokenizer.json"
    if not path.exists():
        raise InputError("no seqssl_tokenizer.json: not a seqssl encoder directory", path=str(directory),
                         fix="pass a directory written by `seqssl pretrain`")
    return json.loads(path.read_text()), path


class VocabularyTokenizer:
    """What the fixed-vocabulary tokenizers share: ``[CLS] a [SEP] (b [SEP])`` encoding, decoding, and
    persistence as ``seqssl_tokenizer.json`` + a Hugging Face fast tokenizer (WordLevel model over
    ``split_pattern``, the same ids). Subclasses give ``vocab``, ``alphabet``, ``unknown``,
    ``split_pattern`` and ``residue_to_ids``."""

    # given by the subclasses (declared here for the type checker)
    vocab: dict[str, int]
    alphabet: str
    unknown: str
    residue_to_ids: Callable[..., np.ndarray]  # (sequence, *, where=None) → ids of its tokens, no specials
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

    def truncate(self, enc: Encoded, values: tuple, max_length: int) -> Encoded:
        """``enc`` (the encoding of ``values``) cut to ``max_length`` tokens (:func:`truncate_encoded`)."""
        return truncate_encoded(enc, max_length)

    def decode(self, ids) -> str:
        """The tokens of ``ids`` concatenated, specials (and ``[UNK]``) left out."""
        inverse = {i: t for t, i in self.vocab.items()}
        return "".join(inverse[int(i)] for i in ids if int(i) >= len(SPECIAL_TOKENS))

    def save(self, directory: str | Path, model_max_length: int | None = None) -> None:
        """Write seqssl's own description and a Hugging Face fast tokenizer to ``directory`` (``model_max_length``:
        the most tokens the model reads, so ``truncation=True`` in transformers cuts where seqssl would)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "seqssl_tokenizer.json").write_text(
            json.dumps({"alphabet": self.alphabet, "unknown": self.unknown, "vocab": self.vocab}, indent=1))
        self.to_hf(model_max_length).save_pretrained(str(directory))

    @staticmethod
    def read_spec(directory: str | Path) -> tuple[dict, Path]:
        """The ``seqssl_tokenizer.json`` of ``directory`` (see :func:`read_spec`)."""
        return read_spec(directory)

    def to_hf(self, model_max_length: int | None = None):
        """A ``transformers.PreTrainedTokenizerFast`` with the same ids; it upper-cases its input unless case is
        significant (SMILES), as seqssl does."""
        from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
        from transformers import PreTrainedTokenizerFast

        core = Tokenizer(models.WordLevel(self.vocab, unk_token="[UNK]"))
        if not getattr(self, "case_sensitive", False):  # tokenizers has no upper-casing normaliser: one per letter
            core.normalizer = normalizers.Sequence([normalizers.Replace(c, c.upper()) for c in string.ascii_lowercase])
        core.pre_tokenizer = pre_tokenizers.Split(Regex(self.split_pattern), behavior="isolated")
        core.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)])
        limit = {"model_max_length": model_max_length} if model_max_length else {}
        return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]",
                                       cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                       model_input_names=["input_ids", "token_type_ids", "attention_mask"], **limit)
