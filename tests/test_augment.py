import torch

from seqssl.augment import mask_tokens
from seqssl.data.collate import pad_batch
from seqssl.data.tokenizers import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SequenceTokenizer


def _batch():
    tok = SequenceTokenizer()
    encs = [tok.encode("CASSLGQAYEQYF", "KAYNVTQAF"), tok.encode("CAS"), tok.encode("CASSPDRGNTIYF", "HTTDPSFLGRY")]
    return pad_batch([e.input_ids for e in encs], [e.token_type_ids for e in encs])["input_ids"]


def test_masks_exactly_k_residues_and_never_specials_or_padding():
    ids = _batch()
    gen = torch.Generator().manual_seed(0)
    for k in (1, 2, 3):
        for _ in range(200):
            view = mask_tokens(ids, k=k, generator=gen)
            changed = view != ids
            assert (view[changed] == MASK_ID).all()
            assert changed.sum(1).tolist() == [k, k, k]
            special = (ids == CLS_ID) | (ids == SEP_ID) | (ids == PAD_ID)
            assert not changed[special].any()


def test_k_larger_than_sequence_masks_every_residue():
    ids = _batch()
    view = mask_tokens(ids, k=10, generator=torch.Generator().manual_seed(1))
    assert (view[1] == MASK_ID).sum() == 3  # "CAS" has 3 residues


def test_rate_mode_masks_rounded_fraction_at_least_one():
    ids = _batch()
    view = mask_tokens(ids, rate=0.2, generator=torch.Generator().manual_seed(2))
    n_res = (ids >= 5).sum(1)
    expected = torch.clamp(torch.round(n_res.float() * 0.2).long(), min=1)
    assert ((view == MASK_ID).sum(1) == expected).all()


def test_views_are_seeded():
    ids = _batch()
    a = mask_tokens(ids, 2, generator=torch.Generator().manual_seed(5))
    b = mask_tokens(ids, 2, generator=torch.Generator().manual_seed(5))
    c = mask_tokens(ids, 2, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
