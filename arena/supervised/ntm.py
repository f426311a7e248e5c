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

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import matplotlib.pyplot as plt
import numpy as np
import torch
import tyro
from torch import nn

from arena import runs
from arena.checkpoint import CheckpointError, config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.supervised.common import Common, Progress
from nets.ntm import NTM, LSTMBaseline, LSTMBaselineConfig
from nets.supervised import ntm
from nets.train import select_device


@dataclass(frozen=True)
class NtmCommand:
    """Neural Turing machine vs an LSTM of similar size on copy and priority sort, tested at 2x length."""

    task: Annotated[ntm.NTMTask, tyro.conf.arg(name="")] = field(default_factory=ntm.NTMTask)
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_ntm(self)


def run_ntm(cmd: NtmCommand) -> Path:
    """Train an NTM and an LSTM per task and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = quick_task(cmd.task) if cmd.common.quick else cmd.task
    run_dir = runs.new_run_dir("supervised-ntm", cmd.common.run_dir)
    runs.write_config(run_dir, dataclasses.replace(cmd, task=task))
    evaluations = len(task.tasks) * 2 * -(-task.steps // task.eval_every)
    with Progress(run_dir, evaluations, cmd.common.progress, "ntm", "val_bit_error") as progress:
        result = ntm.train(task, [progress])
    metrics = {**result.metrics, "device": str(select_device(task.train.device)), "threads": cmd.common.threads}
    runs.write_json(run_dir / "metrics.json", metrics)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    plot_learning_curves(plots / "learning_curves.png", result.history)
    for name in task.tasks:
        plot_memory(plots / f"memory_{name}.png", result.figures, name)
        plot_example(plots / f"example_{name}.png", result.figures, name, metrics["table"][name])
    lstm_hidden = {k: m.cfg.hidden for k, m in result.model.items() if isinstance(m, LSTMBaseline)}
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "ntm", "config": dataclasses.asdict(task),
        "models": list(result.model.keys()), "lstm_hidden": lstm_hidden, "metrics": metrics,
    })
    n, long = task.test_lengths[0], task.test_lengths[-1]
    print(f"ntm ({task.tasks[0]}): {metrics['test_bit_error']:.2f} bits wrong per sequence at length {n} "
          f"(LSTM {metrics['lstm_test_bit_error']:.2f}); at {long}: "
          f"{metrics.get('test_bit_error_long', metrics['test_bit_error']):.2f} "
          f"(LSTM {metrics.get('lstm_test_bit_error_long', metrics['lstm_test_bit_error']):.2f}); "
          f"{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def quick_task(task: ntm.NTMTask) -> ntm.NTMTask:
    """A seconds-long version: copy only, short sequences, small networks, 40 steps each."""
    return dataclasses.replace(
        task, net=dataclasses.replace(task.net, controller_size=32, memory_slots=12, memory_width=8),
        tasks=("copy",), bits=4, max_length=4, steps=40, eval_every=20, val_examples=32, test_examples=32,
        train=dataclasses.replace(task.train, batch_size=16, lr=5e-3),
    )


def load_ntm(path: str | Path) -> tuple[nn.ModuleDict, ntm.NTMTask]:
    """Every network of an ntm checkpoint (eval mode, CPU), keyed ``<model>_<task>``, and the task config."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") != "ntm" or "models" not in meta:
        raise CheckpointError(f"{path} is not an ntm checkpoint (its sidecar says model={meta.get('model')!r})")
    task = config_from_dict(ntm.NTMTask, meta["config"])
    models = nn.ModuleDict()
    for name in meta["models"]:
        kind, task_name = name.split("_", 1)
        cfg = task.ntm_config(task_name)  # type: ignore[arg-type]
        models[name] = NTM(cfg) if kind == "ntm" else LSTMBaseline(
            LSTMBaselineConfig(cfg.input_size, cfg.output_size, int(meta["lstm_hidden"][name])))
    return load_weights(models, tensors, str(path)).eval(), task


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
