"""``arena supervised autoencoder``: the autoencoder family against PCA (nets/supervised/autoencoder.py).

Writes ``metrics.json`` (the ``variants`` table: ``test_mse`` and the same-k ``pca_mse`` per variant
and k, and the VAE's ``test_negative_elbo``), ``metrics.jsonl`` (epoch rows tagged with variant and
code), ``plots/reconstructions.png`` (test digits and every network's reconstruction),
``plots/vae_prior_samples_k<k>.png``, ``plots/mse_vs_k.png``, ``plots/learning_curves.png``, and one
checkpoint per network in ``checkpoints/<variant>-k<k>.safetensors`` (rebuilt by
:func:`load_autoencoder`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro

from arena.io import runs
from arena.supervised.common import Bar, image_grid_rows, load_model, plot_image_rows
from arena.supervised.runner import ImageScript, run
from nets.autoencoder import VAE, Autoencoder
from nets.supervised import SupervisedResult, autoencoder

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.io.runs chose the Agg backend)


@dataclass(frozen=True)
class AutoencoderCommand(ImageScript):
    """Linear, deep, sparse, denoising and variational autoencoders on digits, against PCA at each k."""

    task: Annotated[autoencoder.AutoencoderTask, tyro.conf.arg(name="")] = field(
        default_factory=autoencoder.AutoencoderTask)
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    """Train/validation/test fractions (stratified by digit); validation picks each network's best epoch."""

    trainer = autoencoder

    def bar(self, task: autoencoder.AutoencoderTask) -> Bar:
        total = sum(task.train_config(v).epochs for v in task.variants) * len(task.codes)
        return Bar(total, ("val_negative_elbo", "val_mse"), tags=("variant", "code"), clock=False)

    def show(self, run_dir: Path, task: autoencoder.AutoencoderTask, result: SupervisedResult,
             metrics: dict[str, Any]) -> str:
        _plots(run_dir / "plots", result.figures, result.history, metrics, self.dataset)
        return format_table(metrics) + f"\n{metrics['wall_time']:.0f} s"


def run_autoencoder(cmd: AutoencoderCommand) -> Path:
    """Train every chosen variant at every chosen k and write the run folder."""
    return run(cmd)


def load_autoencoder(path: str | Path) -> Autoencoder | VAE:
    """Rebuild a network saved by ``arena supervised autoencoder`` (eval mode, CPU), without pickle."""
    return load_model(path, autoencoder.build, ("autoencoder",), "an autoencoder")[0]  # type: ignore[return-value]


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


def _plots(plots: Path, figures: dict[str, Any], history: list[dict[str, Any]], metrics: dict[str, Any],
           dataset: str) -> None:
    """Reconstructions, prior samples, MSE against k, and validation curves."""
    shown = figures["originals"]
    if len(shown):
        rows = [("original", shown)]
        rows += [(k.split("/", 1)[1], v) for k, v in figures.items() if k.startswith("reconstruction/")]
        plot_image_rows(plots / "reconstructions.png", rows, "test digits and their reconstructions")
    for key, samples in figures.items():
        if key.startswith("prior_samples/") and len(samples):
            code = key.rsplit("-k", 1)[1]
            plot_image_rows(plots / f"vae_prior_samples_k{code}.png", image_grid_rows(samples),
                            f"VAE k={code}: samples from the prior")
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

