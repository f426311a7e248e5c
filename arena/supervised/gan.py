"""``arena supervised gan`` and ``arena supervised cgan``: the DCGAN and the class-conditional GAN
(nets/supervised/gan.py), judged by an independent digits classifier, and their run folders.

The run folder holds, besides config.json, metrics.jsonl (one line per GAN epoch) and
metrics.json (``class_agreement`` for the cGAN): ``plots/samples_epoch_XXX.png`` (a 10x10 grid
from the same noise every epoch; for the cGAN row r is class r), ``plots/learning_curves.png``,
``generator``/``discriminator``/``classifier`` checkpoints (safetensors + JSON sidecar with the
config), and ``classifier/metrics.jsonl`` (the judge's own training curve).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro

from arena.io import runs
from arena.supervised.common import Bar, Progress
from arena.supervised.runner import ImageScript, run
from nets.data import ImageSplits
from nets.supervised import SupervisedResult, gan


@dataclass(frozen=True)
class GanCommand(ImageScript):
    """DCGAN on digits: sample grids per epoch; an independent classifier reports mode coverage."""

    task: Annotated[gan.GANTask, tyro.conf.arg(name="")] = field(default_factory=gan.GANTask)
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified): the GAN and the judge train on the first, the
    judge selects its epoch on the second and reports its accuracy on the third."""

    trainer = gan

    def title(self, task: gan.GANTask) -> str:
        return "cgan" if task.net.conditional else "gan"

    def seed(self, task: gan.GANTask) -> int:
        return task.seed

    def device(self, task: gan.GANTask) -> str:
        return task.device

    def fit(self, task: gan.GANTask, data: ImageSplits, run_dir: Path) -> SupervisedResult:
        """The judge's epochs go to ``classifier/metrics.jsonl`` with a bar of their own."""
        (run_dir / "classifier").mkdir(exist_ok=True)
        key = "class_agreement" if task.net.conditional else "classes_covered"
        judge = Bar(task.judge.train.epochs * task.judge.ensemble, ("val_accuracy", "train_loss"))
        show = self.common.progress
        with Progress(run_dir / "classifier", judge, show, "judge") as judge_bar, \
                Progress(run_dir, Bar(task.epochs, (key, "train_loss")), show, self.title(task)) as bar:
            return gan.train(task, data, [bar], [judge_bar])

    def show(self, run_dir: Path, task: gan.GANTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        name, conditional = self.title(task), task.net.conditional
        _write_plots(run_dir / "plots", result.history, result.figures, name, self.dataset, conditional)
        headline = (f"class agreement {metrics['class_agreement']:.3f}" if conditional
                    else f"{metrics['classes_covered']:.0f}/10 classes covered")
        return (f"{name} on {self.dataset}: {headline}, sample diversity {metrics['sample_diversity']:.2f} "
                f"(real {metrics['real_diversity']:.2f}), judge test accuracy {metrics['classifier_test_accuracy']:.4f}, "
                f"{metrics['wall_time']:.0f} s")


@dataclass(frozen=True)
class CganCommand(GanCommand):
    """Class-conditional GAN on digits: goal >= 90% of samples labelled as their class by an
    independent classifier (class_agreement)."""

    task: Annotated[gan.GANTask, tyro.conf.arg(name="")] = field(default_factory=gan.cgan_task)


def run_gan(cmd: GanCommand) -> Path:
    """Train the judge and the (c)GAN and write the run folder."""
    return run(cmd)


def _write_plots(plots: Path, history: list[dict[str, float]], figures: dict[str, np.ndarray], name: str,
                 dataset: str, conditional: bool) -> None:
    """Learning curves and one PNG per sample grid (a single mosaic image: fast to draw)."""
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
    import matplotlib.pyplot as plt  # after arena.io.runs chose the Agg backend

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
