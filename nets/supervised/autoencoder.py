"""The autoencoder family on digits: linear, deep, sparse, denoising and a VAE, each at several code
sizes k, measured against PCA with the same k (fitted on the training split).

Goals (issue 3): the linear autoencoder's test reconstruction MSE within 2% of PCA's at k = 8 and
16 (it spans the PCA subspace at its optimum, Baldi & Hornik 1989); the deep one at least 30% below
PCA's at k = 2 and 8; the VAE reports its negative ELBO in nats on binarized digits and decodes
samples from its prior.

Every network keeps the weights of its best validation epoch (``fit`` with early stopping): the
deep kinds overfit 1,257 training images when trained to the end. Pixels are in [0, 1]; the VAE
sees them binarized (``x > binarize_threshold``) and models them as Bernoulli variables.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nets.autoencoder import (
    VAE,
    Activation,
    Autoencoder,
    AutoencoderConfig,
    AutoencoderKind,
    autoencoder_loss,
    make_autoencoder,
    negative_elbo,
    pca_baseline,
    sample_prior,
)
from nets.data import ImageSplits
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar, tagged
from nets.train import TrainConfig, fit, seed_everything

VARIANTS: tuple[AutoencoderKind, ...] = get_args(AutoencoderKind)
"""Every variant, in the order they are trained and shown: linear, deep, sparse, denoising, vae."""


@dataclass(frozen=True)
class AutoencoderTask:
    """Which autoencoders to train, their shape, and how they are trained."""

    variants: tuple[AutoencoderKind, ...] = VARIANTS
    """Variants to train: linear, deep, sparse, denoising, vae."""
    codes: tuple[int, ...] = (2, 8, 16)
    """Code (bottleneck) sizes k; every variant is trained once per k."""
    hidden: tuple[int, ...] = (256, 128)
    """Encoder hidden widths of the nonlinear variants (the decoder mirrors them)."""
    activation: Activation = "relu"
    """Nonlinearity after each hidden layer."""
    sparsity_weight: float = 1e-3
    """Weight of the mean L1 norm of the code in the sparse variant's loss."""
    noise_std: float = 0.1
    """Standard deviation of the denoising variant's Gaussian input corruption (training only)."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=300, batch_size=128, optimizer="adamw", lr=2e-3, weight_decay=1e-4, early_stopping=40,
    ))
    """Optimisation of the nonlinear variants and the VAE (best validation epoch kept)."""
    linear_train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1500, batch_size=2048, lr=2e-2))
    """Optimisation of the linear variant: full-batch Adam (minibatches stall a few % above PCA)."""
    binarize_threshold: float = 0.5
    """The VAE's data: pixels above this are 1, the rest 0."""
    elbo_samples: int = 10
    """Posterior samples per image averaged into the reported negative ELBO."""
    reconstructions: int = 10
    """Test images shown reconstructed by every network."""
    prior_samples: int = 64
    """Images decoded from the VAE's N(0, I) prior, per k."""

    def __post_init__(self) -> None:
        if not self.variants or len(set(self.variants)) != len(self.variants):
            raise ValueError(f"variants must be a non-empty list without repeats, got {self.variants}")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
        if not self.codes or len(set(self.codes)) != len(self.codes) or min(self.codes) < 1:
            raise ValueError(f"codes must be distinct sizes >= 1, got {self.codes}")
        if not 0.0 < self.binarize_threshold < 1.0:
            raise ValueError(f"binarize_threshold must be in (0, 1), got {self.binarize_threshold}")
        if self.elbo_samples < 1 or self.reconstructions < 0 or self.prior_samples < 0:
            raise ValueError("elbo_samples must be >= 1; reconstructions and prior_samples >= 0")

    def quick(self) -> AutoencoderTask:
        """Seconds-long settings: few epochs, fewer samples."""
        return replace(self, elbo_samples=2, prior_samples=16, train=replace(self.train, epochs=6),
                       linear_train=replace(self.linear_train, epochs=40))

    def net_config(self, variant: AutoencoderKind, code: int, in_features: int) -> AutoencoderConfig:
        """The network of one variant at code size ``code`` over ``in_features`` pixels."""
        return AutoencoderConfig(
            in_features=in_features, code=code, hidden=() if variant == "linear" else self.hidden, kind=variant,
            activation=self.activation, sparsity_weight=self.sparsity_weight, noise_std=self.noise_std,
        )

    def train_config(self, variant: AutoencoderKind) -> TrainConfig:
        """``linear_train`` for the linear variant, ``train`` for the others."""
        return self.linear_train if variant == "linear" else self.train


