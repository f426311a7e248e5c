"""What every ``arena supervised`` script shares: common flags, the progress bar, the data,
loading a checkpoint through its model's ``build``, and the plots of more than one script."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from torch import nn
from tqdm import tqdm

from arena.io import runs
from arena.io.checkpoint import CheckpointError, load_checkpoint, load_weights
from arena.io.datasets import ImageDataset, load_images
from nets.data import ImageSplits, split_indices
from nets.train import EpochLog

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.io.runs chose the Agg backend)


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


class Bar(NamedTuple):
    """How a script's training shows: the bar's length and what it shows beside it."""

    total: float
    """Epochs of every network together, evaluations, or seconds (with ``position``)."""
    keys: tuple[str, ...]
    """Metrics shown beside the bar, those a row has."""
    tags: tuple[str, ...] = ()
    """Fields naming the network a row belongs to (shown first)."""
    clock: bool = True
    """metrics.jsonl's wall_time: seconds since the bar started (True) or the trainer's own (False)."""
    unit: str = "epoch"
    """What the bar counts."""
    position: str | None = None
    """A metric that sets the bar's position (None: one step a row)."""


class Progress:
    """Epoch callback: a tqdm bar with the latest metrics, and a metrics.jsonl line per row."""

    def __init__(self, run_dir: Path, bar: Bar, show: bool, name: str):
        self.run_dir, self.spec, self.start = run_dir, bar, time.perf_counter()
        self.bar = tqdm(total=round(bar.total), desc=name, unit=bar.unit, disable=not show, dynamic_ncols=True)

    def __call__(self, log: EpochLog) -> None:
        row, spec = log.metrics, self.spec
        runs.append_metrics(self.run_dir, {**row, "wall_time": time.perf_counter() - self.start} if spec.clock else row)
        shown = {k: row[k] for k in spec.tags if k in row}
        shown.update({k: round(row[k], 4) for k in spec.keys if k in row})
        self.bar.set_postfix(shown)
        if spec.position is None:
            self.bar.update(1)
        else:
            self.bar.n = min(self.bar.total, round(row[spec.position]))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.bar.close()
        return False


def image_splits(dataset: ImageDataset, fractions: tuple[float, float, float], seed: int, quick: bool) -> ImageSplits:
    """Load an offline image dataset and split it (stratified by label); ``quick`` keeps at
    most 300 images per part."""
    data = load_images(dataset)
    parts = split_indices(len(data.y), fractions, seed=seed, stratify=data.y)
    if quick:
        parts = type(parts)(*(p[:300] for p in parts))
    return ImageSplits(*((data.x[p], data.y[p]) for p in parts))


def load_model(path: str | Path, build: Callable[[dict[str, Any]], nn.Module], models: tuple[str, ...],
               what: str) -> tuple[nn.Module, dict[str, Any]]:
    """The module a checkpoint of one of ``models`` (its sidecar's ``model``) holds, rebuilt by
    its model's ``build`` (eval mode, CPU, no pickle), and the sidecar; another kind of
    checkpoint, or a sidecar ``build`` cannot read, is a CheckpointError naming ``what`` it is not."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") not in models:
        raise CheckpointError(f"{path} holds a {meta.get('model')!r} checkpoint, not {what}")
    try:
        module = build(meta)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path} is not a complete {what} checkpoint: {e}") from None
    return load_weights(module, tensors, str(path)).eval(), meta


def plot_classifier(plots: Path, history: list[dict[str, float]], figures: dict[str, np.ndarray], title: str) -> None:
    """A classifier's learning curves and its misclassified test images (true->predicted)."""
    runs.plot_curves(plots / "learning_curves.png", history,
                     {"loss": ["train_loss", "val_loss"], "accuracy": ["val_accuracy"]}, title=title)
    wrong = figures["misclassified"]
    if len(wrong):
        labels = [f"{t}->{p}" for t, p in figures["misclassified_labels"]]
        runs.plot_image_grid(plots / "misclassified.png", wrong, rows=max(1, len(wrong) // 8),
                             title="test errors (true->predicted)", labels=labels)


def plot_image_rows(path: Path, rows: list[tuple[str, np.ndarray]], title: str = "") -> Path:
    """Rows of grayscale images ``[n, H, W]`` in [0, 1], each row labelled, tiled into one picture
    (one ``imshow``: a subplot per image takes seconds for a few hundred images)."""
    h, w = rows[0][1].shape[1:]
    cols = max(len(images) for _, images in rows)
    canvas = np.ones((len(rows) * (h + 1) - 1, cols * (w + 1) - 1))  # white 1-pixel gutters
    for r, (_, images) in enumerate(rows):
        for c, image in enumerate(images):
            canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = 1.0 - image
    labelled = any(label for label, _ in rows)
    fig, ax = plt.subplots(figsize=(0.45 * cols + (1.3 if labelled else 0.3), 0.45 * len(rows) + 0.5))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([r * (h + 1) + h / 2 - 0.5 for r in range(len(rows))] if labelled else [],
                  [label for label, _ in rows] if labelled else [], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=9)
    return runs.save_figure(fig, path)


def image_grid_rows(images: np.ndarray, cols: int | None = None, label: str = "") -> list[tuple[str, np.ndarray]]:
    """Images ``[n, H, W]`` cut into rows of ``cols`` (default: about a square) for
    :func:`plot_image_rows`, the first row labelled ``label``."""
    cols = cols or max(1, round(len(images) ** 0.5))
    return [(label if i == 0 else "", images[i : i + cols]) for i in range(0, len(images), cols)]
