"""Tiny randomly initialised ``transformers`` models with their own tokenizers, written with
``save_pretrained`` into a directory: what a user's ESM-2, ProtBert or ChemBERTa download holds, small enough
for a test (nothing is downloaded)."""
from __future__ import annotations

from pathlib import Path

import torch

ESM2_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N",
              "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>"]
PROTBERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("LAGVESTIKRDPNQFYMHCWXUBZO")
SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def esm_directory(path: Path, seed: int = 0):
    """An ESM-2-style model (rotary positions) and its ``EsmTokenizer``."""
    from transformers import EsmConfig, EsmModel, EsmTokenizer
    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(ESM2_VOCAB) + "\n")
    tokenizer = EsmTokenizer(str(path / "vocab.txt"))
    torch.manual_seed(seed)
    config = EsmConfig(vocab_size=len(ESM2_VOCAB), max_position_embeddings=130, position_embedding_type="rotary",
                       pad_token_id=tokenizer.pad_token_id, mask_token_id=tokenizer.mask_token_id,
                       token_dropout=False, **SIZE)
    model = EsmModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return model, tokenizer


def protbert_directory(path: Path, seed: int = 0):
    """A ProtBert-style BERT whose WordPiece tokenizer reads residues separated by spaces."""
    from transformers import BertConfig, BertModel, BertTokenizer
    path.mkdir(parents=True)
    (path / "vocab.txt").write_text("\n".join(PROTBERT_VOCAB) + "\n")
    tokenizer = BertTokenizer(str(path / "vocab.txt"), do_lower_case=False)
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=len(PROTBERT_VOCAB), max_position_embeddings=130, **SIZE),
                      add_pooling_layer=False).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return model, tokenizer


def roberta_smiles_directory(path: Path, smiles: list[str], seed: int = 0):
    """A ChemBERTa-style RoBERTa with a byte-level BPE tokenizer trained on ``smiles``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast
    path.mkdir(parents=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(smiles, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer = RobertaTokenizerFast(vocab=bpe.get_vocab(), merges=[tuple(m.split()) for m in _merges(bpe)])
    torch.manual_seed(seed)
    config = RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=258, pad_token_id=tokenizer.pad_token_id,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                           type_vocab_size=1, **SIZE)
    model = RobertaModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return model, tokenizer


def _merges(bpe) -> list[str]:
    import json
    return [m if isinstance(m, str) else " ".join(m) for m in json.loads(bpe.to_str())["model"]["merges"]]
