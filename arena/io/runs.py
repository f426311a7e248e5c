"""Run folders: where every ``arena`` job writes what it did.

A run folder holds ``config.json`` (the full config), ``metrics.jsonl`` (one JSON object per
epoch or evaluation, appended and flushed as it happens, so an interrupted run keeps its curve),
``metrics.json`` (the final headline metrics), PNG plots and checkpoints. JSON files that are
rewritten are written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; the viewer owns windows
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from arena.io.files import stamped_path, write_text_atomic  # noqa: E402

RUNS_ROOT = Path("runs")


def new_run_dir(kind: str, run_dir: str | Path | None = None) -> Path:
    """``run_dir`` if given, else ``runs/<kind>-<YYYYmmdd-HHMMSS>`` (made unique)."""
    path = Path(run_dir) if run_dir is not None else stamped_path(RUNS_ROOT, kind)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (temporary file, then rename)."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Lay ``fig`` out, write it to ``path`` (PNG by suffix) and close it; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_config(run: Path, config: Any) -> None:
    """``config.json`` from a (nested) config dataclass or a dict."""
    data = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    write_json(run / "config.json", data)


def append_metrics(run: Path, row: dict[str, Any]) -> None:
    """Append one JSON line to ``metrics.jsonl`` and flush it to disk."""
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row, default=_jsonable) + "\n")
        f.flush()
        os.fsync(f.fileno())


def plot_curves(
    path: Path, history: Sequence[dict[str, float]], groups: dict[str, Sequence[str]], x: str = "epoch",
    title: str = "",
) -> Path:
    """One panel per group of metric names (e.g. loss: train_loss, val_loss) against ``x``."""
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False)
    for ax, (label, keys) in zip(axes[0], groups.items()):
        for key in keys:
            pts = [(row[x], row[key]) for row in history if key in row and x in row]
            if pts:
                ax.plot(*zip(*pts), label=key)
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a panel with no points yet has nothing to label
            ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_image_grid(path: Path, images: np.ndarray, rows: int, title: str = "", labels: Sequence[str] | None = None) -> Path:
    """A grid of grayscale images ``[n, H, W]`` (values in [0, 1]), ``rows`` rows."""
    n = len(images)
    cols = -(-n // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            if labels is not None:
                ax.set_title(labels[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
