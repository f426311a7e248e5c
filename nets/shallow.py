"""One-layer linear classifiers with the classic losses: perceptron, Widrow-Hoff, logistic, hinge, softmax.

Every model is the same network, ``scores = x W^T + b`` (``nn.Linear``); only the loss (and, for the
pairwise hinge, the number of outputs) differs. Multiclass is handled as scikit-learn does:

- ``perceptron``: Rosenblatt's perceptron criterion one-vs-rest, ``sum_k max(0, -t_k s_k)`` with
  ``t_k = +1`` for the true class and ``-1`` otherwise (Bishop, PRML 4.1.7; sklearn ``Perceptron``).
  SGD on it is the perceptron rule: a step only on misclassified outputs.
- ``widrow_hoff``: least squares on the same +-1 targets, ``sum_k (s_k - t_k)^2 / 2``; SGD on it is
  the Widrow-Hoff (LMS, delta) rule (sklearn ``RidgeClassifier`` solves it in closed form).
- ``logistic``: one-vs-rest logistic regression, ``sum_k log(1 + exp(-t_k s_k))`` (K sigmoids).
- ``hinge``: a linear SVM, ``max(0, 1 - t s)``, in one of three multiclass schemes (``HingeScheme``):
  ``ovo`` (default; K(K-1)/2 pairwise outputs, each trained only on its two classes, prediction by
  votes: what ``SVC(kernel="linear")`` does), ``ovr`` (K outputs, sklearn ``LinearSVC``) or
  ``crammer_singer`` (one multiclass margin ``max(0, 1 + max_{j != y} s_j - s_y)``, Crammer & Singer 2001).
- ``softmax``: multinomial logistic regression, cross-entropy of ``softmax(s)``.

Losses are means over the batch (sums over outputs), so ``TrainConfig.l2 = 1 / (2 C n)`` gives
sklearn's ``C``. Pure tensors: no printing, no files.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ShallowLoss = Literal["perceptron", "widrow_hoff", "logistic", "hinge", "softmax"]
HingeScheme = Literal["ovo", "ovr", "crammer_singer"]
SHALLOW_LOSSES: tuple[ShallowLoss, ...] = typing.get_args(ShallowLoss)


@dataclass(frozen=True)
class ShallowConfig:
    """A one-layer classifier over flat inputs ``[B, in_features]``."""

    in_features: int
    """Input width, e.g. 64 for 8x8 digits."""
    classes: int = 10
    """Number of classes K."""
    loss: ShallowLoss = "softmax"
    """perceptron, widrow_hoff, logistic, hinge or softmax."""
    hinge: HingeScheme = "ovo"
    """Multiclass scheme of the hinge loss: ovo (pairwise, as SVC), ovr (as LinearSVC) or crammer_singer."""

    def __post_init__(self) -> None:
        if self.loss not in SHALLOW_LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {', '.join(SHALLOW_LOSSES)}")
        if self.hinge not in typing.get_args(HingeScheme):
            raise ValueError(f"unknown hinge scheme {self.hinge!r}; choose ovo, ovr or crammer_singer")
        if self.in_features < 1 or self.classes < 2:
            raise ValueError(f"need in_features >= 1 and classes >= 2, got {self.in_features}, {self.classes}")

    @property
    def pairwise(self) -> bool:
        """Whether the outputs are the K(K-1)/2 class pairs (the ovo hinge) rather than the K classes."""
        return self.loss == "hinge" and self.hinge == "ovo"

    @property
    def out_features(self) -> int:
        """Outputs of the linear layer: K, or K(K-1)/2 for the pairwise hinge."""
        return self.classes * (self.classes - 1) // 2 if self.pairwise else self.classes


class Shallow(nn.Module):
    """``scores = linear(x)``: ``[B, in_features] -> [B, out_features]`` raw scores (not class scores:
    see :func:`class_scores`)."""

    def __init__(self, cfg: ShallowConfig):
        super().__init__()
        self.cfg = cfg
        self.linear = nn.Linear(cfg.in_features, cfg.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def signed_targets(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """One-vs-rest targets ``[B, K]``: +1 at the label, -1 elsewhere."""
    return F.one_hot(labels, classes).float() * 2 - 1


def pair_indices(classes: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The classes ``(i [P], j [P])`` of the P = K(K-1)/2 pairs with i < j, in the ovo output order."""
    pairs = torch.triu_indices(classes, classes, 1, device=device)
    return pairs[0], pairs[1]


