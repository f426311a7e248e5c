"""``arena supervised mlp``: the digits MLP (nets/supervised/mlp.py): its plots and summary line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from arena.supervised.common import plot_classifier
from arena.supervised.runner import ImageScript, run
from nets.supervised import SupervisedResult, mlp


@dataclass(frozen=True)
class MlpCommand(ImageScript):
    """Digits MLP classifier with a depth/activation switch (norm, residual, dropout, init)."""

    task: Annotated[mlp.MLPTask, tyro.conf.arg(name="")] = field(default_factory=mlp.MLPTask)

    trainer = mlp

    def describe(self, task: mlp.MLPTask, data: Any) -> dict[str, Any]:
        return {**super().describe(task, data), "depth": task.depth, "width": task.width, "activation": task.activation}

    def show(self, run_dir: Path, task: mlp.MLPTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        shape = f"{task.depth}x{task.width} {task.activation}"
        plot_classifier(run_dir / "plots", result.history, result.figures, f"MLP {shape} on {self.dataset}")
        return (f"mlp {shape} on {self.dataset}: test accuracy {metrics['test_accuracy']:.4f} "
                f"({metrics['test_errors']} errors in {metrics['test_size']}), {metrics['wall_time']:.0f} s")


def run_mlp(cmd: MlpCommand) -> Path:
    """Train the MLP classifier and write its run folder."""
    return run(cmd)
