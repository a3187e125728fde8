"""Data-parallel pretraining on PyTorch's own engine: ``torchrun --nproc_per_node N -m seqssl pretrain ...``.

Every rank draws the same global batch (same seed, same order) and makes the same views, then embeds
only its own contiguous block of rows. Contrastive objectives gather the embeddings of all ranks with an
autograd-aware all_gather, so each rank computes the loss over the whole global batch, negatives from
every rank included; :class:`~torch.nn.parallel.DistributedDataParallel` averages the parameter gradients.
The result equals one process on the global batch (tested on gloo). gloo on CPU, NCCL on GPU.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import InputError


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside ``torchrun``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes in the environment (no-op otherwise)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return world()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return world()


def finish() -> None:
    """Leave the process group (after rank 0 has written everything)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def local_block(batch: dict, n_rows: int | None = None) -> dict:
    """This rank's contiguous block of the rows of every tensor in ``batch`` (nested dicts too)."""
    rank, size = world()
    if size == 1:
        return batch
    out = {}
    for key, value in batch.items():
        if isinstance(value, dict):
            out[key] = local_block(value)
            continue
        rows = value.shape[0]
        if rows % size:
            raise InputError(f"a batch of {rows} rows does not split over {size} processes",
                             fix=f"use a --batch-size divisible by {size}")
        per = rows // size
        out[key] = value[rank * per:(rank + 1) * per]
    return out


class _GatherWithGradient(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for the local rows (a plain all_gather
    would drop the gradients that other ranks' losses send to this rank's embeddings)."""

    @staticmethod
    def forward(ctx, x):
        pieces = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(pieces, x.contiguous())
        ctx.rows = x.shape[0]
        return torch.cat(pieces)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        rank = dist.get_rank()
        return grad[rank * ctx.rows:(rank + 1) * ctx.rows]


def gather_with_gradient(x: torch.Tensor) -> torch.Tensor:
    return _GatherWithGradient.apply(x) if world()[1] > 1 else x
