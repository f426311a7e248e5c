"""Radial basis function networks: k-means prototypes, a Gaussian hidden layer, a linear readout.

The classic recipe (Moody & Darken 1989; Bishop, "Neural Networks for Pattern Recognition" ch. 5):

1. **Prototypes** by k-means on the training inputs (:func:`kmeans`, k-means++ seeding, Arthur &
   Vassilvitskii 2007), seeded by a ``torch.Generator``.
2. **Widths** from the prototypes (:func:`prototype_widths`): ``shared`` (one width for all, the
   mean distance between prototypes times ``scale``) or ``nearest`` (per prototype, the mean
   distance to its ``neighbors`` nearest prototypes times ``scale``).
3. **Hidden layer** ``h_j(x) = exp(-|x - c_j|^2 / (2 sigma_j^2))`` and a **linear readout** solved in
   closed form by ridge regression on one-hot targets (:func:`ridge_readout`).

:class:`RBFNetwork` keeps centers, log-widths and readout as parameters, so the whole network can
then be fine-tuned end to end by gradient descent. Pure tensors: no printing, no files.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

WidthRule = Literal["shared", "nearest"]


@dataclass(frozen=True)
class RBFConfig:
    """Shape of an RBF network over flat inputs ``[B, in_features]``."""

    in_features: int
    """Input width, e.g. 64 for 8x8 digits."""
    prototypes: int = 200
    """Gaussian hidden units (k-means centers)."""
    classes: int = 10
    """Outputs of the linear readout."""
    width: WidthRule = "shared"
    """shared: one width for every prototype; nearest: one per prototype, from its nearest prototypes."""

    def __post_init__(self) -> None:
        if self.width not in typing.get_args(WidthRule):
            raise ValueError(f"unknown width rule {self.width!r}; choose shared or nearest")
        if self.in_features < 1 or self.prototypes < 1 or self.classes < 1:
            raise ValueError(f"need positive sizes, got in_features={self.in_features}, "
                             f"prototypes={self.prototypes}, classes={self.classes}")


class RBFNetwork(nn.Module):
    """``readout(gaussians(x))``: ``[B, in_features] -> [B, classes]``.

    Parameters: ``centers [k, in_features]``, ``log_width [1]`` (shared) or ``[k]`` (nearest), and
    ``readout`` (``nn.Linear(k, classes)``). Fresh centers are zeros and widths one: fill them with
    :func:`init_rbf` (or load a checkpoint).
    """

    def __init__(self, cfg: RBFConfig):
        super().__init__()
        self.cfg = cfg
        self.centers = nn.Parameter(torch.zeros(cfg.prototypes, cfg.in_features))
        self.log_width = nn.Parameter(torch.zeros(1 if cfg.width == "shared" else cfg.prototypes))
        self.readout = nn.Linear(cfg.prototypes, cfg.classes)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Gaussian activations ``[B, k]`` in (0, 1]."""
        sigma2 = torch.exp(2 * self.log_width)  # (1,) or (k,)
        return torch.exp(-squared_distances(x, self.centers) / (2 * sigma2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.hidden(x))


class KMeans(NamedTuple):
    """Result of :func:`kmeans`."""

    centers: torch.Tensor  # [k, D]
    assignment: torch.Tensor  # [n] long, index of each point's nearest center
    inertia: list[float]  # sum of squared distances to the nearest center, after each iteration


def squared_distances(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``|x_i - c_j|^2`` as ``[n, k]`` for ``x [n, D]``, ``c [k, D]`` (expanded form, clamped at 0:
    unlike ``cdist`` its gradient stays finite when a point sits on a center)."""
    return (x.pow(2).sum(1, keepdim=True) - 2 * x @ c.T + c.pow(2).sum(1)).clamp_min(0)


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """k-means++ seeding: the first center uniformly from the points, each next one with
    probability proportional to its squared distance to the nearest chosen center. ``[k, D]``."""
    if not 1 <= k <= len(x):
        raise ValueError(f"need 1 <= k <= {len(x)} points, got k={k}")
    first = int(torch.randint(len(x), (1,), generator=generator))
    chosen = [first]
    d2 = (x - x[first]).pow(2).sum(1)  # (n,)
    for _ in range(k - 1):
        weights = d2 if float(d2.sum()) > 0 else torch.ones_like(d2)  # all points on centers: uniform
        i = int(torch.multinomial(weights.float().cpu(), 1, generator=generator))
        chosen.append(i)
        d2 = torch.minimum(d2, (x - x[i]).pow(2).sum(1))
    return x[chosen].clone()


def kmeans(x: torch.Tensor, k: int, iterations: int = 100, generator: torch.Generator | None = None,
           tol: float = 1e-6) -> KMeans:
    """Lloyd's k-means on ``x [n, D]`` from k-means++ seeds, until the relative drop of the
    inertia is below ``tol`` or after ``iterations`` updates. An emptied cluster is moved to the
    point farthest from its center, so every center keeps at least one point."""
    centers = kmeans_plus_plus(x, k, generator)
    inertia: list[float] = []
    for _ in range(iterations):
        d2 = squared_distances(x, centers)
        assignment = d2.argmin(1)
        counts = torch.bincount(assignment, minlength=k)
        sums = torch.zeros_like(centers).index_add_(0, assignment, x)
        centers = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centers)
        for empty in (counts == 0).nonzero()[:, 0].tolist():
            far = int(d2.gather(1, assignment[:, None])[:, 0].argmax())
            centers[empty], assignment[far] = x[far], empty
        inertia.append(float(squared_distances(x, centers).min(1).values.sum()))
        if len(inertia) > 1 and inertia[-2] - inertia[-1] <= tol * inertia[-2]:
            break
    assignment = squared_distances(x, centers).argmin(1)
    return KMeans(centers, assignment, inertia)


def prototype_widths(centers: torch.Tensor, rule: WidthRule = "shared", scale: float = 1.0, neighbors: int = 5) -> torch.Tensor:
    """Gaussian widths sigma from the prototypes ``[k, D]``: ``[1]`` for ``shared`` (``scale`` times
    the mean distance between distinct prototypes), ``[k]`` for ``nearest`` (``scale`` times the mean
    distance of each prototype to its ``neighbors`` nearest others)."""
    k = len(centers)
    if k == 1:
        return torch.full((1,), scale, dtype=centers.dtype)
    d = squared_distances(centers, centers).sqrt()  # (k, k)
    if rule == "shared":
        return (scale * d.sum() / (k * (k - 1))).reshape(1)
    d = d + torch.diag(torch.full((k,), float("inf"), dtype=d.dtype))
    return scale * d.topk(min(neighbors, k - 1), dim=1, largest=False).values.mean(1)


def ridge_readout(hidden: torch.Tensor, labels: torch.Tensor, classes: int, ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares readout from activations ``[n, k]`` to one-hot targets, with ``ridge * |W|^2``
    (the bias is not penalized); solved in float64. Returns ``(weight [classes, k], bias [classes])``."""
    h = torch.cat([hidden.double(), hidden.new_ones(len(hidden), 1).double()], 1)  # (n, k + 1)
    y = F.one_hot(labels, classes).double()  # (n, classes)
    penalty = torch.eye(h.shape[1], dtype=torch.float64, device=h.device) * ridge
    penalty[-1, -1] = 0.0
    w = torch.linalg.solve(h.T @ h + penalty, h.T @ y)  # (k + 1, classes)
    return w[:-1].T.to(hidden.dtype).contiguous(), w[-1].to(hidden.dtype).contiguous()


def init_rbf(net: RBFNetwork, x: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None,
             scale: float = 1.0, neighbors: int = 5, ridge: float = 1e-3, iterations: int = 100) -> KMeans:
    """The classic two-stage fit, in place: k-means centers on ``x [n, D]``, widths from them,
    and the ridge readout on the Gaussian activations. Returns the k-means result."""
    km = kmeans(x, net.cfg.prototypes, iterations, generator)
    with torch.no_grad():
        net.centers.copy_(km.centers)
        net.log_width.copy_(prototype_widths(km.centers, net.cfg.width, scale, neighbors).log())
        weight, bias = ridge_readout(net.hidden(x), labels, net.cfg.classes, ridge)
        net.readout.weight.copy_(weight)
        net.readout.bias.copy_(bias)
    return km
