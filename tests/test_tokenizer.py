import numpy as np
import pytest

from seqssl.data.tokenizers import CLS_ID, SEP_ID, SequenceTokenizer
from seqssl.errors import InputError


def test_round_trip_on_bundled_sequences(binding_frame):
    tok = SequenceTokenizer()
    for seq in binding_frame["cdr3_b_aa"].iloc[:500]:
        assert tok.decode(tok.encode(seq).input_ids) == seq


def test_pair_layout_and_segments():
    tok = SequenceTokenizer()
    enc = tok.encode("CAS", "KA")
    assert enc.input_ids[0] == CLS_ID and enc.input_ids[4] == SEP_ID and enc.input_ids[-1] == SEP_ID
    assert enc.token_type_ids.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert len(enc.input_ids) == 3 + 2 + 3


def test_lowercase_is_accepted():
    tok = SequenceTokenizer()
    assert np.array_equal(tok.encode("cass").input_ids, tok.encode("CASS").input_ids)


def test_unknown_residue_error_and_map_to_x():
    with pytest.raises(InputError, match="residue 'B'"):
        SequenceTokenizer().encode("CASB")
    tok = SequenceTokenizer(unknown="map-to-x")
    assert tok.decode(tok.encode("CAB*").input_ids) == "CAXX"


def test_huggingface_export_gives_identical_ids(tmp_path):
    from transformers import AutoTokenizer
    tok = SequenceTokenizer()
    tok.save(tmp_path)
    hf = AutoTokenizer.from_pretrained(str(tmp_path))
    for a, b in [("CASSLGQAYEQYF", "KAYNVTQAF"), ("CAW", None)]:
        ours = tok.encode(a, b)
        theirs = hf(a, b, return_token_type_ids=True) if b else hf(a, return_token_type_ids=True)
        assert theirs["input_ids"] == ours.input_ids.tolist()
        assert theirs["token_type_ids"] == ours.token_type_ids.tolist()
    assert SequenceTokenizer.load(tmp_path).vocab == tok.vocab
