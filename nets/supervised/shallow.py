"""The five one-layer classifiers of nets/shallow.py trained by SGD on digits, each beside its
scikit-learn counterpart fitted on the same split.

    result = train(ShallowTask(), ImageSplits(train, val, test))
    result.metrics["models"]["hinge"]  # {"test_accuracy": ..., "sklearn_accuracy": ..., "sklearn_model": "SVC(kernel='linear')"}

Each model is ``nn.Linear(pixels, K)`` (K(K-1)/2 outputs for the pairwise hinge) trained with
minibatch SGD (momentum, cosine decay) on the training split, its best epoch picked by the
validation loss. The counterparts train on train+validation (they have no use for a validation
split), as benchmarks/supervised.py ``classic_baselines`` does. Pure: no printing, no files.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nets.data import ImageSplits
from nets.shallow import SHALLOW_LOSSES, HingeScheme, Shallow, ShallowConfig, ShallowLoss, class_scores, shallow_loss
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar, tagged
from nets.train import TrainConfig, accuracy, fit, predict


@dataclass(frozen=True)
class ShallowTask:
    """Which one-layer models to train, and how."""

    models: tuple[ShallowLoss, ...] = SHALLOW_LOSSES
    """Losses to train, one model each: perceptron, widrow_hoff, logistic, hinge, softmax."""
    hinge: HingeScheme = "ovo"
    """Multiclass hinge: ovo (pairwise outputs, as SVC(kernel='linear')), ovr (as LinearSVC) or crammer_singer."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=100, batch_size=64, optimizer="momentum", lr=0.1, schedule="cosine",
    ))
    """Optimisation of every model (SGD with momentum; l2 = 1 / (2 C n) would mimic sklearn's C)."""
    sklearn: bool = True
    """Also fit each model's scikit-learn counterpart on the same split."""

    def __post_init__(self) -> None:
        if not self.models or any(m not in SHALLOW_LOSSES for m in self.models):
            raise ValueError(f"models must be a non-empty subset of {', '.join(SHALLOW_LOSSES)}, got {self.models}")

    def quick(self) -> ShallowTask:
        """The seconds-long version: 5 epochs."""
        return replace(self, train=replace(self.train, epochs=5))

    def net_config(self, loss: ShallowLoss, in_features: int, classes: int) -> ShallowConfig:
        """The network of model ``loss``."""
        return ShallowConfig(in_features=in_features, classes=classes, loss=loss, hinge=self.hinge)


