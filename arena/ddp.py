"""``--nproc N``: data-parallel training through torchrun (the process side of nets/distributed.py).

``arena supervised <model> --nproc N`` starts itself again under torchrun
(``python -m torch.distributed.run --standalone --nproc-per-node N -m arena.cli <same arguments>``);
each of the N processes finds torchrun's environment (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``...), joins the process group (gloo for CPU tensors, NCCL for CUDA ones, one
GPU per local rank) and runs the same command; ``nets.train.fit`` then trains each on a shard of
every batch. Rank 0 writes the run folder; the other ranks write to a temporary folder that is
removed. Several machines: run ``torchrun --nnodes ... --rdzv-endpoint HOST:PORT -m arena.cli
supervised <model> --nproc N`` on each yourself; a process already under torchrun only joins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

import torch
import torch.distributed as dist


def under_torchrun() -> bool:
    """True in a process that torchrun (or another launcher with its environment) started."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(nproc: int, argv: Sequence[str] | None = None) -> int:
    """Run ``arena <argv>`` (default: this command's arguments) in ``nproc`` processes under
    torchrun on this machine; returns torchrun's exit status."""
    argv = without_nproc(sys.argv[1:] if argv is None else argv)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "arena.cli", *argv]
    return subprocess.run(cmd, check=False).returncode


def without_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` less its ``--nproc N`` (any spelling): torchrun's own parser would take
    ``--nproc`` for an abbreviation of its ``--nproc-per-node`` and stop, and the processes it
    starts learn their number from its environment anyway."""
    out, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif name in ("--nproc", "--common.nproc"):
            skip = "=" not in arg
        else:
            out.append(arg)
    return out


def init_from_env() -> tuple[int, int]:
    """Join the process group torchrun describes (idempotent); returns ``(rank, world_size)``.

    CPU tensors go through gloo and CUDA tensors through NCCL (one process group serves both);
    each process takes the GPU of its local rank when there are GPUs.
    """
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
            dist.init_process_group(backend="cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group(backend="gloo")
    return dist.get_rank(), dist.get_world_size()


def shutdown() -> None:
    """Leave the process group (after the last collective call)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
