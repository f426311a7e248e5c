"""A radial basis function network on digits (nets/rbf.py): k-means prototypes, Gaussian hidden
layer, closed-form ridge readout, then optional end-to-end fine-tuning; beside scikit-learn's
RBF-kernel SVM on the same split.

    result = train(RbfTask(prototypes=200), ImageSplits(train, val, test))
    result.metrics["test_accuracy"], result.metrics["sweep"]["50"]

The same recipe runs for every prototype count of ``sweep`` (the accuracy-vs-k figure). Fine-tuning
moves centers, widths and readout together by Adam on the squared error to one-hot targets (the
loss the ridge readout minimises, so the two stages agree); the validation split keeps the best
epoch, or the two-stage network when no epoch beat it. Pure: no printing, no files.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nets.data import ImageSplits
from nets.rbf import RBFConfig, RBFNetwork, WidthRule, init_rbf
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar, tagged
from nets.train import TrainConfig, accuracy, fit, predict


@dataclass(frozen=True)
class RbfTask:
    """The RBF network's shape, its two-stage fit and its fine-tuning."""

    prototypes: int = 200
    """Gaussian hidden units (k-means centers) of the headline network."""
    width: WidthRule = "shared"
    """shared: one width, the mean distance between prototypes; nearest: per prototype, from its neighbors."""
    width_scale: float = 1.0
    """Multiplies the width rule's distance."""
    neighbors: int = 5
    """Nearest prototypes averaged by the nearest width rule."""
    ridge: float = 1e-3
    """Ridge penalty of the closed-form readout."""
    kmeans_iterations: int = 100
    """Most Lloyd iterations (it stops sooner when the inertia stalls)."""
    fine_tune: bool = True
    """Fine-tune centers, widths and readout end to end after the two-stage fit."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=30, batch_size=64, optimizer="adam", lr=3e-3, schedule="cosine",
    ))
    """Fine-tuning (its seed also seeds k-means)."""
    sweep: tuple[int, ...] = (25, 50, 100, 200)
    """Prototype counts for the accuracy-vs-prototypes figure (the headline count is always run)."""
    sklearn: bool = True
    """Also fit scikit-learn's SVC(kernel='rbf', C=10, gamma='scale') on the same split."""

    def __post_init__(self) -> None:
        if self.prototypes < 1 or any(k < 1 for k in self.sweep):
            raise ValueError(f"prototype counts must be positive, got {self.prototypes} and sweep {self.sweep}")
        if self.width_scale <= 0 or self.ridge < 0:
            raise ValueError(f"need width_scale > 0 and ridge >= 0, got {self.width_scale}, {self.ridge}")

    def quick(self) -> RbfTask:
        """The seconds-long version (at most 300 training images): fewer prototypes, few epochs."""
        return replace(self, prototypes=min(self.prototypes, 50), sweep=(10, 25, 50),
                       train=replace(self.train, epochs=5))

    @property
    def counts(self) -> tuple[int, ...]:
        """Every prototype count to run, ascending (the sweep and the headline count)."""
        return tuple(sorted(set(self.sweep) | {self.prototypes}))

    def net_config(self, prototypes: int, in_features: int, classes: int) -> RBFConfig:
        """The network with ``prototypes`` Gaussian units."""
        return RBFConfig(in_features=in_features, prototypes=prototypes, classes=classes, width=self.width)


