"""``arena supervised rbm``: Bernoulli RBMs (CD-k against PCD) and a DBN (nets/supervised/rbm.py),
next to logistic regression on raw pixels and scikit-learn's BernoulliRBM pipeline, in one run.

Writes ``metrics.json`` (``test_accuracy`` of the fine-tuned DBN, ``rbm_features_accuracy``,
``raw_pixels_accuracy``, ``sklearn_rbm_accuracy``, ``mlp_no_pretraining_accuracy``,
``cd_reconstruction_error``, ``pcd_reconstruction_error``, ...), ``metrics.jsonl`` (epoch rows
tagged with ``stage``), ``plots/reconstructions.png``, ``plots/samples.png`` (long Gibbs chains:
PCD's persistent chains and CD's from noise), ``plots/filters_cd.png``, ``plots/filters_pcd.png``,
``plots/learning_curves.png``, and ``model.safetensors`` + ``model.json`` (every trained
network and the persistent chains; rebuilt by :func:`load_rbm_models`). The training, the
baselines and scikit-learn's pipeline are nets/supervised/rbm.py's; here are the plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro
from torch import nn

from arena.io import runs
from arena.supervised.common import Bar, image_grid_rows, load_model, plot_image_rows
from arena.supervised.runner import ImageScript, run
from nets.supervised import SupervisedResult, rbm


@dataclass(frozen=True)
class RbmCommand(ImageScript):
    """Bernoulli RBMs by CD-1 and persistent CD, their features + logistic regression, and a DBN."""

    task: Annotated[rbm.RBMTask, tyro.conf.arg(name="")] = field(default_factory=rbm.RBMTask)
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    """Train/validation/test fractions (stratified); validation picks epochs and logistic regression's L2."""

    trainer = rbm

    def seed(self, task: rbm.RBMTask) -> int:
        return task.rbm_train.seed

    def device(self, task: rbm.RBMTask) -> str:
        return task.rbm_train.device

    def bar(self, task: rbm.RBMTask) -> Bar:
        total = task.rbm_train.epochs * (2 + len(task.dbn_hidden)) + 2 * task.finetune.epochs
        return Bar(total, ("val_accuracy", "val_reconstruction_error"), tags=("stage",), clock=False)

    def show(self, run_dir: Path, task: rbm.RBMTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        _plots(run_dir / "plots", result.figures, result.history, self.dataset)
        return format_summary(metrics) + f"\n{metrics['wall_time']:.0f} s"


def run_rbm(cmd: RbmCommand) -> Path:
    """Train the RBMs, the DBN and the baselines and write the run folder."""
    return run(cmd)


def load_rbm_models(path: str | Path) -> nn.ModuleDict:
    """Rebuild what ``arena supervised rbm`` saved (eval mode, CPU), without pickle: ``rbm_cd``,
    ``rbm_pcd``, ``chains``, ``dbn``, ``classifier`` (fine-tuned DBN) and ``scratch`` MLPs."""
    return load_model(path, rbm.build, ("rbm",), "an rbm run")[0]  # type: ignore[return-value]


def format_summary(metrics: dict[str, Any]) -> str:
    """The headline numbers as a few lines of text."""
    return "\n".join([
        f"reconstruction error (test, per pixel): CD-{metrics.get('k', 1)} {metrics['cd_reconstruction_error']:.4f}, "
        f"PCD {metrics['pcd_reconstruction_error']:.4f}",
        f"pseudo-log-likelihood (test, nats/image): CD {metrics['cd_pseudo_log_likelihood']:.2f}, "
        f"PCD {metrics['pcd_pseudo_log_likelihood']:.2f}",
        f"logistic regression accuracy: RBM features {metrics['rbm_features_accuracy']:.4f} "
        f"(CD {metrics['cd_features_accuracy']:.4f}, PCD {metrics['pcd_features_accuracy']:.4f}), "
        f"raw pixels {metrics['raw_pixels_accuracy']:.4f}"
        + (f", sklearn BernoulliRBM {metrics['sklearn_rbm_accuracy']:.4f}" if "sklearn_rbm_accuracy" in metrics else ""),
        f"MLP accuracy: DBN-pretrained {metrics['test_accuracy']:.4f}, random init "
        f"{metrics['mlp_no_pretraining_accuracy']:.4f}",
    ])


def _plots(plots: Path, figures: dict[str, np.ndarray], history: list[dict[str, Any]], dataset: str) -> None:
    """Reconstructions, samples, filters and learning curves."""
    if len(figures["originals"]):
        plot_image_rows(plots / "reconstructions.png", [
            ("test digit", figures["originals"]), ("CD", figures["reconstructions/cd"]),
            ("PCD", figures["reconstructions/pcd"]),
        ], f"binarized {dataset} test images and their mean-field reconstructions")
    if "samples/pcd" in figures and len(figures["samples/pcd"]):
        rows = [row for method in ("pcd", "cd") for row in image_grid_rows(figures[f"samples/{method}"], label=method.upper())]
        plot_image_rows(plots / "samples.png", rows, "p(v|h) after long Gibbs chains: PCD's persistent chains, CD's from noise")
    for method in ("cd", "pcd"):
        w = figures[f"filters/{method}"]
        if len(w):
            plot_image_rows(plots / f"filters_{method}.png", image_grid_rows(w),
                            f"{method.upper()} RBM: weights of {len(w)} hidden units (min-max scaled)")
    curves: list[dict[str, float]] = []
    for row in history:
        stage = row["stage"]
        for key in ("train_reconstruction_error", "val_reconstruction_error", "val_pseudo_log_likelihood",
                    "val_accuracy", "val_loss"):
            if key in row:
                curves.append({"epoch": row["epoch"], f"{stage} {key}": row[key]})
    stages = list(dict.fromkeys(row["stage"] for row in history))
    rbm_stages = [s for s in stages if s not in ("finetune", "scratch")]
    groups = {
        "reconstruction error": [f"{s} {k}" for s in rbm_stages for k in ("train_reconstruction_error", "val_reconstruction_error")],
        "val pseudo-log-likelihood": [f"{s} val_pseudo_log_likelihood" for s in ("rbm-cd", "rbm-pcd")],
        "MLP val accuracy": [f"{s} val_accuracy" for s in ("finetune", "scratch")],
    }
    runs.plot_curves(plots / "learning_curves.png", curves, groups, title=f"RBMs, DBN and MLP on {dataset}")

