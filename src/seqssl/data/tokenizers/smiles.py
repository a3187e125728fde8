"""SMILES tokenisation (one token per atom, bond, branch or ring closure) and a fitted vocabulary.

Same interface and special-token ids as :class:`~seqssl.data.tokenizers.SequenceTokenizer`
(``[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4``), exported as a Hugging Face fast tokenizer that splits on
the same regular expression, so every objective, view and saved encoder works on molecules unchanged.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np

from ...errors import InputError
from .vocab import SPECIAL_TOKENS, UNK_ID, VocabularyTokenizer

# One alternative per token class, longest first where they share a prefix (Br before B, Cl before C).
SMILES_PATTERN = (
    r"\[[^\[\]]+\]"        # bracket atom, e.g. [nH] [C@@H] [N+] [O-] [13CH3]: isotope, chirality, H, charge
    r"|Br|Cl"              # the two-letter elements of the organic subset
    r"|[BCNOPSFI]"         # organic-subset atoms
    r"|[bcnops]"           # aromatic atoms
    r"|%[0-9]{2}|[0-9]"    # ring closures: %NN and single digits
    r"|[-=#$:/\\.]"        # bonds (single, double, triple, quadruple, aromatic, directional) and '.'
    r"|[()]"               # branches
    r"|@@|@|\+|\*"         # stereo and charge marks outside brackets, and the wildcard atom
)
"""The SMILES regular expression of Schwaller et al. 2019, "Molecular Transformer: a model for
uncertainty-calibrated chemical reaction prediction" (ACS Cent. Sci. 5, 1572), written anew: a bracket
atom is one token, every other atom, bond, branch and ring closure is its own token."""
_TOKEN = re.compile(SMILES_PATTERN)

WILDCARD = "*"  # the any-atom; kept last in every vocabulary (augmentations never draw the last token)
BASE_TOKENS = (
    ["C", "N", "O", "S", "P", "F", "Cl", "Br", "I", "B", "c", "n", "o", "s", "p", "b"]
    + ["-", "=", "#", "$", ":", "/", "\\", ".", "(", ")"]
    + [str(d) for d in range(10)]
    + ["[nH]", "[C@H]", "[C@@H]", "[C@]", "[C@@]", "[N+]", "[N-]", "[n+]", "[O-]", "[NH+]", "[NH2+]",
       "[NH3+]", "[nH+]", "[S@]", "[S@@]", "[S+]", "[P+]", "[Si]", "[Se]", "[se]", "[H]", "[2H]", "[Na+]",
       "[K+]", "[Cl-]", "[Br-]", "[I-]"]
)
UNKNOWN_POLICIES = ("map-to-unk", "error")


def tokenize_smiles(smiles: str, *, where: dict | None = None) -> list[str]:
    """Tokens of one SMILES string; ``"".join(tokens) == smiles``. A character no token covers raises
    :class:`InputError` naming it and its 1-based position (``where`` locates the row)."""
    tokens, at = [], 0
    for match in _TOKEN.finditer(smiles):
        if match.start() != at:
            break
        tokens.append(match.group())
        at = match.end()
    if at != len(smiles):
        raise InputError(f"character '{smiles[at]}' at position {at + 1} of '{smiles[:60]}' is not valid SMILES",
                         **(where or {}), fix="clean the SMILES (e.g. with RDKit) or drop the row")
    return tokens


class SmilesTokenizer(VocabularyTokenizer):
    """Maps SMILES tokens to ids: specials first, then ``tokens`` in order, the wildcard ``*`` last.

    Tokens outside the vocabulary become ``[UNK]`` (``unknown="map-to-unk"``) or raise an
    :class:`InputError` naming the token (``unknown="error"``). Case is significant (``c`` is aromatic).
    """

    alphabet = "smiles"
    case_sensitive = True
    split_pattern = SMILES_PATTERN

    def __init__(self, tokens=None, unknown: str = "map-to-unk"):
        if unknown not in UNKNOWN_POLICIES:
            raise InputError(f"unknown SMILES token policy '{unknown}'", fix=f"use one of {UNKNOWN_POLICIES}")
        tokens = list(BASE_TOKENS if tokens is None else tokens)
        self.residues = [t for t in dict.fromkeys(tokens) if t != WILDCARD and t not in SPECIAL_TOKENS] + [WILDCARD]
        self.unknown = unknown
        self.vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + self.residues)}
        self.residue_ids = np.arange(len(SPECIAL_TOKENS), len(self.vocab))

    @classmethod
    def fit(cls, smiles, min_frequency: int = 1, unknown: str = "map-to-unk") -> SmilesTokenizer:
        """Base tokens, then every other token seen at least ``min_frequency`` times, sorted (deterministic
        for a given corpus). Items of ``smiles`` are strings or ``(string, where)`` pairs that locate errors."""
        counts: Counter = Counter()
        for item in smiles:
            text, where = item if isinstance(item, tuple) else (item, None)
            counts.update(tokenize_smiles(text, where=where))
        base = set(BASE_TOKENS)
        extra = sorted(t for t, n in counts.items() if n >= min_frequency and t not in base)
        return cls(list(BASE_TOKENS) + extra, unknown)

    def residue_to_ids(self, smiles: str, *, where: dict | None = None) -> np.ndarray:
        """Ids of the tokens of one SMILES (no specials); ``where`` locates errors."""
        where = where or {}
        if not smiles:
            raise InputError("empty sequence", **where, fix="remove the row or fill in the SMILES")
        ids = []
        for token in tokenize_smiles(smiles, where=where):
            i = self.vocab.get(token)
            if i is None or i < len(SPECIAL_TOKENS):
                if self.unknown == "error":
                    raise InputError(f"SMILES token '{token}' in '{smiles[:60]}' is not in the vocabulary", **where,
                                     fix="fit the tokenizer on data that contains it, or use unknown='map-to-unk'")
                i = UNK_ID
            ids.append(i)
        return np.asarray(ids, dtype=np.int64)

    @classmethod
    def load(cls, directory: str | Path) -> SmilesTokenizer:
        spec, path = cls.read_spec(directory)
        if spec.get("alphabet") != "smiles":
            raise InputError(f"tokenizer alphabet is '{spec.get('alphabet')}', not smiles", path=str(path))
        order = sorted(spec["vocab"], key=spec["vocab"].get)
        tok = cls(order[len(SPECIAL_TOKENS):], spec.get("unknown", "map-to-unk"))
        if tok.vocab != spec["vocab"]:
            raise InputError("SMILES vocabulary is malformed (specials first, '*' last)", path=str(path))
        return tok


@cache
def canonical_smiles(smiles: str) -> str:
    """RDKit's canonical SMILES (one spelling per molecule), or the input when RDKit cannot parse it.
    Used to compare molecules, e.g. to keep test molecules out of a pretraining corpus however written."""
    from ...extras import require
    require("rdkit", "canonical SMILES")
    from rdkit import Chem, rdBase
    rdBase.DisableLog("rdApp.*")  # the function RDLogger.DisableLog re-exports (rdkit's stubs omit that one)
    mol = Chem.MolFromSmiles(smiles)
    return smiles if mol is None else Chem.MolToSmiles(mol)
