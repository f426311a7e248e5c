"""A convolutional digits classifier: conv + batch norm + pooling stacks, trained with random
shifts and rotations and a one-cycle schedule. Goal: >= 99% test accuracy on scikit-learn's
digits, above an RBF-kernel SVM on the same split (benchmarks/supervised.py prints both)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nets.conv import CNN, CNNConfig
from nets.data import random_shift_rotate
from nets.supervised import SupervisedResult
from nets.train import EpochLog, TrainConfig, accuracy, fit, predict


@dataclass(frozen=True)
class CNNTask:
    """The classifier and how it is trained."""

    net: CNNConfig = field(default_factory=lambda: CNNConfig(
        in_channels=1, image_size=8, channels=(32, 64, 128), batch_norm=True, dropout=0.3, hidden=128,
    ))
    """Architecture (image_size is set from the data)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=60, batch_size=64, optimizer="adamw", lr=3e-3, weight_decay=5e-4, schedule="onecycle",
    ))
    """Optimisation."""
    augment: bool = True
    """Random shifts and rotations of training images."""
    max_shift: float = 1.0
    """Largest shift in pixels (scaled up with the image: 1 px on 8x8 is 3.5 px on 28x28)."""
    max_degrees: float = 12.0
    """Largest rotation in degrees."""
    label_smoothing: float = 0.05
    """Cross-entropy label smoothing."""


def train(
    cfg: CNNTask,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    callbacks: Sequence[Callable[[EpochLog], None]] = (),
) -> SupervisedResult:
    """Train on ``(x [n, 1, H, W], y [n])`` splits; the best validation accuracy is kept."""
    size = train_data[0].shape[-1]
    net_cfg = replace(cfg.net, image_size=size, in_channels=train_data[0].shape[1])
    model = CNN(net_cfg)
    shift = cfg.max_shift * size / 8

    def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(m(x), y, label_smoothing=cfg.label_smoothing)

    def evaluate(m: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, float]:
        logits = predict(m, val[0])
        return {"val_loss": float(F.cross_entropy(logits, val[1].to(logits.device))), "val_accuracy": accuracy(logits, val[1])}

    def augment(batch: tuple[torch.Tensor, ...], g: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (random_shift_rotate(batch[0], shift, cfg.max_degrees, g), batch[1])

    result = fit(
        model, train_data, loss_fn, cfg.train, val=val_data, evaluate=evaluate,
        monitor="val_accuracy", mode="max", augment=augment if cfg.augment else None, callbacks=callbacks,
    )
    logits = predict(result.model, test_data[0])
    wrong = (logits.argmax(1).cpu() != test_data[1]).nonzero()[:, 0][:32]
    metrics = {
        "test_accuracy": accuracy(logits, test_data[1]),
        "test_errors": int((logits.argmax(1).cpu() != test_data[1]).sum()),
        "test_size": len(test_data[1]),
        "best_epoch": result.best_epoch,
        "val_accuracy": result.best.get("val_accuracy"),
        "wall_time": result.wall_time,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    figures = {
        "misclassified": test_data[0][wrong, 0].numpy(),
        "misclassified_labels": torch.stack([test_data[1][wrong], logits.argmax(1).cpu()[wrong]], 1).numpy(),
    }
    return SupervisedResult(result.model, metrics, result.history, figures)
