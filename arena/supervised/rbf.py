"""``arena supervised rbf``: a radial basis function network on digits (nets/supervised/rbf.py), beside
scikit-learn's RBF-kernel SVM fitted on the same split.

Writes ``metrics.json`` (``test_accuracy``, ``two_stage_test_accuracy``, ``sweep`` by prototype count,
``sklearn_model``/``sklearn_accuracy``), ``metrics.jsonl`` (fine-tuning epoch rows tagged
``prototypes``, then one ``stage: "sweep"`` row per prototype count), ``plots/accuracy_vs_prototypes.png``,
``plots/prototypes.png`` (the k-means centers as images), ``plots/kmeans_inertia.png``,
``plots/learning_curves.png`` (with fine-tuning) and ``model.safetensors`` (rebuilt by :func:`load_rbf`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import tyro

from arena.io import runs
from arena.supervised.common import Bar, image_grid_rows, load_model, plot_image_rows
from arena.supervised.runner import ImageScript, run
from nets.rbf import RBFNetwork
from nets.supervised import SupervisedResult, rbf

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.io.runs chose the Agg backend)


@dataclass(frozen=True)
class RbfCommand(ImageScript):
    """RBF network (k-means prototypes, Gaussian units, ridge readout, end-to-end fine-tuning) vs an RBF SVM."""

    task: Annotated[rbf.RbfTask, tyro.conf.arg(name="")] = field(default_factory=rbf.RbfTask)
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified); scikit-learn fits on train+validation."""

    trainer = rbf

    def bar(self, task: rbf.RbfTask) -> Bar:
        epochs = task.train.epochs if task.fine_tune else 0
        return Bar(max(1, epochs * len(task.counts)), ("val_accuracy",), tags=("prototypes",), clock=False)

    def describe(self, task: rbf.RbfTask, data: Any) -> dict[str, Any]:
        return {**super().describe(task, data), "width": task.width}

    def show(self, run_dir: Path, task: rbf.RbfTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        for k, row in result.metrics["sweep"].items():  # after the fine-tuning rows
            runs.append_metrics(run_dir, {"stage": "sweep", "prototypes": int(k), **row})
        _plots(run_dir / "plots", result.history, result.figures, metrics)
        svm = f", {metrics['sklearn_model']} {metrics['sklearn_accuracy']:.4f}" if "sklearn_accuracy" in metrics else ""
        return (f"rbf {metrics['parameters']} parameters ({result.model.cfg.prototypes} prototypes) on {self.dataset}: "
                f"test accuracy {metrics['test_accuracy']:.4f} (two-stage {metrics['two_stage_test_accuracy']:.4f}){svm}; "
                f"{metrics['wall_time']:.0f} s")


def run_rbf(cmd: RbfCommand) -> Path:
    """Fit the RBF networks of the sweep and the headline one, and write the run folder."""
    return run(cmd)


def load_rbf(path: str | Path) -> RBFNetwork:
    """Rebuild a network saved by ``arena supervised rbf`` (eval mode, CPU), without pickle."""
    return load_model(path, rbf.build, ("rbf",), "an RBF network")[0]  # type: ignore[return-value]


def plot_accuracy_vs_prototypes(path: Path, metrics: dict[str, Any], title: str = "") -> Path:
    """Test accuracy against the number of prototypes (two-stage and fine-tuned), the SVM dashed."""
    counts = [int(k) for k in metrics["sweep"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(counts, [r["two_stage_test_accuracy"] for r in metrics["sweep"].values()], "o-", ms=4,
            label="k-means + ridge readout")
    if any(r["test_accuracy"] != r["two_stage_test_accuracy"] for r in metrics["sweep"].values()):
        ax.plot(counts, [r["test_accuracy"] for r in metrics["sweep"].values()], "s-", ms=4, label="fine-tuned end to end")
    if "sklearn_accuracy" in metrics:
        ax.axhline(metrics["sklearn_accuracy"], color="k", ls="--", lw=1, label=metrics["sklearn_model"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(k) for k in counts])
    ax.set_xlabel("prototypes (Gaussian units)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return runs.save_figure(fig, path)


def _plots(plots: Path, history: list[dict[str, Any]], figures: dict[str, np.ndarray], metrics: dict[str, Any]) -> None:
    """Accuracy against prototypes, the prototypes, the k-means inertia, fine-tuning curves."""
    plot_accuracy_vs_prototypes(plots / "accuracy_vs_prototypes.png", metrics, f"RBF network on {metrics['dataset']}")
    centers = figures["prototypes"]
    cols = 20 if len(centers) >= 100 else 10  # one imshow: a subplot per image takes seconds for 200
    plot_image_rows(plots / "prototypes.png", image_grid_rows(centers, cols),
                    f"{len(centers)} prototypes (k-means centers{', fine-tuned' if metrics['fine_tune_kept'] else ''})")
    inertia = figures["kmeans_inertia"]
    runs.plot_curves(plots / "kmeans_inertia.png", [{"iteration": i + 1, "inertia": v} for i, v in enumerate(inertia)],
                     {"k-means inertia": ["inertia"]}, x="iteration", title="Lloyd iterations from k-means++ seeds")
    if history:
        names = sorted({r["prototypes"] for r in history})
        rows = [{k: v for k, v in (("epoch", r["epoch"]), (f"k={r['prototypes']} acc", r.get("val_accuracy")),
                                   (f"k={r['prototypes']} loss", r["train_loss"])) if v is not None} for r in history]
        runs.plot_curves(plots / "learning_curves.png", rows,
                         {"val accuracy": [f"k={k} acc" for k in names], "train loss": [f"k={k} loss" for k in names]},
                         title="end-to-end fine-tuning (squared error to one-hot)")
