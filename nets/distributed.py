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

Batch norm is the one layer whose forward pass mixes the rows of a batch: ``data_parallel``
swaps it for a synchronized one (torch's SyncBatchNorm on CUDA, :class:`GlobalBatchNorm` on
the CPU, where torch has none), so N processes normalize with the statistics of the whole
global batch, exactly as one process would.
"""

from __future__ import annotations

from typing import Any

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


class _SumOverProcesses(torch.autograd.Function):
    """``all_reduce(SUM)`` that autograd can go through: the gradient of a sum over the
    processes is the sum of every process's gradient of it."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG004 (no state to keep)
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the rows of all processes' shards together (any input rank, any
    device; gloo on the CPU), with the parameters and buffers of ``nn.BatchNorm*d``.

    In training each process sums its shard's per-channel count, sum and sum of squares; one
    differentiable all-reduce makes them global, so the normalization, the running statistics
    and (through autograd) the gradients equal one process's on the whole batch. Outside
    training, or without a process group, it is plain batch norm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects [N, C, ...] input, got shape {tuple(input.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and process_rank()[1] > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        count = torch.full((1,), x.numel() / x.shape[1], dtype=x.dtype, device=x.device)
        stats = _SumOverProcesses.apply(torch.cat([count, x.sum(dims), (x * x).sum(dims)]))
        n, total, squares = stats[0], stats[1:1 + x.shape[1]], stats[1 + x.shape[1]:]
        mean = total / n
        var = (squares / n - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean, momentum)
                self.running_var.lerp_(var * n / (n - 1).clamp_min(1), momentum)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def global_batch_norm(model: nn.Module) -> nn.Module:
    """``model`` with every batch norm layer replaced in place by a :class:`GlobalBatchNorm`
    that holds the same parameter and statistics tensors (state-dict keys unchanged)."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GlobalBatchNorm):
            sync = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                   child.track_running_stats)
            for key, value in [*child.named_parameters(recurse=False), *child.named_buffers(recurse=False)]:
                setattr(sync, key, value)  # the very tensors: an optimizer made before keeps working
            sync.train(child.training)
            setattr(model, name, sync)
        else:
            global_batch_norm(child)
    return model


def data_parallel(model: nn.Module, device: torch.device, sync_batch_norm: bool = True) -> nn.Module:
    """``model`` wrapped for data parallelism when a process group is up (else ``model``).

    The wrapper broadcasts rank 0's weights and buffers at once, so every process starts from
    the same model. With ``sync_batch_norm`` the batch norms are synchronized first (in place,
    so the bare ``model`` holds them too): SyncBatchNorm on CUDA, :class:`GlobalBatchNorm` on
    the CPU; each then normalizes with the global batch's statistics, so N processes train as
    one. That costs two waits on the other processes per layer and step (on 2 CPU cores with
    gloo, ~2 ms each: a 2x32 ResNet step went from 13 to 40 ms); without it each process
    normalizes with its shard's statistics (DDP's default) and the running statistics are
    rank 0's.
    """
    if process_rank()[1] == 1:
        return model
    if device.type == "cuda":
        if sync_batch_norm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        index = device.index if device.index is not None else torch.cuda.current_device()
        return DataParallel(model, device_ids=[index])
    return DataParallel(global_batch_norm(model) if sync_batch_norm else model)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a data-parallel wrapper (itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def shard_size(n: int, rank: int, world: int) -> int:
    """Rows of an ``n``-row global batch that rank ``rank`` holds (``tensor_split``'s sizes)."""
    return n // world + (rank < n % world)


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
