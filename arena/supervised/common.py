"""What every ``arena supervised`` script shares: common flags and the epoch progress bar."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from tqdm import tqdm

from arena import runs
from arena.datasets import ImageDataset, load_images
from nets.data import split_indices
from nets.train import EpochLog


@dataclass(frozen=True)
class Common:
    """Flags every supervised script takes."""

    quick: bool = False
    """Seconds-long run (tests, smoke checks): few epochs, small data."""
    run_dir: Path | None = None
    """Run folder (default: runs/supervised-<model>-<time>)."""
    threads: int = 1
    """torch CPU threads: small models ran 2-20x faster with 1 than with 2 on 2 busy cores."""
    progress: bool = True
    """Show a progress bar."""
    nproc: int = 1
    """Data-parallel processes (torch DDP through torchrun; gloo on CPU, NCCL on GPUs): each
    trains on a shard of every batch, with the same result as one process (arena/ddp.py)."""


def run_model(model: Any) -> Path | None:
    """Run a supervised command (``model.run()``), in ``model.common.nproc`` data-parallel
    processes when asked: this process starts them through torchrun and returns the run folder
    it was given (None when rank 0 chose it; rank 0 prints it); a process torchrun started joins
    the group, and only rank 0 writes the run folder and shows progress."""
    from arena import ddp

    common = model.common
    if common.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {common.nproc}")
    if common.nproc == 1 and not ddp.under_torchrun():
        return model.run()
    if not ddp.under_torchrun():
        status = ddp.launch(common.nproc)
        if status != 0:
            raise RuntimeError(f"torchrun with --nproc {common.nproc} failed (exit status {status})")
        return common.run_dir
    rank, _ = ddp.init_from_env()
    scratch = None
    if rank != 0:  # the same training, but its files go nowhere
        scratch = Path(tempfile.mkdtemp(prefix=f"arena-rank{rank}-"))
        model = dataclasses.replace(model, common=dataclasses.replace(common, run_dir=scratch, progress=False))
    try:
        if rank == 0:
            return model.run()
        with contextlib.redirect_stdout(io.StringIO()):  # one summary line, rank 0's
            model.run()
        return None
    finally:
        ddp.shutdown()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


class Progress:
    """Epoch callback: a tqdm bar with the latest metric, and a metrics.jsonl line per epoch."""

    def __init__(self, run_dir: Path, epochs: int, show: bool, name: str, key: str):
        self.run_dir, self.key, self.start = run_dir, key, time.perf_counter()
        self.bar = tqdm(total=epochs, desc=name, unit="epoch", disable=not show, dynamic_ncols=True)

    def __call__(self, log: EpochLog) -> None:
        runs.append_metrics(self.run_dir, {**log.metrics, "wall_time": time.perf_counter() - self.start})
        shown = {k: round(v, 4) for k, v in log.metrics.items() if k in (self.key, "train_loss")}
        self.bar.set_postfix(shown)
        self.bar.update(1)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.bar.close()
        return False


class ImageSplits(NamedTuple):
    """``(x, y)`` tensors of the train, validation and test parts of an image dataset."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train[0].shape[1:])


def image_splits(dataset: ImageDataset, fractions: tuple[float, float, float], seed: int, quick: bool) -> ImageSplits:
    """Load an offline image dataset and split it (stratified by label); ``quick`` keeps at
    most 300 images per part."""
    data = load_images(dataset)
    parts = split_indices(len(data.y), fractions, seed=seed, stratify=data.y)
    if quick:
        parts = type(parts)(*(p[:300] for p in parts))
    return ImageSplits(*((data.x[p], data.y[p]) for p in parts))
