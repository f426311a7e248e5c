"""The vanishing-gradient picture: per-layer gradient norms of deep MLPs on digits.

For deep sigmoid, tanh, ReLU and residual networks (the same depth and width) it records the
norm of the loss gradient with respect to every hidden ``Linear``'s weight, at initialization
(averaged over a few batches) and at chosen epochs of training, then each network's test
accuracy. A sigmoid's slope is at most 1/4, so even with Glorot's init each layer shrinks the
backward signal several-fold and the first layer's gradient is orders of magnitude below the
last one's (Glorot & Bengio 2010); skip connections give the gradient a path around every layer
(He et al. 2016), so a residual network's profile stays nearly flat.

    result = train(GradientsTask(), ImageSplits(train, val, test))  # model: {network: MLP}
    result.metrics["first_to_last_ratio"]["sigmoid"]  # ~1e-9 at depth 15 (residual: ~0.1)

Pure: no printing, no files (``arena supervised gradients`` draws the plots).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from nets.data import ImageSplits
from nets.init import InitScheme, init_weights
from nets.mlp import MLP, MLPConfig
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar, tagged
from nets.train import EpochLog, TrainConfig, accuracy, classification_loss, classification_metrics, fit, predict, seed_everything

NetworkName = Literal["sigmoid", "tanh", "relu", "relu_bn", "residual", "residual_bn"]


class NetworkSpec(NamedTuple):
    """How a named network differs from the others (same depth and width for all)."""

    activation: Literal["sigmoid", "tanh", "relu"]
    residual: bool
    norm: Literal["none", "batch"]
    init: InitScheme  # each activation's usual init, so the comparison is not rigged


NETWORKS: dict[str, NetworkSpec] = {
    "sigmoid": NetworkSpec("sigmoid", False, "none", "xavier_normal"),  # Glorot & Bengio 2010
    "tanh": NetworkSpec("tanh", False, "none", "xavier_normal"),
    "relu": NetworkSpec("relu", False, "none", "he_normal"),  # He et al. 2015
    "relu_bn": NetworkSpec("relu", False, "batch", "he_normal"),
    # PyTorch's default init (weight variance 1/(3 fan_in)) keeps the un-normalized residual sum
    # from doubling its variance at every block, as He init would (2^depth at the top).
    "residual": NetworkSpec("relu", True, "none", "default"),
    "residual_bn": NetworkSpec("relu", True, "batch", "he_normal"),
}


@dataclass(frozen=True)
class GradientsTask:
    """Which deep networks to compare, and how they are probed and trained."""

    networks: tuple[NetworkName, ...] = ("sigmoid", "tanh", "relu", "residual", "residual_bn")
    """Networks to compare (see ``NETWORKS``): sigmoid, tanh, relu, relu_bn, residual, residual_bn."""
    depth: int = 15
    """Hidden layers per network."""
    width: int = 64
    """Units per hidden layer (64 = the digits' pixels, so the first layer has a skip too)."""
    init: InitScheme | None = None
    """Override every network's init scheme (None: each activation's usual one, see NETWORKS)."""
    probe_batches: int = 8
    """Training batches averaged over for each gradient-norm measurement."""
    record_epochs: tuple[int, ...] = (1, 5, 20, 40)
    """Epochs after which the gradient norms are measured again (besides at init)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=40, batch_size=64, optimizer="momentum", lr=0.02, grad_clip=5.0,
    ))
    """Optimisation, the same for every network. Plain SGD with momentum feels vanishing
    gradients as they are; Adam rescales each weight's step and would hide much of them."""

    def __post_init__(self) -> None:
        unknown = [n for n in self.networks if n not in NETWORKS]
        if unknown or not self.networks:
            raise ValueError(f"unknown networks {unknown}; choose from {sorted(NETWORKS)}")
        if self.depth < 2 or self.width < 1 or self.probe_batches < 1:
            raise ValueError(f"need depth >= 2, width >= 1, probe_batches >= 1 (got {self.depth}, "
                             f"{self.width}, {self.probe_batches})")

    def quick(self) -> GradientsTask:
        """The seconds-long version: 3 epochs, two probe batches, norms recorded after epochs 1 and 3."""
        return replace(self, probe_batches=2, record_epochs=(1, 3), train=replace(self.train, epochs=3))


def network_config(name: str, depth: int, width: int, in_features: int, out_features: int) -> MLPConfig:
    """The ``MLPConfig`` of a named network (see ``NETWORKS``)."""
    spec = NETWORKS[name]
    return MLPConfig(in_features=in_features, out_features=out_features, hidden=(width,) * depth,
                     activation=spec.activation, norm=spec.norm, residual=spec.residual)


def build_network(name: str, task: GradientsTask, in_features: int, out_features: int) -> MLP:
    """A freshly initialized named network (the caller seeds torch)."""
    model = MLP(network_config(name, task.depth, task.width, in_features, out_features))
    return init_weights(model, task.init if task.init is not None else NETWORKS[name].init)


def layer_gradient_norms(model: MLP, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """Mean Frobenius norm of d(cross-entropy)/d(weight) of every hidden Linear, input side first.

    Each batch ``(x [B, F], y [B])`` gets its own backward pass (the norms are averaged over
    batches, not taken of the averaged gradient). The forward runs in train mode, as in training
    (batch norm uses batch statistics), on a copy of ``model``: neither its weights, its
    gradients nor its batch-norm running statistics change.

    Returns:
        ``len(model.hidden_layers())`` floats.
    """
    probe = copy.deepcopy(model).train()
    layers = probe.hidden_layers()
    device = layers[0].weight.device
    totals = torch.zeros(len(layers), dtype=torch.float64)
    for x, y in batches:
        probe.zero_grad(set_to_none=True)
        F.cross_entropy(probe(x.to(device)), y.to(device)).backward()
        totals += torch.stack([layer.weight.grad.norm().double().cpu() for layer in layers])
    return (totals / len(batches)).tolist()


def first_to_last_ratio(norms: Sequence[float]) -> float:
    """First hidden layer's gradient norm over the last one's: << 1 means vanishing gradients."""
    return float(norms[0] / norms[-1]) if norms[-1] > 0 else float("inf")


def probe_batches(x: torch.Tensor, y: torch.Tensor, count: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` random batches (drawn with a fixed seed, so every network sees the same ones)."""
    g = torch.Generator().manual_seed(seed)
    picks = [torch.randperm(len(y), generator=g)[:batch_size] for _ in range(count)]
    return [(x[idx], y[idx]) for idx in picks]


def train(cfg: GradientsTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Probe and train every network of ``cfg`` on ``(x [n, ...], y [n])`` splits (flattened to
    ``[n, F]`` inside); callback rows start with ``network``.

    Returns:
        ``model``: an ``nn.ModuleDict`` of the MLPs by network name; ``metrics``: per network,
        ``gradient_norms`` (``{"init": [...], "epoch_k": [...]}``, one float per hidden layer),
        the init ``first_to_last_ratio`` and the ``test_accuracy`` of the best-validation weights,
        each keyed by network, ``networks`` (every network's numbers but its norms) and
        ``wall_time``; ``history``: epoch rows tagged ``network``.
    """
    start = time.perf_counter()
    flat = [(x.flatten(1), y) for x, y in data]
    (x_train, y_train), val, (x_test, y_test) = flat
    n_classes = int(max(int(y.max()) for _, y in flat if len(y)) + 1)
    probes = probe_batches(x_train, y_train, cfg.probe_batches, cfg.train.batch_size, cfg.train.seed)
    models, history, per = nn.ModuleDict(), [], {}
    for name in cfg.networks:
        model, per[name], rows = _train_one(name, cfg, (x_train, y_train), val, (x_test, y_test), n_classes, probes,
                                            tagged(callbacks, network=name))
        models[name] = model
        history += [{"network": name, **row} for row in rows]
    metrics = {
        "gradient_norms": {n: m["gradient_norms"] for n, m in per.items()},
        "first_to_last_ratio": {n: m["first_to_last_ratio"] for n, m in per.items()},
        "test_accuracy": {n: m["test_accuracy"] for n, m in per.items()},
        "networks": {n: {k: v for k, v in m.items() if k != "gradient_norms"} for n, m in per.items()},
        "wall_time": time.perf_counter() - start,
    }
    return SupervisedResult(models, metrics, history, {})


def checkpoints(cfg: GradientsTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint per network, with its own metrics (all but the gradient norms)."""
    return {f"checkpoints/{name}": Part(model, {
        "network": name, "config": dataclasses.asdict(cfg), "net": dataclasses.asdict(model.cfg),
        "image_size": data.image_shape[-1], "metrics": result.metrics["networks"][name],
    }) for name, model in result.model.items()}


def build(sidecar: dict[str, Any]) -> MLP:
    """The network of one gradients checkpoint (its ``net`` field)."""
    return MLP(from_sidecar(MLPConfig, sidecar["net"]))


def _train_one(
    name: str, cfg: GradientsTask, train_data: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor], n_classes: int,
    probes: list[tuple[torch.Tensor, torch.Tensor]], callbacks: Sequence[Callback],
) -> tuple[MLP, dict[str, Any], list[dict[str, float]]]:
    """Build, probe at init, train (probing at ``record_epochs``) and test one network:
    ``(model, its metrics, its epoch rows)``."""
    seed_everything(cfg.train.seed)
    model = build_network(name, cfg, train_data[0].shape[1], n_classes)
    norms = {"init": layer_gradient_norms(model, probes)}

    def record(log: EpochLog) -> None:
        if log.epoch in cfg.record_epochs:
            norms[f"epoch_{log.epoch}"] = layer_gradient_norms(model, probes)

    result = fit(model, train_data, classification_loss(), cfg.train, val=val, evaluate=classification_metrics, monitor="val_accuracy",
                 mode="max", callbacks=[record, *callbacks])
    metrics = {
        "test_accuracy": accuracy(predict(result.model, test[0]), test[1]),
        "val_accuracy": result.best.get("val_accuracy"),
        "best_epoch": result.best_epoch,
        "final_train_loss": result.history[-1]["train_loss"] if result.history else None,
        "first_to_last_ratio": first_to_last_ratio(norms["init"]),
        "gradient_norms": norms,
        "wall_time": result.wall_time,
    }
    return result.model, metrics, result.history  # type: ignore[return-value]