def train(cfg: RbfTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Fit RBF networks with every count of ``cfg.counts`` on ``(x [n, 1, H, W], y [n])`` splits;
    the rows of fine-tuning epochs given to the callbacks start with ``prototypes``.

    Returns:
        ``model``: the headline :class:`RBFNetwork` (input ``[B, H * W]``); ``metrics``:
        ``test_accuracy``, ``two_stage_test_accuracy`` (before fine-tuning), ``val_accuracy``,
        ``fine_tune_kept``, ``sweep`` (``{str(k): {"test_accuracy", "two_stage_test_accuracy"}}``),
        ``sklearn_model``/``sklearn_accuracy``, k-means figures, sizes and ``wall_time``;
        ``history``: fine-tuning epoch rows tagged ``prototypes``; ``figures``: ``prototypes``
        (the centers as images ``[k, H, W]`` in [0, 1]) and ``kmeans_inertia`` ``[iterations]``.
    """
    start = time.perf_counter()
    shape = data.image_shape[-2:]
    flat = [(x.flatten(1), y) for x, y in data]
    classes = int(max(int(y.max()) for _, y in flat if len(y)) + 1)
    sweep, history, headline = {}, [], None
    for k in cfg.counts:
        if k > len(flat[0][1]):
            continue  # more prototypes than training points (only with tiny data)
        net_cfg = cfg.net_config(k, flat[0][0].shape[1], classes)
        net, row, rows, inertia = train_one(cfg, net_cfg, *flat, tagged(callbacks, prototypes=k))
        sweep[str(k)] = {key: row[key] for key in ("test_accuracy", "two_stage_test_accuracy")}
        history += [{"prototypes": k, **r} for r in rows]
        if k == min(cfg.prototypes, len(flat[0][1])):
            headline = (net, row, inertia)
    if headline is None:
        raise ValueError(f"no prototype count fits {len(flat[0][1])} training images")
    net, row, inertia = headline
    metrics: dict[str, Any] = {
        **row, "sweep": sweep, "kmeans_iterations": len(inertia), "kmeans_inertia": inertia[-1],
        "test_size": len(flat[2][1]), "parameters": sum(p.numel() for p in net.parameters()),
    }
    if cfg.sklearn:
        metrics.update(sklearn_rbf_svm(flat[0], flat[1], flat[2]))
    metrics["wall_time"] = time.perf_counter() - start
    figures = {"prototypes": net.centers.detach().cpu().clamp(0, 1).reshape(-1, *shape).numpy(),
               "kmeans_inertia": np.asarray(inertia)}
    return SupervisedResult(net, metrics, history, figures)


def train_one(
    cfg: RbfTask, net_cfg: RBFConfig, train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor], test_data: tuple[torch.Tensor, torch.Tensor],
    callbacks: Sequence[Callback] = (),
) -> tuple[RBFNetwork, dict[str, Any], list[dict[str, float]], list[float]]:
    """One network on flat splits: ``(network, metrics row, fine-tuning epoch rows, k-means inertia)``."""
    torch.manual_seed(cfg.train.seed)
    net = RBFNetwork(net_cfg)
    km = init_rbf(net, *train_data, generator=torch.Generator().manual_seed(cfg.train.seed), scale=cfg.width_scale,
                  neighbors=cfg.neighbors, ridge=cfg.ridge, iterations=cfg.kmeans_iterations)
    two_stage = _test_accuracy(net, test_data)
    row: dict[str, Any] = {"two_stage_test_accuracy": two_stage, "test_accuracy": two_stage, "fine_tune_kept": False,
                           "best_epoch": 0, "fine_tune_wall_time": 0.0}
    history: list[dict[str, float]] = []
    has_val = len(val_data[1]) > 0
    if has_val:
        row["val_accuracy"] = evaluate(net, val_data)["val_accuracy"]
    if cfg.fine_tune and cfg.train.epochs > 0:
        before = evaluate(net, val_data)["val_loss"] if has_val else float("inf")
        state = copy.deepcopy(net.state_dict())
        result = fit(net, train_data, squared_loss, cfg.train, val=val_data, evaluate=evaluate, monitor="val_loss",
                     mode="min", callbacks=callbacks)
        history = result.history
        row["fine_tune_wall_time"] = result.wall_time
        if result.best.get("val_loss", before) < before or not has_val:
            row.update(fine_tune_kept=True, best_epoch=result.best_epoch, test_accuracy=_test_accuracy(net, test_data))
            if has_val:
                row["val_accuracy"] = result.best["val_accuracy"]
        else:
            net.load_state_dict(state)  # no epoch beat the two-stage network on validation
    net.eval()
    return net, row, history, km.inertia


def checkpoints(cfg: RbfTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint: the headline network, its ``RBFConfig`` and the task."""
    return {"model": Part(result.model, {"config": dataclasses.asdict(result.model.cfg), "task": dataclasses.asdict(cfg),
                                         "image_shape": list(data.image_shape)})}


def build(sidecar: dict[str, Any]) -> RBFNetwork:
    """The network of an rbf checkpoint (its ``config`` field)."""
    return RBFNetwork(from_sidecar(RBFConfig, sidecar["config"]))


def squared_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``loss_fn`` for ``fit``: mean over the batch of ``|model(x) - onehot(y)|^2 / 2``."""
    out = model(batch[0])
    return 0.5 * (out - F.one_hot(batch[1], out.shape[1]).to(out.dtype)).pow(2).sum(1).mean()


@torch.no_grad()
def evaluate(model: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """``evaluate`` for ``fit``: ``val_loss`` (the squared loss) and ``val_accuracy``."""
    out = predict(model, val[0])
    labels = val[1].to(out.device)
    loss = 0.5 * (out - F.one_hot(labels, out.shape[1]).to(out.dtype)).pow(2).sum(1).mean()
    return {"val_loss": float(loss), "val_accuracy": accuracy(out, labels)}


def sklearn_rbf_svm(*splits: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
    """scikit-learn's RBF-kernel SVM (the settings of benchmarks/supervised.py) fitted on train+val
    of flat ``(train, val, test)`` splits: ``sklearn_model``, ``sklearn_accuracy``, ``sklearn_wall_time``."""
    from sklearn.svm import SVC

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    x_fit, y_fit = torch.cat([x_train, x_val]).numpy(), torch.cat([y_train, y_val]).numpy()
    t0 = time.perf_counter()
    model = SVC(kernel="rbf", C=10.0, gamma="scale").fit(x_fit, y_fit)
    return {"sklearn_model": "SVC(kernel='rbf', C=10, gamma='scale')",
            "sklearn_accuracy": float(model.score(x_test.numpy(), y_test.numpy())),
            "sklearn_wall_time": time.perf_counter() - t0}


def _test_accuracy(net: nn.Module, test: tuple[torch.Tensor, torch.Tensor]) -> float:
    return accuracy(predict(net, test[0]).cpu(), test[1])
