"""``arena supervised gradients``: the vanishing-gradient picture (nets/supervised/gradients.py): its plots.

Writes ``plots/gradient_norms_init.png`` (per network, log-scale gradient norm of each hidden
layer's weight at initialization), ``plots/gradient_norms_training.png`` (the same profiles
after chosen epochs), ``plots/learning_curves.png``, ``metrics.json`` (``gradient_norms``,
``first_to_last_ratio`` and ``test_accuracy`` per network) and one checkpoint per network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro

from arena.io import runs
from arena.supervised.common import Bar
from arena.supervised.runner import ImageScript, run
from nets.supervised import SupervisedResult, gradients

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.io.runs chose the Agg backend)


@dataclass(frozen=True)
class GradientsCommand(ImageScript):
    """Per-layer gradient norms of deep sigmoid/tanh/ReLU/residual MLPs on digits, at init and in training."""

    task: Annotated[gradients.GradientsTask, tyro.conf.arg(name="")] = field(default_factory=gradients.GradientsTask)

    trainer = gradients

    def bar(self, task: gradients.GradientsTask) -> Bar:
        return Bar(task.train.epochs * len(task.networks), ("val_accuracy",), tags=("network",), clock=False)

    def describe(self, task: gradients.GradientsTask, data: Any) -> dict[str, Any]:
        return {**super().describe(task, data), "depth": task.depth, "width": task.width}

    def show(self, run_dir: Path, task: gradients.GradientsTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        plots = run_dir / "plots"
        plot_init(plots / "gradient_norms_init.png", metrics, f"gradient norm per layer at init (depth {task.depth})")
        plot_training(plots / "gradient_norms_training.png", metrics, "gradient norm per layer during training")
        _plot_learning_curves(plots / "learning_curves.png", result.history, list(task.networks))
        ratios = ", ".join(f"{n} {r:.1e}" for n, r in metrics["first_to_last_ratio"].items())
        accs = ", ".join(f"{n} {a:.3f}" for n, a in metrics["test_accuracy"].items())
        return f"first/last layer gradient norm at init: {ratios}\ntest accuracy: {accs}\n{metrics['wall_time']:.0f} s"


def run_gradients(cmd: GradientsCommand) -> Path:
    """Probe and train every network, then write the run folder."""
    return run(cmd)


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


def _plot_learning_curves(path: Path, history: list[dict[str, Any]], networks: list[str]) -> None:
    """Training loss and validation accuracy of every network, per epoch."""
    rows: dict[float, dict[str, float]] = {}
    for row in history:
        merged = rows.setdefault(row["epoch"], {"epoch": row["epoch"]})
        merged.update({f"{row['network']}_{k}": v for k, v in row.items() if k in ("train_loss", "val_accuracy")})
    runs.plot_curves(path, [rows[e] for e in sorted(rows)], {
        "train loss": [f"{n}_train_loss" for n in networks], "val accuracy": [f"{n}_val_accuracy" for n in networks],
    }, title="deep networks on digits")
