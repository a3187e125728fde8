"""SMILES: regex tokenisation, the fitted vocabulary and its Hugging Face export, randomised SMILES as
contrastive positives, and `seqssl pretrain --alphabet smiles` end to end, on real MOSES molecules."""
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from conftest import run_cli
from seqssl.augment import randomized_smiles
from seqssl.data.builtin import builtin_path
from seqssl.data.dataset import EncodedDataset
from seqssl.data.tokenizers import SPECIAL_TOKENS, UNK_ID, SequenceTokenizer, drawable_residues
from seqssl.data.tokenizers.smiles import BASE_TOKENS, SmilesTokenizer, tokenize_smiles
from seqssl.errors import InputError
from seqssl.positives import pretraining_batches


@pytest.fixture(scope="module")
def moses() -> list[str]:
    """The first 2,000 SMILES of the bundled MOSES sample."""
    return pd.read_csv(builtin_path("moses"), nrows=2000)["SMILES"].tolist()


@pytest.fixture(scope="module")
def tok(moses) -> SmilesTokenizer:
    return SmilesTokenizer.fit(moses)


def canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_round_trip_on_moses(moses, tok):
    for s in moses:
        assert "".join(tokenize_smiles(s)) == s
        assert tok.decode(tok.encode(s).input_ids) == s
    assert not any((tok.encode(s).input_ids == UNK_ID).any() for s in moses)


def test_hand_checked_tokenisations():
    assert tokenize_smiles("C[C@@H](Br)c1ccc(Cl)cc1") == [
        "C", "[C@@H]", "(", "Br", ")", "c", "1", "c", "c", "c", "(", "Cl", ")", "c", "c", "1"]
    assert tokenize_smiles("C%12CC%12") == ["C", "%12", "C", "C", "%12"]
    assert tokenize_smiles("c1cc[nH]c1") == ["c", "1", "c", "c", "[nH]", "c", "1"]
    assert tokenize_smiles("C[N+](=O)[O-]") == ["C", "[N+]", "(", "=", "O", ")", "[O-]"]
    assert tokenize_smiles("F/C=C\\F.[Na+]") == ["F", "/", "C", "=", "C", "\\", "F", ".", "[Na+]"]
    assert tokenize_smiles("BrCBCCl") == ["Br", "C", "B", "C", "Cl"]
    assert tokenize_smiles("C#N") == ["C", "#", "N"] and tokenize_smiles("*C") == ["*", "C"]


def test_illegal_character_is_named_with_its_position():
    with pytest.raises(InputError, match=r"character '!' at position 2") as err:
        tokenize_smiles("C!C", where={"path": "mols.csv", "line": 7, "column": "SMILES"})
    assert "mols.csv" in str(err.value) and "line 7" in str(err.value) and "'SMILES'" in str(err.value)
    with pytest.raises(InputError, match="character 'X'"):
        SmilesTokenizer().encode("CCX")


def test_vocabulary_layout_and_unknown_policy(moses):
    tok = SmilesTokenizer.fit(moses + ["C[Fe]C", "C[Fe]C", "C[Pt]C"], min_frequency=2)
    assert list(tok.vocab)[:5] == SPECIAL_TOKENS and list(tok.vocab)[5:5 + len(BASE_TOKENS)] == list(BASE_TOKENS)
    assert "[Fe]" in tok.vocab and "[Pt]" not in tok.vocab  # seen twice vs once
    assert list(tok.vocab)[-1] == "*"  # the reserved last token, never drawn by augmentations
    assert drawable_residues(tok.vocab_size) == tok.vocab_size - 6
    assert SmilesTokenizer.fit(reversed(moses)).vocab == SmilesTokenizer.fit(moses).vocab
    assert tok.encode("C[Pt]C").input_ids.tolist() == [2, tok.vocab["C"], UNK_ID, tok.vocab["C"], 3]
    strict = SmilesTokenizer(list(tok.residues), unknown="error")
    with pytest.raises(InputError, match=r"token '\[Pt\]'"):
        strict.encode("C[Pt]C")
    with pytest.raises(InputError, match="fitted on a corpus"):
        SequenceTokenizer("smiles")


def test_hf_tokenizer_gives_identical_ids(moses, tok, tmp_path):
    from transformers import AutoTokenizer
    tok.save(tmp_path / "tok")
    assert json.loads((tmp_path / "tok" / "seqssl_tokenizer.json").read_text())["alphabet"] == "smiles"
    loaded = SequenceTokenizer.load(tmp_path / "tok")
    assert isinstance(loaded, SmilesTokenizer) and loaded.vocab == tok.vocab
    for hf in (tok.to_hf(), AutoTokenizer.from_pretrained(str(tmp_path / "tok"))):
        for a, b in zip(moses[:300], moses[300:600]):
            assert hf(a)["input_ids"] == tok.encode(a).input_ids.tolist()
            pair = hf(a, b)
            enc = tok.encode(a, b)
            assert pair["input_ids"] == enc.input_ids.tolist()
            assert pair["token_type_ids"] == enc.token_type_ids.tolist()
        assert hf("C[Pt]C")["input_ids"] == tok.encode("C[Pt]C").input_ids.tolist()  # [UNK] on both sides


