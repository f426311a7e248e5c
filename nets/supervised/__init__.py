"""The supervised models of the classic deep-learning curriculum, one module each.

Each module has a config dataclass and ``train(cfg, data, callbacks) -> SupervisedResult``:
the trained model, headline metrics, per-epoch history and the arrays a person would rather
look at (sample grids, reconstructions). ``arena supervised <model>`` loads the data, shows
progress, and writes the run folder; nothing here touches files.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from torch import nn


class SupervisedResult(NamedTuple):
    """What a supervised ``train`` returns."""

    model: nn.Module
    metrics: dict[str, Any]  # headline metrics with fixed names (test_accuracy, ...)
    history: list[dict[str, float]]  # one row per epoch
    figures: dict[str, np.ndarray]  # named arrays for plots (e.g. images [n, H, W] in [0, 1])
