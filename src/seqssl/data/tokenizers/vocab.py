"""What every seqssl tokenizer shares: the special tokens and their ids, the :class:`Encoded` example, and the
:class:`VocabularyTokenizer` base of the fixed-vocabulary tokenizers.

The character (:mod:`~seqssl.data.tokenizers`), SMILES (:mod:`~seqssl.data.tokenizers.smiles`) and BPE
(:mod:`~seqssl.data.tokenizers.bpe`) tokenizers all import from here and not from each other, so the tokenizer modules
form no import cycle.
"""
from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError

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


def column_names(names, count: int) -> list:
    """The column name of each of ``count`` members from ``where["column"]``: a list (one per member; a shorter
    list's last name stands for the members after it) or one name for all."""
    if not isinstance(names, (list, tuple)):
        return [names] * count
    return [names[min(i, len(names) - 1)] if names else None for i in range(count)]


def given(sequences: tuple) -> tuple:
    """The sequences of an ``encode(...)`` call, ``None`` left out (``encode(a, None)`` is ``encode(a)``, as when
    the second sequence was an optional argument); none at all is an error."""
    present = tuple(s for s in sequences if s is not None)
    if not present:
        raise InputError("no sequence to encode", fix="pass at least one sequence column")
    return present


def assemble(members: list[np.ndarray]) -> Encoded:
    """``[CLS] a [SEP] b [SEP] c [SEP] ...`` of the members' token ids: segment id ``i`` on member ``i`` and on
    the ``[SEP]`` after it, ``[CLS]`` in segment 0 (one member: ``[CLS] a [SEP]``, all 0; two: BERT's 0/1)."""
    parts, types = [np.array([CLS_ID])], [np.zeros(1, dtype=np.int64)]
    for i, member in enumerate(members):
        parts += [np.asarray(member, dtype=np.int64), np.array([SEP_ID])]
        types.append(np.full(len(member) + 1, i, dtype=np.int64))
    return Encoded(np.concatenate(parts).astype(np.int64), np.concatenate(types))


def longest_first(lengths, budget: int) -> list[int]:
    """Tokens each member keeps when ``budget`` are left for all of them: taken one at a time from the longest
    member, the earliest of equally long ones first (Hugging Face's ``longest_first`` rule, for any number of
    members), computed at once: every member is cut to a common level, and the last of those cut keep one more."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.sum() <= budget:
        return lengths.tolist()
    low, high = 0, int(lengths.max())  # the highest level whose cut fits: sum(min(lengths, level)) <= budget
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if np.minimum(lengths, mid).sum() <= budget else (low, mid - 1)
    keep = np.minimum(lengths, low)
    cut = np.flatnonzero(lengths > low)
    spare = int(budget - keep.sum())  # fewer than len(cut): one level higher would not fit
    keep[cut[len(cut) - spare:]] += 1
    return keep.tolist()


def members_of(enc: Encoded) -> list[np.ndarray]:
    """The token ids of each member of an :func:`assemble`-d example, without ``[CLS]`` and ``[SEP]``."""
    ids, types = enc.input_ids, enc.token_type_ids
    members = []
    for i in range(int(types.max()) + 1):
        segment = ids[types == i]
        members.append(segment[1:-1] if i == 0 else segment[:-1])
    return members


def truncate_encoded(enc: Encoded, max_length: int) -> Encoded:
    """``enc`` cut to ``max_length`` tokens, every ``[SEP]`` kept: one sequence loses its end; several members
    lose residues from the end of the longest member first (:func:`longest_first`), each keeping at least one,
    so no column is ever dropped (the "longest first" rule of Hugging Face tokenizers)."""
    ids, types = enc.input_ids, enc.token_type_ids
    if not types.any():
        return Encoded(np.append(ids[:max_length - 1], SEP_ID), types[:max_length], truncated=True)
    members = members_of(enc)
    keep = longest_first([len(m) for m in members], max(max_length - len(members) - 1, len(members)))
    cut = assemble([m[:k] for m, k in zip(members, keep)])
    return Encoded(cut.input_ids, cut.token_type_ids, truncated=True)


def read_spec(directory: str | Path) -> tuple[dict, Path]:
    """The ``seqssl_tokenizer.json`` of an encoder directory, and its path."""
    path = Path(directory) / "seqssl_tokenizer.json"
    if not path.exists():
        raise InputError("no seqssl_tokenizer.json: not a seqssl encoder directory", path=str(directory),
                         fix="pass a directory written by `seqssl pretrain`")
    return json.loads(path.read_text()), path


class VocabularyTokenizer:
    """What the fixed-vocabulary tokenizers share: ``[CLS] a [SEP] (b [SEP] ...)`` encoding, decoding, and
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

    def encode(self, *sequences: str, where: dict | None = None) -> Encoded:
        """``[CLS] a [SEP]``, ``[CLS] a [SEP] b [SEP]``, or for more columns ``[CLS] a [SEP] b [SEP] c [SEP] ...``,
        segment id ``i`` on member ``i`` and its ``[SEP]`` (:func:`assemble`).

        ``where`` locates errors; its ``column`` may be a list naming the column of each segment."""
        sequences = given(sequences)
        where = dict(where or {})
        names = column_names(where.pop("column", None), len(sequences))
        return assemble([self.residue_to_ids(s, where={**where, "column": name}) for s, name in zip(sequences, names)])

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
        significant (SMILES), as seqssl does. Its template covers one and two sequences (``tokenizer(a)``,
        ``tokenizer(a, b)``), all ``transformers`` tokenizers take: inputs of three or more columns are seqssl's
        own layout (:func:`assemble`), read by ``seqssl embed`` / ``seqssl predict`` and the Python API."""
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
