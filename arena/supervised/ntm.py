"""``arena supervised ntm``: neural Turing machines against LSTMs of similar size on the copy and
priority-sort tasks (nets/supervised/ntm.py), and their run folder.

The run folder gets metrics.jsonl (one line per evaluation of each network, with its task and
model), metrics.json (``test_bit_error`` and ``lstm_test_bit_error``: bits wrong per sequence on
the first task at the longest trained length; ``..._long`` at ``test_factor`` times it;
``table[task][model][length]`` for all), plots (``learning_curves.png``, ``memory_<task>.png``
with the write and read weightings over time, ``example_<task>.png`` with input, target and
both networks' outputs) and one checkpoint holding every network (keys ``<model>_<task>.*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import matplotlib.pyplot as plt
import numpy as np
import tyro
from torch import nn

from arena.io import runs
from arena.io.checkpoint import config_from_dict
from arena.supervised.common import Bar, load_model
from arena.supervised.runner import Script, run
from nets.supervised import SupervisedResult, ntm


@dataclass(frozen=True)
class NtmCommand(Script):
    """Neural Turing machine vs an LSTM of similar size on copy and priority sort, tested at 2x length."""

    task: Annotated[ntm.NTMTask, tyro.conf.arg(name="")] = field(default_factory=ntm.NTMTask)

    trainer = ntm

    def bar(self, task: ntm.NTMTask) -> Bar:
        evaluations = len(task.tasks) * 2 * -(-task.steps // task.eval_every)
        return Bar(evaluations, ("val_bit_error", "train_loss"), tags=("task", "model"))

    def show(self, run_dir: Path, task: ntm.NTMTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        plots = run_dir / "plots"
        plot_learning_curves(plots / "learning_curves.png", result.history)
        for name in task.tasks:
            plot_memory(plots / f"memory_{name}.png", result.figures, name)
            plot_example(plots / f"example_{name}.png", result.figures, name, metrics["table"][name])
        n, long = task.test_lengths[0], task.test_lengths[-1]
        return (f"ntm ({task.tasks[0]}): {metrics['test_bit_error']:.2f} bits wrong per sequence at length {n} "
                f"(LSTM {metrics['lstm_test_bit_error']:.2f}); at {long}: "
                f"{metrics.get('test_bit_error_long', metrics['test_bit_error']):.2f} "
                f"(LSTM {metrics.get('lstm_test_bit_error_long', metrics['lstm_test_bit_error']):.2f}); "
                f"{metrics['wall_time']:.0f} s")


def run_ntm(cmd: NtmCommand) -> Path:
    """Train an NTM and an LSTM per task and write the run folder."""
    return run(cmd)


def load_ntm(path: str | Path) -> tuple[nn.ModuleDict, ntm.NTMTask]:
    """Every network of an ntm checkpoint (eval mode, CPU), keyed ``<model>_<task>``, and the task config."""
    models, meta = load_model(path, ntm.build, ("ntm",), "an ntm checkpoint")
    return models, config_from_dict(ntm.NTMTask, meta["config"])  # type: ignore[return-value]


def plot_learning_curves(path: Path, history: list[dict[str, Any]]) -> Path:
    """Per task: validation bits wrong per sequence (solid) and training (dashed) against
    sequences seen, NTM and LSTM."""
    tasks = list(dict.fromkeys(r["task"] for r in history))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 3.6), squeeze=False)
    for ax, name in zip(axes[0], tasks, strict=True):
        for i, kind in enumerate(("ntm", "lstm")):
            rows = [r for r in history if r["task"] == name and r["model"] == kind]
            x = [r["sequences"] for r in rows]
            ax.plot(x, [r["val_bit_error"] for r in rows], "-", color=f"C{i}", label=f"{kind.upper()} validation")
            ax.plot(x, [r["train_bit_error"] for r in rows], "--", color=f"C{i}", alpha=0.5, label=f"{kind.upper()} train")
        ax.set_title(name)
        ax.set_xlabel("sequences seen")
        ax.set_ylabel("bits wrong per sequence")
        ax.set_yscale("symlog", linthresh=0.1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return runs.save_figure(fig, path)


def plot_memory(path: Path, figures: dict[str, np.ndarray], name: str) -> Path:
    """The NTM's write and read weightings (slot x time) over one long test sequence."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, part in zip(axes, ("write", "read"), strict=True):
        w = figures[f"{name}_{part}_weights"].T  # (N, T)
        ax.imshow(w, cmap="gray_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(f"{part} weighting")
        ax.set_xlabel("time step")
        ax.set_ylabel("memory slot")
    fig.suptitle(f"NTM memory access on {name} (length {figures[f'{name}_target'].shape[1]})", fontsize=10)
    return runs.save_figure(fig, path)


def plot_example(path: Path, figures: dict[str, np.ndarray], name: str, table: dict) -> Path:
    """Input, target, NTM output and LSTM output (bits x time) of one long test sequence."""
    parts = [("input", "input"), ("target", "target"), ("ntm_output", "NTM output"), ("lstm_output", "LSTM output")]
    fig, axes = plt.subplots(len(parts), 1, figsize=(7, 7), sharex=True)
    steps = figures[f"{name}_input"].shape[1]  # 2T + 1: the outputs are drawn under the last T steps
    for ax, (key, label) in zip(axes, parts, strict=True):
        image = figures[f"{name}_{key}"]
        left = steps - image.shape[1] - 0.5
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest",
                  extent=(left, steps - 0.5, image.shape[0] - 0.5, -0.5))
        ax.set_xlim(-0.5, steps - 0.5)
        ax.set_ylabel(label, fontsize=8)
        ax.set_yticks([])
    axes[-1].set_xlabel("time step")
    long = str(figures[f"{name}_target"].shape[1])
    fig.suptitle(f"{name}, length {long}: bits wrong per sequence NTM {table['ntm'][long]:.2f}, "
                 f"LSTM {table['lstm'][long]:.2f}", fontsize=9)
    return runs.save_figure(fig, path)
