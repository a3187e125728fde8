"""Speed without changed results: token-bounded batches (pretrain.max_tokens), scaled-dot-product attention,
ESM's fused GELU and the fused AdamW kernel."""
import dataclasses
import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from seqssl.config import Config, ModelConfig
from seqssl.data.collate import token_batches
from seqssl.data.dataset import EncodedDataset
from seqssl.data.tokenizers.vocab import CLS_ID, PAD_ID, SEP_ID
from seqssl.errors import InputError
from seqssl.models.encoder import SequenceEncoder
from seqssl.objectives import build_objective
from seqssl.positives import pretraining_batches
from seqssl.train.loop import count_steps, run_pretraining

VOCAB = 25


def _lengths(n=500, seed=0, longest=200):
    return np.random.default_rng(seed).integers(12, longest, n)


def _dataset(lengths, seed=0):
    rng = np.random.default_rng(seed)
    ids = [np.concatenate([[CLS_ID], rng.integers(5, VOCAB, n - 2), [SEP_ID]]).astype(np.int64) for n in lengths]
    return EncodedDataset(ids, [np.zeros(len(x), dtype=np.int64) for x in ids])


@pytest.mark.parametrize("max_tokens,max_rows", [(800, 256), (2000, 16), (199, 8)])
def test_token_batches_stay_within_the_bounds_and_hold_every_example_once(max_tokens, max_rows):
    lengths = _lengths()
    batches = token_batches(lengths, max_tokens, max_rows, np.random.default_rng(1))
    for batch in batches:
        assert len(batch) * lengths[batch].max() <= max_tokens and 1 <= len(batch) <= max_rows
    seen = np.concatenate(batches)
    assert np.array_equal(np.sort(seen), np.arange(len(lengths)))
    if max_tokens == 800:  # short rows fill a batch with many, long ones with few
        rows = {int(lengths[b].max()) // 100: len(b) for b in batches}
        assert rows[0] > rows[1]


def test_token_batches_are_a_pure_function_of_the_generator_state():
    lengths = _lengths()
    first = token_batches(lengths, 1000, 64, np.random.default_rng(7))
    again = token_batches(lengths, 1000, 64, np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(first, again)) and len(first) == len(again)
    rng = np.random.default_rng(7)
    token_batches(lengths, 1000, 64, rng)
    second_epoch = token_batches(lengths, 1000, 64, rng)
    assert [list(b) for b in second_epoch] != [list(b) for b in first]  # a new order every epoch
    ordered = token_batches(lengths[:100], 1000, 64, None)  # no generator: in order, sorted in its one window
    assert np.array_equal(np.concatenate(ordered), np.argsort(lengths[:100], kind="stable"))


def test_drop_last_drops_only_batches_cut_short_by_their_window():
    lengths = _lengths(n=301)
    kept = token_batches(lengths, 1500, 512, np.random.default_rng(2), bucket_batches=3)
    full = token_batches(lengths, 1500, 512, np.random.default_rng(2), bucket_batches=3, drop_last=True)
    as_set = lambda batches: {tuple(b) for b in batches}  # noqa: E731
    assert as_set(full) < as_set(kept)  # the same batches, less some
    windows = math.ceil(len(lengths) / (3 * (1500 // int(lengths.mean()))))
    assert 0 < len(kept) - len(full) <= windows  # at most one per window: its tail


def test_rows_are_a_multiple_of_the_processes_under_torchrun():
    lengths = _lengths()
    batches = token_batches(lengths, 1200, 64, np.random.default_rng(3), row_multiple=4)
    assert all(len(b) % 4 == 0 and len(b) * lengths[b].max() <= 1200 for b in batches)
    windows = math.ceil(len(lengths) / (50 * (1200 // int(lengths.mean()))))
    assert len(lengths) - len(np.concatenate(batches)) < 4 * windows


def test_a_bound_below_the_longest_input_is_an_input_error():
    with pytest.raises(InputError, match="below one row of the longest input"):
        token_batches(np.array([10, 300]), 200, 64, np.random.default_rng(0))


def _pretrain_cfg(**changes):
    cfg = Config()
    cfg.model = ModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_length=256)
    settings = {"objective": "mlm", "batch_size": 256, "max_tokens": 800, "epochs": 2, "max_steps": None, **changes}
    cfg.pretrain = dataclasses.replace(cfg.pretrain, **settings)
    return cfg


def _objective(cfg):
    torch.manual_seed(0)
    return build_objective("mlm", SequenceEncoder.build(cfg.model, VOCAB), cfg.pretrain, VOCAB)


def test_the_loop_counts_and_trains_on_token_bounded_batches():
    cfg = _pretrain_cfg()
    data = _dataset(_lengths(n=120, longest=100))
    objective = _objective(cfg)
    widths = []
    objective.encoder.backbone.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["attention_mask"].numel()), with_kwargs=True)
    history = run_pretraining(objective, data, cfg.pretrain, device=torch.device("cpu"), progress=False)
    total = count_steps(objective, len(data), cfg.pretrain, None, 0, data.lengths())
    assert history[-1]["step"] == total == len(widths)
    assert max(widths) <= 800 and total > 2 * math.ceil(120 / 256)  # more steps than row batches of 256
    with pytest.raises(InputError, match="positives=label builds its batches"):
        next(pretraining_batches(data, dataclasses.replace(cfg.pretrain, positives="label"),
                                 np.random.default_rng(0), groups=np.zeros(len(data), dtype=np.int64)))


def test_a_token_bounded_run_resumes_bit_for_bit_mid_epoch(tmp_path):
    cfg = _pretrain_cfg(checkpoint_every=3)
    data = _dataset(_lengths(n=100, longest=100))

    def train(out, resume=False):
        objective = _objective(cfg)
        run_pretraining(objective, data, cfg.pretrain, device=torch.device("cpu"), progress=False,
                        checkpoint_dir=out / "checkpoints", resume=resume)
        return {k: v.clone() for k, v in objective.state_dict().items()}

    reference = train(tmp_path / "ref")
    rolled = tmp_path / "rolled"
    train(rolled)
    checkpoints = sorted(p.name for p in (rolled / "checkpoints").iterdir() if p.name.startswith("step-"))
    per_epoch = count_steps(_objective(cfg), len(data), dataclasses.replace(cfg.pretrain, epochs=1), None, 0,
                            data.lengths())
    back = next(name for name in checkpoints if int(name.split("-")[1]) > per_epoch)  # inside the 2nd epoch
    assert int(back.split("-")[1]) % per_epoch
    for name in checkpoints:
        if name > back:
            shutil.rmtree(rolled / "checkpoints" / name)
    (rolled / "checkpoints" / "LATEST").write_text(back)
    assert load_file(str(rolled / "checkpoints" / back / "model.safetensors"))
    resumed = train(rolled, resume=True)
    for name, value in reference.items():
        assert torch.equal(value, resumed[name]), name


@pytest.mark.parametrize("architecture", ["bert", "esm"])
def test_sdpa_attention_gives_the_eager_outputs_and_gradients_with_padding(architecture):
    cfg = ModelConfig(architecture=architecture, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                      max_length=64, attention="eager")
    assert ModelConfig().attention == "sdpa"  # the default
    torch.manual_seed(0)
    eager = SequenceEncoder.build(cfg, VOCAB)
    sdpa = SequenceEncoder.build(dataclasses.replace(cfg, attention="sdpa"), VOCAB)
    sdpa.load_state_dict(eager.state_dict())
    assert sdpa.backbone.config._attn_implementation == "sdpa"
    ids = torch.randint(5, VOCAB, (5, 20), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    for row, length in enumerate([20, 13, 4, 20, 9]):
        mask[row, length:] = 0
    ids[mask == 0] = PAD_ID
    a, b = eager.token_states(ids, mask), sdpa.token_states(ids, mask)
    real = mask.bool()
    assert torch.allclose(a[real], b[real], atol=1e-5)
    (a[real] ** 2).mean().backward()
    (b[real] ** 2).mean().backward()
    for (name, p), q in zip(eager.named_parameters(), sdpa.parameters()):
        if p.grad is not None:
            assert torch.allclose(p.grad, q.grad, atol=1e-5, rtol=1e-4), name


def test_esm_feed_forward_uses_the_fused_gelu_with_the_same_outputs():
    from transformers import AutoModel
    from transformers.models.esm.modeling_esm import EsmIntermediate

    from seqssl.models.encoder import transformers_config
    from seqssl.models.kernels import FusedGeluEsmIntermediate
    cfg = ModelConfig(architecture="esm", hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                      max_length=64)
    torch.manual_seed(0)
    stock = AutoModel.from_config(transformers_config(cfg, VOCAB), add_pooling_layer=False)
    encoder = SequenceEncoder.build(cfg, VOCAB)
    encoder.backbone.load_state_dict(stock.state_dict())
    intermediates = [m for m in encoder.backbone.modules() if isinstance(m, EsmIntermediate)]
    assert intermediates and all(type(m) is FusedGeluEsmIntermediate for m in intermediates)
    assert encoder.backbone.state_dict().keys() == stock.state_dict().keys()
    ids = torch.randint(5, VOCAB, (3, 30), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    expected = stock(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(encoder.token_states(ids, mask), expected, atol=1e-5)


def _adamw_reference(params, grads, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
    """Decoupled weight decay Adam (Loshchilov & Hutter 2019, alg. 2) in NumPy float64: ``params`` (name →
    array, decayed when 2-D or more), ``grads`` one dict of the same per step."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    for t, step in enumerate(grads, start=1):
        for k, g in step.items():
            m[k] = betas[0] * m[k] + (1 - betas[0]) * g
            v2[k] = betas[1] * v2[k] + (1 - betas[1]) * g * g
            decay = weight_decay if p[k].ndim >= 2 else 0.0  # no decay on biases and norms
            p[k] = p[k] * (1 - lr * decay) - lr * (m[k] / (1 - betas[0] ** t)) / (
                np.sqrt(v2[k] / (1 - betas[1] ** t)) + eps)
    return p


def test_the_fused_adamw_kernel_takes_the_steps_of_the_for_loop_adamw_and_of_the_formula(monkeypatch):
    """build_optimizer's AdamW is the fused kernel on the CPU; six steps of it on fixed gradients leave the
    weights of the for-loop (``foreach=False``) AdamW with the same groups, and of a NumPy AdamW, within 1e-6
    (float32 rounding; each step moves a weight by ~lr = 0.05)."""
    from seqssl.train import optim
    cfg = dataclasses.replace(Config().pretrain, lr=0.05, weight_decay=0.1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 3))
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    rng = np.random.default_rng(0)
    grads = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(6)]

    def run(make_optimizer):
        with torch.no_grad():
            for k, p in model.named_parameters():
                p.copy_(start[k])
        optimizer = make_optimizer(model.parameters())
        for step in grads:
            for k, p in model.named_parameters():
                p.grad = torch.tensor(step[k], dtype=p.dtype)
            optimizer.step()
        return optimizer, {k: v.detach().clone() for k, v in model.named_parameters()}

    fused_optimizer, fused = run(lambda params: optim.build_optimizer(params, cfg))
    assert fused_optimizer.defaults["fused"] is True
    monkeypatch.setattr(optim, "adamw_kernel", lambda params: {"foreach": False, "fused": False})  # same groups
    loop_optimizer, loop = run(lambda params: optim.build_optimizer(params, cfg))
    assert not loop_optimizer.defaults["fused"] and not loop_optimizer.defaults["foreach"]
    reference = _adamw_reference({k: v.numpy() for k, v in start.items()}, grads, cfg.lr, cfg.weight_decay)
    for k in start:
        assert (fused[k] - start[k]).abs().max() > 0.1  # the steps moved every tensor
        torch.testing.assert_close(fused[k], loop[k], atol=1e-6, rtol=0)
        np.testing.assert_allclose(fused[k].numpy(), reference[k], atol=1e-6, rtol=0)


def _pretraining_run(compile_backbone: bool):
    """Four MLM steps of a tiny encoder from one seed: the loss history and the objective's weights."""
    cfg = _pretrain_cfg(compile=compile_backbone, max_steps=4, max_tokens=None, batch_size=8)
    objective = _objective(cfg)
    keys = set(objective.state_dict())
    history = run_pretraining(objective, _dataset(_lengths(n=40, longest=30)), cfg.pretrain,
                              device=torch.device("cpu"), progress=False)
    assert set(objective.state_dict()) == keys  # compiling renames no weight: checkpoints are unaffected
    compiled = objective.encoder.backbone._compiled_call_impl is not None
    assert compiled == compile_backbone
    return [r["loss"] for r in history], {k: v.detach().clone() for k, v in objective.state_dict().items()}


@pytest.fixture
def fresh_dynamo():
    """No compiled frame carried into or out of the test."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _check_same_run(compiled, eager, rtol):
    (compiled_losses, compiled_weights), (eager_losses, eager_weights) = compiled, eager
    assert len(compiled_losses) == len(eager_losses) == 4
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=rtol, atol=0)
    for name, value in eager_weights.items():
        torch.testing.assert_close(compiled_weights[name], value, rtol=rtol, atol=1e-6)


def test_a_compiled_run_has_the_loss_history_and_weights_of_an_eager_run(monkeypatch, fresh_dynamo):
    """pretrain.compile: the backbone traced by TorchDynamo (its "eager" backend here: the graph capture in a
    few seconds; the inductor code generation takes ~45 s on a CPU, in the slow test below) trains as the
    eager module does: the same loss history (rtol 1e-5) and weights."""
    from torch._dynamo.utils import counters
    real = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile",
                        lambda self, *args, **kwargs: real(self, *args, **{**kwargs, "backend": "eager"}))
    eager = _pretraining_run(False)
    counters.clear()
    compiled = _pretraining_run(True)
    assert counters["stats"]["unique_graphs"] >= 1  # the traced graph is what ran
    _check_same_run(compiled, eager, rtol=1e-5)


@pytest.mark.slow
def test_an_inductor_compiled_run_has_the_loss_history_and_weights_of_an_eager_run(fresh_dynamo):
    """As above with torch.compile's default (inductor) backend, as a run with pretrain.compile gets it; its
    generated kernels may order float sums otherwise: rtol 1e-4."""
    _check_same_run(_pretraining_run(True), _pretraining_run(False), rtol=1e-4)


def test_an_epochs_order_is_the_permutation_it_was_in_half_the_memory():
    """int32 rows, the order Generator.permutation(n) draws (so runs, resumes included, shuffle as before)."""
    from seqssl.data.collate import epoch_order
    for n in (1, 7, 100_003):
        order = epoch_order(n, np.random.default_rng(3))
        assert order.dtype == np.int32 and np.array_equal(order, np.random.default_rng(3).permutation(n))
    assert np.array_equal(epoch_order(5, None), np.arange(5))
