"""``arena supervised seq2seq``: encoder-decoder LSTMs with and without attention
(nets/supervised/seq2seq.py) on generated reverse/sort/addition tasks, and their run folder.

The run folder gets metrics.jsonl (one line per evaluation of each model, with its task and
attention), metrics.json (``table[task][attention][length]`` holds ``sequence_accuracy`` and
``token_accuracy`` at every test length; flat ``test_sequence_accuracy_<task>_<attention>`` and
``test_token_accuracy_<task>_<attention>`` at the longest trained length), plots
(``accuracy_vs_length.png``, ``attention_<task>_<attention>.png``, ``learning_curves.png``) and
one checkpoint holding every model (keys ``<task>_<attention>.*``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import matplotlib.pyplot as plt
import numpy as np
import torch
import tyro
from torch import nn

from arena import runs
from arena.checkpoint import CheckpointError, config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.supervised.common import Common, Progress
from nets.seq2seq import Seq2Seq
from nets.supervised import seq2seq
from nets.train import select_device


@dataclass(frozen=True)
class Seq2SeqCommand:
    """Encoder-decoder LSTM with/without attention on reverse, sort and addition: accuracy vs length."""

    task: Annotated[seq2seq.Seq2SeqTask, tyro.conf.arg(name="")] = field(default_factory=seq2seq.Seq2SeqTask)
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_seq2seq(self)


def run_seq2seq(cmd: Seq2SeqCommand) -> Path:
    """Train every (task, attention) model and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = quick_task(cmd.task) if cmd.common.quick else cmd.task
    run_dir = runs.new_run_dir("supervised-seq2seq", cmd.common.run_dir)
    runs.write_config(run_dir, replace(cmd, task=task))
    evaluations = len(task.tasks) * len(task.attentions) * -(-task.steps // task.eval_every)
    with Progress(run_dir, evaluations, cmd.common.progress, "seq2seq", "val_sequence_accuracy") as progress:
        result = seq2seq.train(task, [progress])
    metrics = {**result.metrics, "device": str(select_device(task.train.device)), "threads": cmd.common.threads}
    runs.write_json(run_dir / "metrics.json", metrics)
    runs.write_json(run_dir / "attention_examples.json", result.examples)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    plot_accuracy_vs_length(plots / "accuracy_vs_length.png", result.metrics["table"], task)
    for name, weights in result.figures.items():
        plot_attention(plots / f"{name}.png", weights, result.examples[name], name.removeprefix("attention_"))
    _plot_learning(plots / "learning_curves.png", result.history)
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "seq2seq", "config": dataclasses.asdict(task),
        "models": list(result.model.keys()), "metrics": metrics,
    })
    summary = ", ".join(f"{k.removeprefix('test_sequence_accuracy_')} {v:.3f}"
                        for k, v in metrics.items() if k.startswith("test_sequence_accuracy_"))
    print(f"seq2seq: sequence accuracy at the longest trained length: {summary}; "
          f"{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def quick_task(task: seq2seq.Seq2SeqTask) -> seq2seq.Seq2SeqTask:
    """A seconds-long version: a small network, reverse only, 60 steps per model."""
    return replace(task, net=replace(task.net, embedding=16, hidden=32), tasks=("reverse",), steps=60,
                   eval_every=20, max_length=6, test_lengths=(3, 6, 9), test_examples=50, val_examples=50,
                   train=replace(task.train, batch_size=32, lr=1e-2))


def load_seq2seq(path: str | Path) -> tuple[nn.ModuleDict, seq2seq.Seq2SeqTask]:
    """Every model of a seq2seq checkpoint (eval mode, CPU), keyed ``<task>_<attention>``, and the task config."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") != "seq2seq" or "models" not in meta:
        raise CheckpointError(f"{path} is not a seq2seq checkpoint (its sidecar says model={meta.get('model')!r})")
    task = config_from_dict(seq2seq.Seq2SeqTask, meta["config"])
    models = nn.ModuleDict()
    for name in meta["models"]:
        attention = name.rsplit("_", 1)[1]
        models[name] = Seq2Seq(replace(task.net, attention=attention))
    return load_weights(models, tensors, str(path)).eval(), task


def plot_accuracy_vs_length(path: Path, table: dict, task: seq2seq.Seq2SeqTask) -> Path:
    """One panel per task: sequence (solid) and token (dashed) accuracy against test length, per attention."""
    fig, axes = plt.subplots(1, len(table), figsize=(4.6 * len(table), 3.6), squeeze=False)
    for ax, (name, by_attention) in zip(axes[0], table.items(), strict=True):
        for i, (attention, scores) in enumerate(by_attention.items()):
            lengths = [int(n) for n in scores]
            color = f"C{i}"
            ax.plot(lengths, [s["sequence_accuracy"] for s in scores.values()], "o-", color=color,
                    label=f"{attention}: sequence")
            ax.plot(lengths, [s["token_accuracy"] for s in scores.values()], "s--", color=color, alpha=0.6,
                    label=f"{attention}: token")
        ax.axvline(task.lengths(name)[1], color="gray", lw=0.8, ls=":", label="longest trained")
        ax.set_title(name)
        ax.set_xlabel("length (digits per operand)" if name == "addition" else "length")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return runs.save_figure(fig, path)


def plot_attention(path: Path, weights: np.ndarray, examples: list[dict[str, str]], title: str) -> Path:
    """Heat maps of attention weights ``[n, T, S]``: rows are output steps, columns source tokens."""
    n = len(weights)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for ax, w, ex in zip(axes[0], weights, examples, strict=True):
        ax.imshow(w, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(ex["source"])), list(ex["source"]), fontsize=7)
        ax.set_yticks(range(len(ex["prediction"])), list(ex["prediction"]), fontsize=7)
        ax.set_xlabel("source")
        ax.set_ylabel("output (greedy)")
        ok = "right" if ex["prediction"] == ex["target"] else f"wrong; target {ex['target']}"
        ax.set_title(ok, fontsize=8)
    fig.suptitle(f"attention: {title}", fontsize=10)
    return runs.save_figure(fig, path)


def _plot_learning(path: Path, history: list[dict]) -> Path:
    """Validation sequence accuracy and training loss against step, one line per model."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    names = dict.fromkeys((row["task"], row["attention"]) for row in history)
    for task, attention in names:
        rows = [r for r in history if r["task"] == task and r["attention"] == attention]
        steps = [r["step"] for r in rows]
        axes[0].plot(steps, [r["train_loss"] for r in rows], label=f"{task} {attention}")
        axes[1].plot(steps, [r["val_sequence_accuracy"] for r in rows], label=f"{task} {attention}")
    axes[0].set_yscale("log")
    for ax, label in zip(axes, ("train loss (cross-entropy)", "val sequence accuracy"), strict=True):
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return runs.save_figure(fig, path)