def run_name(variant: str, code: int) -> str:
    """Name of one trained network, e.g. ``deep-k8`` (model key, figure and checkpoint name)."""
    return f"{variant}-k{code}"


def train(cfg: AutoencoderTask, data: ImageSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train every variant at every code size on the images ``[n, ...]`` of ``data`` (pixels in
    [0, 1]; the labels are not used); callback rows start with ``variant`` and ``code``.

    Returns:
        ``SupervisedResult`` with ``model`` an ``nn.ModuleDict`` keyed by :func:`run_name` (each
        network carries its ``AutoencoderConfig`` as ``.cfg``); ``metrics["variants"][variant][str(k)]``
        the table row (``test_mse``, ``pca_mse``, ``mse_ratio`` = test_mse / pca_mse, ``val_mse``,
        ``best_epoch``, ``epochs``, ``wall_time``, ``parameters``, and ``test_negative_elbo`` for
        the VAE), ``metrics["pca_mse"][str(k)]``; ``history`` the epoch rows of every network tagged
        with ``variant`` and ``code``; ``figures``: ``originals`` and ``reconstruction/<name>``
        ``[reconstructions, H, W]``, ``prior_samples/vae-k<k>`` ``[prior_samples, H, W]``.
    """
    start = time.perf_counter()
    image_shape = data.image_shape
    flat = [x.reshape(len(x), -1).float() for x, _ in data]
    if max(cfg.codes) > min(flat[0].shape):
        raise ValueError(f"code sizes must be at most {min(flat[0].shape)} (pixels per image, training images), "
                         f"got {max(cfg.codes)}")
    shown = flat[2][: cfg.reconstructions]
    figures: dict[str, np.ndarray] = {"originals": _images(shown, image_shape)}
    models, history = nn.ModuleDict(), []
    table: dict[str, dict[str, dict[str, Any]]] = {}
    pca = {str(k): pca_baseline(flat[0], flat[2], k) for k in cfg.codes}
    for variant in cfg.variants:
        for code in cfg.codes:
            model, row, rows = train_variant(cfg, variant, code, *flat, callbacks=tagged(callbacks, variant=variant, code=code))
            name = run_name(variant, code)
            row.update(pca_mse=pca[str(code)], mse_ratio=row["test_mse"] / pca[str(code)])
            table.setdefault(variant, {})[str(code)] = row
            history += [{"variant": variant, "code": code, **r} for r in rows]
            models[name] = model
            figures[f"reconstruction/{name}"] = _images(reconstruct(model, shown, cfg.binarize_threshold), image_shape)
            if isinstance(model, VAE) and cfg.prior_samples:
                g = torch.Generator(device=_device(model)).manual_seed(cfg.train.seed)
                figures[f"prior_samples/{name}"] = _images(sample_prior(model, cfg.prior_samples, g), image_shape)
    metrics = {
        "variants": table, "pca_mse": pca, "wall_time": time.perf_counter() - start,
        "train_size": len(flat[0]), "val_size": len(flat[1]), "test_size": len(flat[2]),
        "in_features": flat[0].shape[1],
    }
    return SupervisedResult(models, metrics, history, figures)


def train_variant(
    cfg: AutoencoderTask,
    variant: AutoencoderKind,
    code: int,
    train_x: torch.Tensor,
    val_x: torch.Tensor,
    test_x: torch.Tensor,
    callbacks: Sequence[Callback] = (),
) -> tuple[Autoencoder | VAE, dict[str, Any], list[dict[str, float]]]:
    """Train one network on flat pixels ``[n, D]`` and measure it on the test split.

    The validation metric is the plain reconstruction MSE (``val_mse``; no sparsity term, no input
    noise) for the autoencoders and the negative ELBO (``val_negative_elbo``) for the VAE; the best
    epoch's weights are kept. Returns ``(model in eval mode, metrics row, history)``.
    """
    tc = cfg.train_config(variant)
    seed_everything(tc.seed)  # the same initial weights whatever ran before
    model = make_autoencoder(cfg.net_config(variant, code, train_x.shape[1]))
    if isinstance(model, VAE):
        data = [binarize(x, cfg.binarize_threshold) for x in (train_x, val_x, test_x)]
        monitor = "val_negative_elbo"

        def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return negative_elbo(batch[0], m(batch[0])).mean()

        def evaluate(m: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, float]:
            return {"val_negative_elbo": mean_negative_elbo(m, val[0], cfg.elbo_samples, tc.seed),
                    "val_mse": reconstruction_mse(m, val_x, cfg.binarize_threshold)}
    else:
        data, monitor = [train_x, val_x, test_x], "val_mse"

        def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return autoencoder_loss(m, batch[0], m(batch[0]), training=True)

        def evaluate(m: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, float]:
            return {"val_mse": reconstruction_mse(m, val[0], cfg.binarize_threshold)}

    result = fit(model, (data[0],), loss_fn, tc, val=(data[1],), evaluate=evaluate, monitor=monitor,
                 callbacks=callbacks)
    row: dict[str, Any] = {
        "test_mse": reconstruction_mse(model, test_x, cfg.binarize_threshold),
        "val_mse": result.best.get("val_mse"), "best_epoch": result.best_epoch, "epochs": len(result.history),
        "stopped_early": result.stopped_early, "wall_time": result.wall_time,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if isinstance(model, VAE):
        row["test_negative_elbo"] = mean_negative_elbo(model, data[2], cfg.elbo_samples, tc.seed)
        row["val_negative_elbo"] = result.best.get("val_negative_elbo")
    return model, row, result.history


def checkpoints(cfg: AutoencoderTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint per network (``checkpoints/deep-k8``, ...), with its row of the variants table."""
    parts = {}
    for name, model in result.model.items():
        variant, code = name.rsplit("-k", 1)
        parts[f"checkpoints/{name}"] = Part(model, {
            "variant": variant, "code": int(code), "config": dataclasses.asdict(model.cfg),
            "task": dataclasses.asdict(cfg), "image_shape": list(data.image_shape),
            "metrics": result.metrics["variants"][variant][code],
        })
    return parts


def build(sidecar: dict[str, Any]) -> Autoencoder | VAE:
    """The network of one autoencoder checkpoint (its ``config`` field)."""
    return make_autoencoder(from_sidecar(AutoencoderConfig, sidecar["config"]))


def binarize(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Pixels above ``threshold`` -> 1.0, the rest 0.0 (the VAE's Bernoulli data)."""
    return (x > threshold).to(x.dtype)


@torch.no_grad()
def reconstruct(model: nn.Module, x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Deterministic reconstructions ``[n, D]`` (CPU) of clean pixels ``x [n, D]``, in eval mode.

    Autoencoders: ``model(x).reconstruction`` (no input noise in eval mode). VAE: the Bernoulli
    means decoded from the posterior mean of the binarized image (no sampling).
    """
    model.eval()
    x = x.to(_device(model))
    if isinstance(model, VAE):
        mean, _ = model.encode(binarize(x, threshold))
        return torch.sigmoid(model.decode(mean)).cpu()
    return model(x).reconstruction.cpu()


def reconstruction_mse(model: nn.Module, x: torch.Tensor, threshold: float = 0.5) -> float:
    """Mean squared error of :func:`reconstruct` against the clean [0, 1] pixels ``x [n, D]``."""
    return float(F.mse_loss(reconstruct(model, x, threshold), x.cpu()))


@torch.no_grad()
def mean_negative_elbo(model: nn.Module, x: torch.Tensor, samples: int, seed: int = 0) -> float:
    """Negative ELBO in nats per image on binarized ``x [n, D]``, averaged over ``samples`` posterior
    draws per image from a seeded generator (the same number on every call)."""
    model.eval()
    x = x.to(_device(model))
    g = torch.Generator(device=x.device).manual_seed(seed)
    return float(torch.stack([negative_elbo(x, model(x, g)) for _ in range(samples)]).mean())


def _images(flat: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """``[n, D]`` pixels as ``[n, H, W]`` images in [0, 1] (the channel of ``[1, H, W]`` dropped)."""
    h, w = shape[-2:] if len(shape) >= 2 else (1, shape[0])
    return flat.detach().cpu().clamp(0, 1).reshape(len(flat), h, w).numpy()


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
