"""A fully connected digits classifier with a depth/activation switch: the MLP of nets/mlp.py
on flattened images, with the norm, residual, dropout and init scheme chosen by flags.

    result = train(MLPTask(depth=3, activation="tanh"), ImageSplits(train, val, test))
    result.metrics["test_accuracy"]

The defaults (2 x 256 ReLU, batch norm, dropout, shift/rotate augmentation, AdamW with a
one-cycle schedule) are a strong plain MLP; deep sigmoid stacks show why nobody uses them
(see nets/supervised/gradients.py). Pure: no printing, no files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from nets.data import ImageSplits, random_shift_rotate
from nets.init import InitScheme, init_weights
from nets.mlp import MLP, ActivationName, MLPConfig, NormName
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar
from nets.train import TrainConfig, accuracy, classification_loss, classification_metrics, fit, predict


@dataclass(frozen=True)
class MLPTask:
    """The classifier's shape, initialization and training."""

    depth: int = 2
    """Hidden layers."""
    width: int = 256
    """Units per hidden layer."""
    activation: ActivationName = "relu"
    """Nonlinearity of every hidden layer (relu, tanh, sigmoid, gelu, elu, leaky_relu, identity)."""
    norm: NormName = "batch"
    """Normalization before each activation: none, batch or layer."""
    residual: bool = False
    """Skip connection around every hidden layer whose input and output widths match."""
    dropout: float = 0.2
    """Dropout after every hidden activation."""
    init: InitScheme = "default"
    """Weight init: default (PyTorch's), xavier_uniform/normal, he_uniform/normal, orthogonal."""
    gain: float | None = None
    """Init gain (None: the scheme's usual one; not allowed with default)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=60, batch_size=64, optimizer="adamw", lr=3e-3, weight_decay=1e-3, schedule="onecycle",
    ))
    """Optimisation."""
    augment: bool = True
    """Random shifts and rotations of the training images (before flattening)."""
    max_shift: float = 1.0
    """Largest shift in pixels on 8x8 (scaled with the image size)."""
    max_degrees: float = 12.0
    """Largest rotation in degrees."""
    label_smoothing: float = 0.05
    """Cross-entropy label smoothing."""

    def __post_init__(self) -> None:
        if self.depth < 0 or self.width < 1:
            raise ValueError(f"need depth >= 0 and width >= 1, got depth={self.depth}, width={self.width}")

    def quick(self) -> MLPTask:
        """The seconds-long version: 5 epochs."""
        return replace(self, train=replace(self.train, epochs=5))

    def net_config(self, in_features: int, out_features: int) -> MLPConfig:
        """The ``MLPConfig`` these flags describe, for inputs of ``in_features`` pixels."""
        return MLPConfig(in_features=in_features, out_features=out_features, hidden=(self.width,) * self.depth,
                         activation=self.activation, dropout=self.dropout, norm=self.norm, residual=self.residual)


def build_model(cfg: MLPTask, in_features: int, out_features: int) -> MLP:
    """A freshly initialized MLP for ``cfg`` (the caller seeds torch)."""
    return init_weights(MLP(cfg.net_config(in_features, out_features)), cfg.init, cfg.gain)


def train(cfg: MLPTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train on ``(x [n, 1, H, W], y [n])`` splits (flattened inside); the best validation
    accuracy's weights are kept and tested.

    Returns:
        The model (input ``[B, H * W]``), metrics (``test_accuracy``, ...), per-epoch history,
        and the misclassified test images as figures.
    """
    train_data, val_data, test_data = data
    size = train_data[0].shape[-1]
    n_classes = int(max(int(y.max()) for _, y in (train_data, val_data, test_data) if len(y)) + 1)
    torch.manual_seed(cfg.train.seed)  # the init; fit reseeds the same way for batches
    model = build_model(cfg, train_data[0][0].numel(), n_classes)
    shift = cfg.max_shift * size / 8
    flat = lambda data: (data[0].flatten(1), data[1])  # noqa: E731  (n, H * W)

    def augment(batch: tuple[torch.Tensor, ...], g: torch.Generator) -> tuple[torch.Tensor, ...]:
        images = batch[0].view(-1, 1, size, size)  # (B, 1, H, W)
        return (random_shift_rotate(images, shift, cfg.max_degrees, g).flatten(1), batch[1])

    result = fit(
        model, flat(train_data), classification_loss(cfg.label_smoothing), cfg.train, val=flat(val_data), evaluate=classification_metrics,
        monitor="val_loss", mode="min", augment=augment if cfg.augment else None, callbacks=callbacks,
    )
    logits = predict(result.model, test_data[0].flatten(1)).cpu()
    predicted = logits.argmax(1)
    wrong = (predicted != test_data[1]).nonzero()[:, 0][:32]
    metrics = {
        "test_accuracy": accuracy(logits, test_data[1]),
        "test_errors": int((predicted != test_data[1]).sum()),
        "test_size": len(test_data[1]),
        "best_epoch": result.best_epoch,
        "val_accuracy": result.best.get("val_accuracy"),
        "wall_time": result.wall_time,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    figures = {
        "misclassified": test_data[0][wrong, 0].numpy(),
        "misclassified_labels": torch.stack([test_data[1][wrong], predicted[wrong]], 1).numpy(),
    }
    return SupervisedResult(result.model, metrics, result.history, figures)


def checkpoints(cfg: MLPTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint: the network, its task and its ``MLPConfig``."""
    return {"model": Part(result.model, {"config": dataclasses.asdict(cfg), "net": dataclasses.asdict(result.model.cfg),
                                         "image_size": data.image_shape[-1]})}


def build(sidecar: dict[str, Any]) -> MLP:
    """The network of an mlp checkpoint (its ``net`` field)."""
    return MLP(from_sidecar(MLPConfig, sidecar["net"]))
