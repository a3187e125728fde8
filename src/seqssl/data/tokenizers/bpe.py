"""Subword (BPE) tokenizer for text corpora, trained offline with Hugging Face ``tokenizers``.

Same interface as :class:`~seqssl.data.tokenizers.SequenceTokenizer` and the same special-token ids
(``[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4``), so every objective and view works on text unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import InputError
from .vocab import SPECIAL_TOKENS, Encoded, assemble, given, truncate_encoded


class BPETokenizer:
    alphabet = "text"
    unknown = "map-to-unk"

    def __init__(self, core):
        self.core = core
        self.vocab = core.get_vocab()
        for i, token in enumerate(SPECIAL_TOKENS):
            if self.vocab.get(token) != i:
                raise ValueError(f"special token {token} must have id {i}")

    @classmethod
    def train(cls, texts, vocab_size: int = 2000, min_frequency: int = 2) -> BPETokenizer:
        """Learn merges from ``texts`` (the user's own corpus; nothing is downloaded)."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        core = Tokenizer(models.BPE(unk_token="[UNK]"))
        core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        core.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=SPECIAL_TOKENS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        core.train_from_iterator(list(texts), trainer=trainer)
        return cls(core)

    @property
    def vocab_size(self) -> int:
        return self.core.get_vocab_size()

    def encode(self, *sequences: str, where: dict | None = None) -> Encoded:
        """``[CLS] a [SEP] (b [SEP] ...)``, segment id ``i`` per text
        (:func:`~seqssl.data.tokenizers.vocab.assemble`)."""
        sequences = given(sequences)
        if not all(sequences):
            raise InputError("empty text", **(where or {}), fix="remove the row or fill in the text")
        return assemble([np.asarray(self.core.encode(text, add_special_tokens=False).ids, dtype=np.int64)
                         for text in sequences])

    def truncate(self, enc: Encoded, values: tuple, max_length: int) -> Encoded:
        return truncate_encoded(enc, max_length)

    def decode(self, ids) -> str:
        return self.core.decode([int(i) for i in ids if int(i) >= len(SPECIAL_TOKENS)])

    def save(self, directory: str | Path, model_max_length: int | None = None) -> None:
        from transformers import PreTrainedTokenizerFast
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "seqssl_tokenizer.json").write_text(json.dumps({"alphabet": "text", "vocab": self.vocab}))
        (directory / "seqssl_bpe.json").write_text(self.core.to_str())
        PreTrainedTokenizerFast(tokenizer_object=self.core, pad_token="[PAD]", unk_token="[UNK]",
                                cls_token="[CLS]", sep_token="[SEP]",
                                mask_token="[MASK]",
                                **({"model_max_length": model_max_length} if model_max_length else {})
                                ).save_pretrained(str(directory))

    @classmethod
    def load(cls, directory: str | Path) -> BPETokenizer:
        from tokenizers import Tokenizer
        path = Path(directory) / "seqssl_bpe.json"
        if not path.exists():
            raise InputError("no seqssl_bpe.json: not a text encoder directory", path=str(directory))
        return cls(Tokenizer.from_str(path.read_text()))
