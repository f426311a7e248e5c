"""A convolutional digits classifier: conv + batch norm + pooling stacks, trained with small
random shifts and rotations and a one-cycle schedule, five networks averaged (single networks
swing between 99.1% and 100% with the seed on a 450-image test set; the average is steadier).
Each network keeps its last epoch's weights: the 5% validation split (90 images) reaches 100%
within a few epochs, so keeping its best epoch kept an under-trained network. Goal: >= 99% test
accuracy on scikit-learn's digits, above an RBF-kernel SVM on the same split
(benchmarks/supervised.py prints both)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch
from torch import nn

from nets.conv import CNN, CNNConfig
from nets.data import ImageSplits, random_shift_rotate
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar
from nets.train import TrainConfig, accuracy, classification_loss, classification_metrics, fit, predict


@dataclass(frozen=True)
class CNNTask:
    """The classifier and how it is trained."""

    net: CNNConfig = field(default_factory=lambda: CNNConfig(
        in_channels=1, image_size=8, channels=(32, 64, 128), batch_norm=True, dropout=0.3, hidden=128,
    ))
    """Architecture (image_size is set from the data)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=100, batch_size=64, optimizer="adamw", lr=3e-3, weight_decay=5e-4, schedule="onecycle",
    ))
    """Optimisation."""
    augment: bool = True
    """Random shifts and rotations of training images."""
    max_shift: float = 0.5
    """Largest shift in pixels (scaled with the image: 0.5 px on 8x8 is 1.75 px on 28x28)."""
    max_degrees: float = 6.0
    """Largest rotation in degrees."""
    label_smoothing: float = 0.05
    """Cross-entropy label smoothing."""
    ensemble: int = 5
    """Train this many networks (seeds seed, seed+1, ...) and average their probabilities."""
    keep: Literal["last", "best"] = "last"
    """Weights each network ends with: ``last`` (the one-cycle schedule ends at a near-zero
    learning rate, so the last epoch is the settled one) or ``best`` (the first epoch with the
    best validation accuracy). On digits the 90-image validation split hits 100% within ~10
    epochs, and ``best`` then kept that early network (epochs 7-18 of 100 in 15 runs on split
    seeds 5-9, single networks 95.8-98.9% test); there ``last`` gave 99.1-100% per network and
    99.87% for five-network ensembles (``best``, three networks: 98.36%; the RBF SVM: 99.20%)."""

    def quick(self) -> CNNTask:
        """The seconds-long version: one network, 5 epochs."""
        return replace(self, ensemble=1, train=replace(self.train, epochs=5))


def train(cfg: CNNTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train on ``(x [n, 1, H, W], y [n])`` splits; each network keeps its last or its best
    validation-accuracy weights (``cfg.keep``; validation metrics are logged either way); with
    ``ensemble > 1`` the returned model averages the members' probabilities."""
    train_data, val_data, test_data = data
    size = train_data[0].shape[-1]
    net_cfg = replace(cfg.net, image_size=size, in_channels=train_data[0].shape[1])
    shift = cfg.max_shift * size / 8

    def augment(batch: tuple[torch.Tensor, ...], g: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (random_shift_rotate(batch[0], shift, cfg.max_degrees, g), batch[1])

    monitor = "epoch" if cfg.keep == "last" else "val_accuracy"  # fit keeps the max: the last epoch
    members, history, wall = [], [], 0.0
    for i in range(cfg.ensemble):
        torch.manual_seed(cfg.train.seed + i)  # the init too: the same seed gives the same run in any process
        result = fit(
            CNN(net_cfg), train_data, classification_loss(cfg.label_smoothing), replace(cfg.train, seed=cfg.train.seed + i),
            val=val_data, evaluate=classification_metrics, monitor=monitor, mode="max",
            augment=augment if cfg.augment else None, callbacks=callbacks,
        )
        members.append(result.model)
        history += [{**row, "member": float(i)} for row in result.history]
        wall += result.wall_time
    model = members[0] if len(members) == 1 else Ensemble(members)
    logits = predict(model, test_data[0])
    member_acc = [accuracy(predict(m, test_data[0]), test_data[1]) for m in members]
    wrong = (logits.argmax(1).cpu() != test_data[1]).nonzero()[:, 0][:32]
    metrics = {
        "test_accuracy": accuracy(logits, test_data[1]),
        "test_errors": int((logits.argmax(1).cpu() != test_data[1]).sum()),
        "test_size": len(test_data[1]),
        "member_test_accuracy": member_acc,
        "wall_time": wall,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    figures = {
        "misclassified": test_data[0][wrong, 0].numpy(),
        "misclassified_labels": torch.stack([test_data[1][wrong], logits.argmax(1).cpu()[wrong]], 1).numpy(),
    }
    return SupervisedResult(model, metrics, history, figures)


def checkpoints(cfg: CNNTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint: the network (or ensemble) and its task."""
    return {"model": Part(result.model, {"config": dataclasses.asdict(cfg), "image_size": data.image_shape[-1]})}


def build(sidecar: dict[str, Any]) -> nn.Module:
    """The network (one CNN, or an ``Ensemble`` of ``ensemble`` of them) of a cnn checkpoint."""
    cfg = from_sidecar(CNNTask, sidecar["config"])
    return make_classifier(replace(cfg.net, image_size=int(sidecar["image_size"])), cfg.ensemble)


def make_classifier(net: CNNConfig, members: int) -> nn.Module:
    """``members`` fresh CNNs of ``net``: the network itself for one, else their ``Ensemble``."""
    return CNN(net) if members == 1 else Ensemble([CNN(net) for _ in range(members)])


class Ensemble(nn.Module):
    """Averages the class probabilities of its members; returns log-probabilities ``[B, K]``
    (so argmax, accuracy and cross-entropy work as with a single network's logits)."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([m(x).softmax(dim=-1) for m in self.members]).mean(dim=0)
        return probs.clamp_min(1e-12).log()
