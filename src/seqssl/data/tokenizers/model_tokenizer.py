"""A model's own ``transformers`` tokenizer (ESM, ProtBert-style BERT, a RoBERTa BPE for SMILES) behind
seqssl's tokenizer interface, for models seqssl did not build (``--arms model:PATH``, ``--init PATH``).

The text is tokenised by the model's tokenizer (``AutoTokenizer``: its vocabulary, merges, pair template and
truncation); its ids are then *re-laid out* in seqssl's order — the model's pad, unknown, first-token,
separator and mask tokens at seqssl's ids 0–4, every other token after them in the model's order, the model's
remaining special tokens last — so that every seqssl component that relies on that order (padding, masking
for MLM and views, mean pooling, neighbour chunks) works unchanged. :attr:`ModelTokenizer.model_ids` maps a
seqssl id back to the model's id; the encoder applies it before its embedding layer
(:class:`~seqssl.models.encoder.SequenceEncoder`), so the model always sees exactly the ids its own tokenizer
gives (a test compares them with calling the tokenizer directly).

Three or more sequence columns (CDR3α, CDR3β, peptide): ``transformers`` tokenizers have single and pair
templates only, so seqssl extends the pair template — the model's own prefix, its pair separator between each
two sequences, its suffix (ESM ``<cls> a <eos> b <eos> c <eos>``, RoBERTa ``<s> a </s></s> b </s></s> c </s>``,
BERT ``[CLS] a [SEP] b [SEP] c [SEP]``) — with segment id ``i`` on column ``i``. Models without token types (ESM,
RoBERTa with one type) never see segment ids (:class:`~seqssl.models.encoder.SequenceEncoder` passes none, so
they read type 0 throughout) and tell the columns apart by the separators; a model with fewer token types than
columns (BERT's two) is refused with a fix (:func:`~seqssl.models.encoder.check_segments`).

Written by hand because no library re-orders a tokenizer's vocabulary; the tokenisation itself is
``transformers``'.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import InputError
from .vocab import SPECIAL_TOKENS, Encoded, column_names, given, longest_first

MODEL_ALPHABET = "model"
PROBE_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def first_token_id(hf) -> int | None:
    return hf.cls_token_id if hf.cls_token_id is not None else hf.bos_token_id


def separator_id(hf) -> int | None:
    return hf.sep_token_id if hf.sep_token_id is not None else hf.eos_token_id


def seqssl_layout(hf) -> list[int]:
    """Model ids in seqssl order: pad, unk, first token, separator, mask; ordinary tokens; other specials."""
    anchors = [hf.pad_token_id, hf.unk_token_id, first_token_id(hf), separator_id(hf), hf.mask_token_id]
    if any(i is None for i in anchors):
        missing = [t for t, i in zip(SPECIAL_TOKENS, anchors) if i is None]
        raise InputError(f"the model's tokenizer has no token for {missing}",
                         fix="use a tokenizer with pad, unk, cls (or bos), sep (or eos) and mask tokens")
    specials = set(hf.all_special_ids)
    ids = sorted(set(hf.get_vocab().values()) - set(anchors))
    return anchors + [i for i in ids if i not in specials] + [i for i in ids if i in specials]


def _find(ids: list[int], part: list[int], start: int) -> int:
    """Where ``part`` first occurs in ``ids`` at or after ``start`` (-1: nowhere)."""
    for i in range(start, len(ids) - len(part) + 1):
        if ids[i:i + len(part)] == part:
            return i
    return -1


REMOTE_CODE_FIX = ("pass --trust-remote-code if you trust the Python files in the model directory: they run with "
                   "your permissions")

class ModelTokenizer:
    """The model's tokenizer ``hf`` with ids in seqssl's order (see the module docstring).

    Protein models whose vocabulary has upper-case letters only get upper-cased input (``cassl`` is
    ``CASSL``); case is kept otherwise (SMILES: ``c`` is aromatic). ProtBert-style vocabularies, whose
    tokenizer reads residues separated by spaces, get the spaces inserted (detected, or ``spaced``).
    """

    alphabet = MODEL_ALPHABET

    def __init__(self, hf, unknown: str = "error", spaced: bool | None = None):
        self.hf, self.unknown = hf, unknown
        self.model_ids = np.asarray(seqssl_layout(hf), dtype=np.int64)
        self._to_seqssl = np.full(int(self.model_ids.max()) + 1, 1, dtype=np.int64)  # unseen ids: [UNK]
        self._to_seqssl[self.model_ids] = np.arange(len(self.model_ids))
        inverse = {i: t for t, i in hf.get_vocab().items()}
        self.vocab = {inverse[int(i)]: seqssl_id for seqssl_id, i in enumerate(self.model_ids)}
        letters = [t for t in self.vocab if len(t) == 1 and t.isalpha()]
        self.uppercase = bool(letters) and all(t.isupper() for t in letters)
        self.case_sensitive = not self.uppercase
        self.spaced = self._needs_spaces() if spaced is None else spaced
        self.per_residue = self.uppercase  # one token per residue (checked per row where it matters)
        self._template: tuple[list[int], list[int], list[int]] | None = None  # pair_template(), read once

    @property
    def vocab_size(self) -> int:
        return len(self.model_ids)

    @property
    def name_or_path(self) -> str:
        return str(getattr(self.hf, "name_or_path", ""))

    def _needs_spaces(self) -> bool:
        """ProtBert-style: the unspaced probe is unknown to the tokenizer, the spaced one is not."""
        if not self.uppercase:
            return False
        unspaced = self.hf(PROBE_RESIDUES, add_special_tokens=False)["input_ids"]
        spaced = self.hf(" ".join(PROBE_RESIDUES), add_special_tokens=False)["input_ids"]
        unk = self.hf.unk_token_id
        return unk in unspaced and unk not in spaced

    def text(self, sequence: str) -> str:
        """What the model's tokenizer reads for one sequence."""
        sequence = sequence.upper() if self.uppercase else sequence
        return " ".join(sequence) if self.spaced else sequence

    def residue_to_ids(self, sequence: str, *, where: dict | None = None) -> np.ndarray:
        """seqssl ids of one sequence's tokens, no special tokens."""
        if not sequence:
            raise InputError("empty sequence", **(where or {}), fix="remove the row or fill in the sequence")
        ids = self.hf(self.text(sequence), add_special_tokens=False)["input_ids"]
        self._check_known(ids, sequence, where)
        return self._to_seqssl[np.asarray(ids, dtype=np.int64)]

    def _check_known(self, model_ids, sequence: str, where: dict | None) -> None:
        if self.unknown == "error" and self.hf.unk_token_id in model_ids:
            raise InputError(f"'{sequence[:40]}' has tokens the model's tokenizer does not know "
                             f"({self.name_or_path or 'its vocabulary'})", **(where or {}),
                             fix="clean the sequence, or pass --unknown-residues map-to-x to read them as the "
                                 "model's unknown token")

    def encode(self, *sequences: str, where: dict | None = None, max_length: int | None = None) -> Encoded:
        """The model's own template (``<cls> a <eos>``, ``[CLS] a [SEP] b [SEP]``, ``<s> a </s></s> b </s>``)
        in seqssl ids; segment ids 0 up to the end of the first sequence's specials, 1 after. Three or more
        sequences follow the pair template extended (:meth:`encode_many`). ``max_length``: truncated longest
        first (by the model's tokenizer for one or two)."""
        sequences = given(sequences)
        where = dict(where or {})
        names = column_names(where.pop("column", None), len(sequences))
        for name, value in zip(names, sequences):
            if not value:
                raise InputError("empty sequence", **where, column=name, fix="remove the row or fill in the sequence")
        if len(sequences) > 2:
            return self.encode_many(sequences, names, where, max_length)
        texts = [self.text(value) for value in sequences]
        cut = {"truncation": "longest_first", "max_length": max_length} if max_length else {}
        enc = self.hf(*texts, return_token_type_ids=True, **cut)
        if self.unknown == "error" and self.hf.unk_token_id in enc["input_ids"]:
            for name, value in zip(names, sequences):  # tokenised once; again per value only to name the column
                self.residue_to_ids(value, where={**where, "column": name})
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
        return Encoded(self._to_seqssl[ids], self._segments(enc, len(ids), len(sequences) == 2))

    def encode_many(self, sequences, names: list, where: dict, max_length: int | None = None) -> Encoded:
        """Three or more sequences in the model's pair template extended: its prefix, the sequences with its
        pair separator between each two, its suffix (ESM ``<cls> a <eos> b <eos> c <eos>``, RoBERTa
        ``<s> a </s></s> b </s></s> c </s>``); segment id ``i`` on sequence ``i`` and the specials after it
        (:meth:`pair_template`). ``max_length``: the sequences are cut longest first, each keeping a token."""
        prefix, middle, suffix = self.pair_template()
        members = []
        for name, value in zip(names, sequences):
            ids = self.hf(self.text(value), add_special_tokens=False)["input_ids"]
            self._check_known(ids, value, {**where, "column": name})
            members.append(ids)
        if max_length:
            room = max_length - len(prefix) - len(suffix) - len(middle) * (len(members) - 1)
            keep = longest_first([len(m) for m in members], max(room, len(members)))
            members = [m[:k] for m, k in zip(members, keep)]
        ids, types = list(prefix), [0] * len(prefix)
        for i, member in enumerate(members):
            after = middle if i < len(members) - 1 else suffix
            ids += [*member, *after]
            types += [i] * (len(member) + len(after))
        return Encoded(self._to_seqssl[np.asarray(ids, dtype=np.int64)], np.asarray(types, dtype=np.int64))

    def pair_template(self) -> tuple[list[int], list[int], list[int]]:
        """``(prefix, separator, suffix)``: the model ids the tokenizer's pair template puts before the first
        sequence, between the two and after the second, read off the encoding of a probe sequence twice."""
        if self._template is None:
            self._template = self._read_pair_template()
        return self._template

    def _read_pair_template(self) -> tuple[list[int], list[int], list[int]]:
        specials = set(self.hf.all_special_ids)
        for probe in (PROBE_RESIDUES, "C", "c", "a"):
            content = self.hf(self.text(probe), add_special_tokens=False)["input_ids"]
            if content and not specials & set(content):
                full = self.hf(self.text(probe), self.text(probe))["input_ids"]
                first = _find(full, content, 0)
                second = _find(full, content, first + len(content)) if first >= 0 else -1
                if second >= 0:
                    n = len(content)
                    return full[:first], full[first + n:second], full[second + n:]
        raise InputError(f"the pair template of the model's tokenizer ({self.name_or_path or 'its tokenizer'}) "
                         "could not be read, so three or more columns cannot be laid out",
                         fix="pass at most two --columns (join the others into one column)")

    def _segments(self, enc, n: int, paired: bool) -> np.ndarray:
        types = np.asarray(enc.get("token_type_ids") or [0] * n, dtype=np.int64)
        if not paired or types.any() or not getattr(self.hf, "is_fast", False):
            return types
        sequence = enc.sequence_ids()  # specials are None: they belong to the segment before them
        second = np.array([s == 1 for s in sequence])
        return np.maximum.accumulate(second).astype(np.int64) if second.any() else types

    def truncate(self, enc: Encoded, values: tuple, max_length: int) -> Encoded:
        """``values`` re-encoded by the model's tokenizer with longest-first truncation to ``max_length``."""
        out = self.encode(*values, max_length=max_length)
        return Encoded(out.input_ids, out.token_type_ids, truncated=True)

    def decode(self, ids) -> str:
        """The text of seqssl ids, special tokens left out (residues joined without spaces)."""
        specials = set(self.hf.all_special_ids)
        model_ids = [int(self.model_ids[int(i)]) for i in ids if int(self.model_ids[int(i)]) not in specials]
        if self.uppercase:
            return "".join(self.hf.convert_ids_to_tokens(model_ids))
        return self.hf.decode(model_ids)

    def save(self, directory: str | Path, model_max_length: int | None = None) -> None:
        """The model's tokenizer files (``save_pretrained``; its own ``model_max_length`` kept) and
        ``seqssl_tokenizer.json`` naming how it is read."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.hf.save_pretrained(str(directory))
        (directory / "seqssl_tokenizer.json").write_text(json.dumps(
            {"alphabet": MODEL_ALPHABET, "unknown": self.unknown, "spaced": self.spaced}, indent=1))

    @classmethod
    def from_directory(cls, directory: str | Path, unknown: str = "error", spaced: bool | None = None,
                       trust_remote_code: bool = False):
        """``AutoTokenizer.from_pretrained(directory)`` behind seqssl's interface (local files only; a tokenizer
        with its own code runs it only with ``trust_remote_code``)."""
        from transformers import AutoTokenizer
        try:
            hf = AutoTokenizer.from_pretrained(str(directory), local_files_only=True,
                                               trust_remote_code=trust_remote_code)
        except ValueError as err:
            if "trust_remote_code" not in str(err):
                raise InputError(f"no tokenizer the model can be read with ({str(err).splitlines()[0]})",
                                 path=str(directory), fix="pass a seqssl encoder directory or a complete transformers "
                                 "model directory (config, weights and tokenizer files)") from None
            raise InputError("the model's tokenizer ships its own code", path=str(directory),
                             fix=REMOTE_CODE_FIX) from None
        except (OSError, TypeError) as err:
            raise InputError(f"no tokenizer the model can be read with ({str(err).splitlines()[0]})",
                             path=str(directory), fix="pass a seqssl encoder directory or a complete transformers "
                             "model directory (config, weights and tokenizer files)") from None
        return cls(hf, unknown, spaced)

    @classmethod
    def load(cls, directory: str | Path) -> ModelTokenizer:
        spec = json.loads((Path(directory) / "seqssl_tokenizer.json").read_text())
        return cls.from_directory(directory, spec.get("unknown", "error"), spec.get("spaced"))