def pair_targets(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Pairwise targets ``[B, P]``: +1 when the label is the pair's first class, -1 when it is the
    second, 0 (the pair ignores the sample) otherwise."""
    i, j = pair_indices(classes, labels.device)
    return (labels[:, None] == i).float() - (labels[:, None] == j).float()


def perceptron_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Perceptron criterion, one-vs-rest: mean over the batch of ``sum_k max(0, -t_k s_k)``.
    Zero exactly when every output has the sign of its target."""
    return F.relu(-signed_targets(labels, scores.shape[1]) * scores).sum(1).mean()


def widrow_hoff_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Least squares on +-1 targets: mean of ``sum_k (s_k - t_k)^2 / 2``; its gradient is the
    LMS rule ``(s - t) x``."""
    return 0.5 * (scores - signed_targets(labels, scores.shape[1])).pow(2).sum(1).mean()


def logistic_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """One-vs-rest logistic loss: mean of ``sum_k log(1 + exp(-t_k s_k))`` (K binary sigmoids)."""
    return F.softplus(-signed_targets(labels, scores.shape[1]) * scores).sum(1).mean()


def hinge_loss(scores: torch.Tensor, labels: torch.Tensor, scheme: HingeScheme = "ovr", classes: int | None = None) -> torch.Tensor:
    """Multiclass hinge loss, mean over the batch.

    ``ovr``: ``sum_k max(0, 1 - t_k s_k)`` on ``scores [B, K]``; ``crammer_singer``:
    ``max(0, 1 + max_{j != y} s_j - s_y)`` on ``[B, K]``; ``ovo``: ``sum_p |t_p| max(0, 1 - t_p s_p)``
    on pairwise ``scores [B, K(K-1)/2]`` (``classes`` K is then required).
    """
    if scheme == "ovr":
        return F.relu(1 - signed_targets(labels, scores.shape[1]) * scores).sum(1).mean()
    if scheme == "crammer_singer":
        true = scores.gather(1, labels[:, None])[:, 0]
        others = scores.masked_fill(F.one_hot(labels, scores.shape[1]).bool(), float("-inf")).amax(1)
        return F.relu(1 + others - true).mean()
    if scheme == "ovo":
        if classes is None:
            raise ValueError("the ovo hinge needs the number of classes")
        t = pair_targets(labels, classes)
        return (F.relu(1 - t * scores) * t.abs()).sum(1).mean()
    raise ValueError(f"unknown hinge scheme {scheme!r}")


def softmax_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``softmax(scores)``, mean over the batch."""
    return F.cross_entropy(scores, labels)


def shallow_loss(cfg: ShallowConfig, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The loss ``cfg.loss`` of raw ``scores [B, out_features]`` against ``labels [B]``."""
    if cfg.loss == "perceptron":
        return perceptron_loss(scores, labels)
    if cfg.loss == "widrow_hoff":
        return widrow_hoff_loss(scores, labels)
    if cfg.loss == "logistic":
        return logistic_loss(scores, labels)
    if cfg.loss == "hinge":
        return hinge_loss(scores, labels, cfg.hinge, cfg.classes)
    return softmax_loss(scores, labels)


def class_scores(cfg: ShallowConfig, scores: torch.Tensor) -> torch.Tensor:
    """Per-class scores ``[B, K]`` whose argmax is the prediction: the raw scores, or for the
    pairwise hinge the votes of the K(K-1)/2 pairs plus a tie-break below one vote from the summed
    confidences (sklearn's ovr decision function of an ovo SVC)."""
    if not cfg.pairwise:
        return scores
    i, j = pair_indices(cfg.classes, scores.device)
    won = (scores > 0).to(scores.dtype)
    votes = scores.new_zeros(len(scores), cfg.classes).index_add_(1, i, won).index_add_(1, j, 1 - won)
    confidence = scores.new_zeros(len(scores), cfg.classes).index_add_(1, i, scores).index_add_(1, j, -scores)
    return votes + confidence / (3 * (confidence.abs() + 1))  # the fraction stays in (-1/3, 1/3)
