"""What every ``arena supervised`` script shares: common flags and the epoch progress bar."""

from __future__ import annotations

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
