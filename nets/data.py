"""Pure tensor tools for supervised data: splits by fractions, batching, image augmentation.

Loading files is arena's job (``arena/datasets.py``); everything here maps tensors to tensors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F


class Splits(NamedTuple):
    """Index tensors (long) of the train, validation and test parts; validation may be empty."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def split_indices(
    n: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
    stratify: torch.Tensor | None = None,
) -> Splits:
    """Shuffle ``range(n)`` and cut it into train/val/test by ``fractions`` (summing to 1).

    Fractions as small as 0.01 work (0.98/0.01/0.01). With ``stratify`` (class labels
    ``[n]``) every class is cut in the same proportions, so small test sets keep the class
    balance. Deterministic for a seed; the parts are disjoint and cover ``range(n)``.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    g = torch.Generator().manual_seed(seed)
    groups = [torch.arange(n)] if stratify is None else [
        (stratify == c).nonzero()[:, 0] for c in torch.unique(stratify)
    ]
    parts: list[list[torch.Tensor]] = [[], [], []]
    for idx in groups:
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = round(fractions[2] * len(idx))
        n_val = round(fractions[1] * len(idx))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    out = [torch.cat(p) for p in parts]
    out = [p[torch.randperm(len(p), generator=g)] for p in out]  # mix the classes
    return Splits(*out)


def batches(
    tensors: tuple[torch.Tensor, ...], batch_size: int, shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Minibatches of aligned tensors (same leading dim); the last batch may be smaller."""
    n = tensors[0].shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(tensors[0].device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(t[idx] for t in tensors)


def random_shift_rotate(
    images: torch.Tensor, max_shift: float = 1.0, max_degrees: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random translations (up to ``max_shift`` pixels) and rotations (up to ``max_degrees``)
    of images ``[B, C, H, W]``, one draw per image, bilinear, zero padding."""
    B, _, H, W = images.shape
    device = images.device
    u = torch.rand(B, 3, generator=generator).to(device) * 2 - 1  # (B, 3) in [-1, 1)
    angle = u[:, 0] * math.radians(max_degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2 s / size.
    tx, ty = u[:, 1] * 2 * max_shift / W, u[:, 2] * 2 * max_shift / H
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
