"""``arena supervised cnn``: the digits classifier (nets/supervised/cnn.py): its plots and summary line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from arena.supervised.common import plot_classifier
from arena.supervised.runner import ImageScript, run
from nets.supervised import SupervisedResult, cnn


@dataclass(frozen=True)
class CnnCommand(ImageScript):
    """Digits classifier (CNN with augmentation): goal >= 99% test accuracy, above an RBF SVM."""

    task: Annotated[cnn.CNNTask, tyro.conf.arg(name="")] = field(default_factory=cnn.CNNTask)

    trainer = cnn

    def show(self, run_dir: Path, task: cnn.CNNTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        plot_classifier(run_dir / "plots", result.history, result.figures, "CNN on " + self.dataset)
        return (f"cnn on {self.dataset}: test accuracy {metrics['test_accuracy']:.4f} "
                f"({metrics['test_errors']} errors in {metrics['test_size']}), {metrics['wall_time']:.0f} s")


def run_cnn(cmd: CnnCommand) -> Path:
    """Train the CNN classifier and write its run folder."""
    return run(cmd)
