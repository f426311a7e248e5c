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
from nets.supervised import SupervisedResult, seq2seq


@dataclass(frozen=True)
class Seq2SeqCommand(Script):
    """Encoder-decoder LSTM with/without attention on reverse, sort and addition: accuracy vs length."""

    task: Annotated[seq2seq.Seq2SeqTask, tyro.conf.arg(name="")] = field(default_factory=seq2seq.Seq2SeqTask)

    trainer = seq2seq

    def bar(self, task: seq2seq.Seq2SeqTask) -> Bar:
        evaluations = len(task.tasks) * len(task.attentions) * -(-task.steps // task.eval_every)
        return Bar(evaluations, ("val_sequence_accuracy", "train_loss"), tags=("task", "attention"))

    def show(self, run_dir: Path, task: seq2seq.Seq2SeqTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        examples = result.artifacts["attention_examples"]
        runs.write_json(run_dir / "attention_examples.json", examples)
        plots = run_dir / "plots"
        plot_accuracy_vs_length(plots / "accuracy_vs_length.png", result.metrics["table"], task)
        for name, weights in result.figures.items():
            plot_attention(plots / f"{name}.png", weights, examples[name], name.removeprefix("attention_"))
        _plot_learning(plots / "learning_curves.png", result.history)
        summary = ", ".join(f"{k.removeprefix('test_sequence_accuracy_')} {v:.3f}"
                            for k, v in metrics.items() if k.startswith("test_sequence_accuracy_"))
        return f"seq2seq: sequence accuracy at the longest trained length: {summary}; {metrics['wall_time']:.0f} s"


def run_seq2seq(cmd: Seq2SeqCommand) -> Path:
    """Train every (task, attention) model and write the run folder."""
    return run(cmd)


def load_seq2seq(path: str | Path) -> tuple[nn.ModuleDict, seq2seq.Seq2SeqTask]:
    """Every model of a seq2seq checkpoint (eval mode, CPU), keyed ``<task>_<attention>``, and the task config."""
    models, meta = load_model(path, seq2seq.build, ("seq2seq",), "a seq2seq checkpoint")
    return models, config_from_dict(seq2seq.Seq2SeqTask, meta["config"])  # type: ignore[return-value]


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