def test_randomized_smiles_is_seeded_and_keeps_the_molecule(moses):
    s = "CC(C)(C)c1cc(CN2CCOCC2)cc(C)c1O"
    draws = {randomized_smiles(s, np.random.default_rng(seed)) for seed in range(10)}
    assert len(draws) >= 5
    assert randomized_smiles(s, np.random.default_rng(3)) == randomized_smiles(s, np.random.default_rng(3))
    rng = np.random.default_rng(0)
    changed = 0
    for m in moses[:200]:
        r = randomized_smiles(m, rng)
        assert canonical(r) == canonical(m)
        changed += r != m
    assert changed >= 180
    assert randomized_smiles("C1CC", rng) == "C1CC"  # unparsable (unclosed ring): unchanged


def _smiles_cfg(batch_size=32):
    return SimpleNamespace(positives="smiles", batch_size=batch_size)


def test_smiles_positives_are_the_same_molecule_written_differently(moses, tok):
    data = EncodedDataset([tok.encode(s).input_ids for s in moses[:96]],
                          [tok.encode(s).token_type_ids for s in moses[:96]])
    batches = list(pretraining_batches(data, _smiles_cfg(), np.random.default_rng(0), drop_last=True,
                                       tokenizer=tok, max_length=64))
    assert len(batches) == 3
    seen, differ = set(), 0
    for batch in batches:
        for first, second in zip(batch["input_ids"], batch["pair"]["input_ids"]):
            a, b = tok.decode(first), tok.decode(second)
            assert canonical(a) == canonical(b)
            seen.add(canonical(a))
            differ += a != b
    assert len(seen) == 96 and differ >= 0.8 * 96
    again = list(pretraining_batches(data, _smiles_cfg(), np.random.default_rng(0), drop_last=True,
                                     tokenizer=tok, max_length=64))
    assert all((x["pair"]["input_ids"] == y["pair"]["input_ids"]).all() for x, y in zip(batches, again))
    # a view that does not fit falls back to the original tokens
    short = list(pretraining_batches(data, _smiles_cfg(), np.random.default_rng(0), tokenizer=tok, max_length=3))
    assert all((b["pair"]["input_ids"] == b["input_ids"]).all() for b in short)


def test_smiles_positives_refuse_other_tokenizers():
    data = EncodedDataset([SequenceTokenizer().encode("CASS").input_ids], [np.zeros(6, dtype=np.int64)])
    with pytest.raises(InputError, match="--alphabet smiles"):
        next(pretraining_batches(data, _smiles_cfg(1), np.random.default_rng(0), tokenizer=SequenceTokenizer()))


@pytest.fixture(scope="module")
def smiles_csv(tmp_path_factory, moses):
    path = tmp_path_factory.mktemp("mol") / "mols.csv"
    pd.DataFrame({"SMILES": moses[:300]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("objective,extra", [("mlm", []), ("simclr", ["--positives", "smiles"])])
def test_cli_pretrain_on_smiles_loads_with_transformers(objective, extra, smiles_csv, moses, tmp_path):
    from transformers import AutoModel, AutoTokenizer
    out = tmp_path / objective
    code = run_cli(["pretrain", "--data", str(smiles_csv), "--columns", "SMILES", "--alphabet", "smiles",
                    "--objective", objective, *extra, "--max-steps", "3", "--batch-size", "32", "--device", "cpu",
                    "--out", str(out), "--quiet"])
    assert code == 0
    assert json.loads((out / "seqssl.json").read_text())["alphabet"] == "smiles"
    ours = SequenceTokenizer.load(out)
    hf = AutoTokenizer.from_pretrained(str(out))
    model = AutoModel.from_pretrained(str(out))
    assert model.config.vocab_size == ours.vocab_size
    for s in moses[:50]:
        assert hf(s)["input_ids"] == ours.encode(s).input_ids.tolist()
    assert model(**hf(moses[:4], padding=True, return_tensors="pt")).last_hidden_state.shape[0] == 4
    history = pd.read_csv(out / "pretrain_history.csv")
    assert history["step"].iloc[-1] == 3 and np.isfinite(history["loss"]).all()


def test_labelled_smiles_fit_on_sequences_and_case_sensitive_corpus(moses, tmp_path):
    from seqssl.api import encoder_for, labelled_table
    from seqssl.config import load_config
    from seqssl.data.corpus import load_corpus
    frame = pd.DataFrame({"smiles": moses[:40] + ["C[Fe]C"], "label": [i % 2 for i in range(41)]})
    frame.to_csv(tmp_path / "lab.csv", index=False)
    cfg = load_config(overrides={"data": {"path": str(tmp_path / "lab.csv"), "columns": ["smiles"],
                                          "label_column": "label", "task": "classification", "alphabet": "smiles"},
                                 "finetune": {"encoder": "none"}})
    _, _, encoded, tok = labelled_table(cfg)
    assert isinstance(tok, SmilesTokenizer) and "[Fe]" in tok.vocab and tok.decode(encoded.input_ids[-1]) == "C[Fe]C"
    encoder, tok2 = encoder_for(cfg)
    assert tok2.vocab == tok.vocab and encoder.backbone.config.vocab_size == tok.vocab_size
    # benzene and cyclohexane differ only in case: a SMILES corpus keeps both
    pd.DataFrame({"smiles": ["c1ccccc1", "C1CCCCC1", "c1ccccc1"]}).to_csv(tmp_path / "c.csv", index=False)
    corpus = load_corpus(str(tmp_path / "c.csv"), ["smiles"], tok, 64).deduplicated()
    assert [r[0] for r in corpus.rows] == ["c1ccccc1", "C1CCCCC1"]