def train(cfg: ShallowTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train every model of ``cfg.models`` on ``(x [n, 1, H, W], y [n])`` splits (flattened
    inside); callback rows start with ``model``.

    Returns:
        ``model``: an ``nn.ModuleDict`` of the :class:`Shallow` networks by loss name; ``metrics``:
        ``models`` (per model: ``test_accuracy``, ``val_accuracy``, ``best_epoch``, ``wall_time`` and,
        with ``cfg.sklearn``, ``sklearn_model``, ``sklearn_accuracy``, ``sklearn_wall_time``, ``gap`` =
        ours - sklearn), ``test_accuracy`` and ``best_model`` (the best of ours), ``test_size``,
        ``wall_time``; ``history``: epoch rows tagged ``model``; ``figures``: the ``templates/<loss>``
        weight images ``[K, H, W]`` in [0, 1] of the one-output-per-class models.
    """
    start = time.perf_counter()
    shape = data.image_shape[-2:]
    flat = [(x.flatten(1), y) for x, y in data]
    classes = int(max(int(y.max()) for _, y in flat if len(y)) + 1)
    nets, table, history, figures = nn.ModuleDict(), {}, [], {}
    for loss in cfg.models:
        net_cfg = cfg.net_config(loss, flat[0][0].shape[1], classes)
        net, row, rows = train_one(net_cfg, cfg.train, flat[0], flat[1], flat[2], tagged(callbacks, model=loss))
        nets[loss], table[loss] = net, row
        history += [{"model": loss, **r} for r in rows]
        if not net_cfg.pairwise:
            figures[f"templates/{loss}"] = _templates(net.linear.weight.detach().cpu(), shape)
    if cfg.sklearn:
        x_fit = torch.cat([flat[0][0], flat[1][0]]).numpy()
        y_fit = torch.cat([flat[0][1], flat[1][1]]).numpy()
        for loss, row in sklearn_counterparts(cfg, x_fit, y_fit, flat[2][0].numpy(), flat[2][1].numpy()).items():
            table[loss].update(row, gap=table[loss]["test_accuracy"] - row["sklearn_accuracy"])
    best = max(table, key=lambda k: table[k]["test_accuracy"])
    metrics: dict[str, Any] = {
        "models": table, "test_accuracy": table[best]["test_accuracy"], "best_model": best,
        "hinge_scheme": cfg.hinge, "test_size": len(flat[2][1]), "wall_time": time.perf_counter() - start,
    }
    return SupervisedResult(nets, metrics, history, figures)


def train_one(
    net_cfg: ShallowConfig, train_cfg: TrainConfig, train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor], test_data: tuple[torch.Tensor, torch.Tensor],
    callbacks: Sequence[Callback] = (),
) -> tuple[Shallow, dict[str, Any], list[dict[str, float]]]:
    """One model on flat ``(x [n, D], y [n])`` splits: ``(network, its table row, epoch rows)``."""
    torch.manual_seed(train_cfg.seed)
    net = Shallow(net_cfg)

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return shallow_loss(net_cfg, model(batch[0]), batch[1])

    def evaluate(model: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, float]:
        scores = predict(model, val[0])
        labels = val[1].to(scores.device)
        return {"val_loss": float(shallow_loss(net_cfg, scores, labels)),
                "val_accuracy": accuracy(class_scores(net_cfg, scores), labels)}

    result = fit(net, train_data, loss_fn, train_cfg, val=val_data, evaluate=evaluate, monitor="val_loss",
                 mode="min", callbacks=callbacks)
    scores = class_scores(net_cfg, predict(result.model, test_data[0])).cpu()
    row = {"test_accuracy": accuracy(scores, test_data[1]), "val_accuracy": result.best.get("val_accuracy"),
           "best_epoch": result.best_epoch, "wall_time": result.wall_time}
    return result.model, row, result.history  # type: ignore[return-value]


def checkpoints(cfg: ShallowTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint per model (``checkpoints/<loss>``), with its row of the models table."""
    return {f"checkpoints/{name}": Part(model, {
        "loss": name, "config": dataclasses.asdict(model.cfg), "task": dataclasses.asdict(cfg),
        "image_shape": list(data.image_shape), "metrics": result.metrics["models"][name],
    }) for name, model in result.model.items()}


def build(sidecar: dict[str, Any]) -> Shallow:
    """The network of one shallow checkpoint; ``nets.shallow.class_scores(model.cfg, model(x))``
    gives its class scores."""
    return Shallow(from_sidecar(ShallowConfig, sidecar["config"]))


class LogisticResult(NamedTuple):
    """A logistic regression picked on validation: accuracies, its L2 weight, and its classifier."""

    test_accuracy: float
    val_accuracy: float
    l2: float
    classifier: nn.Linear


def logistic_regression(
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    l2_grid: Sequence[float],
    n_classes: int,
    max_iter: int = 300,
) -> LogisticResult:
    """Multinomial logistic regression on features ``[n, D]``, one full-batch L-BFGS fit per L2
    weight (loss: mean cross-entropy + ``l2 / 2 * |W|^2``, scikit-learn's ``C = 1 / (l2 * n)``);
    the fit with the best validation accuracy (the larger L2 on ties) is tested."""
    best: LogisticResult | None = None
    x, y = train_data[0].detach().float(), train_data[1].to(train_data[0].device)
    for l2 in sorted(l2_grid, reverse=True):
        linear = nn.Linear(x.shape[1], n_classes).to(x.device)
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
        opt = torch.optim.LBFGS(linear.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(linear(x), y) + 0.5 * l2 * (linear.weight**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        val = predict(linear, val_data[0].float()) if len(val_data[1]) else None
        val_acc = accuracy(val, val_data[1]) if val is not None else 0.0
        if best is None or val_acc > best.val_accuracy:
            best = LogisticResult(accuracy(predict(linear, test_data[0].float()), test_data[1]), val_acc, l2, linear)
    assert best is not None
    return best


def sklearn_counterparts(cfg: ShallowTask, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                         y_test: np.ndarray) -> dict[str, dict[str, Any]]:
    """scikit-learn's model for each of ``cfg.models`` (default hyperparameters, C = 1), fitted on
    ``x_train [n, D]``: ``{loss: {"sklearn_model", "sklearn_accuracy", "sklearn_wall_time"}}``."""
    out = {}
    for loss in cfg.models:
        name, model = _sklearn_model(loss, cfg.hinge, cfg.train.seed)
        t0 = time.perf_counter()
        with warnings.catch_warnings():  # liblinear's convergence notes; the score says enough
            warnings.simplefilter("ignore")
            model.fit(x_train, y_train)
        out[loss] = {"sklearn_model": name, "sklearn_accuracy": float(model.score(x_test, y_test)),
                     "sklearn_wall_time": time.perf_counter() - t0}
    return out


def _sklearn_model(loss: ShallowLoss, hinge: HingeScheme, seed: int) -> tuple[str, Any]:
    """``(name, unfitted estimator)``: the scikit-learn classifier with the same model and loss."""
    from sklearn.linear_model import LogisticRegression, Perceptron, RidgeClassifier
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import SVC, LinearSVC

    if loss == "perceptron":
        return "Perceptron", Perceptron(random_state=seed)
    if loss == "widrow_hoff":
        return "RidgeClassifier", RidgeClassifier(alpha=1.0)
    if loss == "logistic":
        return ("OneVsRestClassifier(LogisticRegression(solver='liblinear'))",
                OneVsRestClassifier(LogisticRegression(solver="liblinear")))  # as accurate as lbfgs here, 15x faster
    if loss == "hinge" and hinge == "ovo":
        return "SVC(kernel='linear')", SVC(kernel="linear", C=1.0)
    if loss == "hinge":
        return (f"LinearSVC(loss='hinge', multi_class='{hinge}')",
                LinearSVC(loss="hinge", multi_class=hinge, C=1.0, max_iter=20_000, random_state=seed))
    return "LogisticRegression (multinomial)", LogisticRegression(max_iter=5000)


def _templates(weight: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of a weight matrix ``[K, H * W]`` as images ``[K, H, W]``, each scaled to [0, 1]."""
    w = weight - weight.amin(1, keepdim=True)
    return (w / w.amax(1, keepdim=True).clamp_min(1e-12)).reshape(-1, *shape).numpy()
