"""Data parallelism with torch.distributed: every process holds the whole model and trains on
its shard of each batch; DistributedDataParallel averages the gradients, so N processes take
the same optimizer step as one process on the whole batch.

These helpers only use a process group that someone else started (arena/ddp.py does, from
torchrun's environment); without one they are no-ops, so the single-process path is the
same code:

    rank, world = process_rank()
    model = data_parallel(model, device)          # DDP when a group is up, else the model
    part, weight = shard(batch, rank, world)      # this process's rows of the global batch
    (loss_fn(model, part) * weight).backward()    # weight makes the averaged gradient exact
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def process_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class DataParallel(DistributedDataParallel):
    """DistributedDataParallel that also answers the wrapped model's own attributes (``cfg``,
    submodules...), so loss functions written for the bare model run unchanged on it. Call
    the wrapper itself for the forward pass: that is the call whose gradients get averaged."""

    def __getattr__(self, name: str):  # noqa: ANN204 (whatever the model holds)
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped for data parallelism when a process group is up (else ``model``).

    The wrapper broadcasts rank 0's weights and buffers at once, so every process starts from
    the same model. On CUDA, batch norms become SyncBatchNorm (statistics over the global
    batch); on the CPU (gloo) torch has no SyncBatchNorm, so each process normalizes with its
    shard's statistics: the same as one process only for models without batch norm.
    """
    if process_rank()[1] == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        index = device.index if device.index is not None else torch.cuda.current_device()
        return DataParallel(model, device_ids=[index])
    return DataParallel(model)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a data-parallel wrapper (itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard(batch: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[tuple[torch.Tensor, ...], float]:
    """Rank ``rank``'s contiguous rows of ``batch`` and the weight of its mean loss.

    With shard sizes n_r of a global batch of N rows, ``weight = n_r * world / N``: DDP averages
    the gradients over the ``world`` processes, so sum_r (n_r / N) grad(mean loss on shard r)
    = grad(mean loss on the whole batch), also when N does not divide evenly. A process whose
    shard would be empty (N < world) gets one row and weight 0, so it still joins the
    gradient average.
    """
    if world == 1:
        return batch, 1.0
    n = len(batch[0])
    part = tuple(t.tensor_split(world)[rank] for t in batch)
    if len(part[0]) == 0:
        return tuple(t[:1] for t in batch), 0.0
    return part, len(part[0]) * world / n


def all_reduce_sum(values: list[float], device: torch.device | None = None) -> list[float]:
    """``values`` summed over all processes (unchanged without a process group)."""
    if process_rank()[1] == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()
