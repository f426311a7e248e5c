"""Autoencoders for flat inputs in [0, 1]: linear (the PCA check), deep, sparse, denoising, and a VAE.

- ``linear``: one affine encoder and one affine decoder, no nonlinearity and no hidden layers; at
  its optimum it spans the same subspace as rank-``code`` PCA (Baldi & Hornik 1989), so its test MSE
  is checked against ``pca_baseline``.
- ``deep``: MLP encoder ``in -> hidden... -> code`` and the mirrored decoder with a sigmoid output.
- ``sparse``: the deep network plus ``sparsity_weight * |code|_1`` in the loss (Ng, "Sparse
  autoencoder" notes; L1 form as in Goodfellow et al., Deep Learning 14.2.1).
- ``denoising``: the deep network fed Gaussian-corrupted inputs during training only, asked to
  reconstruct the clean input (Vincent et al. 2008).
- ``vae``: Gaussian encoder, reparameterised code, Bernoulli decoder logits on binarized data
  (Kingma & Welling 2014); build it with ``VAE(cfg)``.

The code layer is affine (no activation) in every kind; nonlinear kinds use ``activation`` after
each hidden layer.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nets.mlp import activation as make_activation

AutoencoderKind = Literal["linear", "deep", "sparse", "denoising", "vae"]
Activation = Literal["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu"]

DEFAULT_HIDDEN: tuple[int, ...] = (128, 64)
"""Hidden widths used by the nonlinear kinds when ``AutoencoderConfig.hidden`` is empty."""



@dataclass(frozen=True)
class AutoencoderConfig:
    """Shape and regularisation of an autoencoder over flat inputs ``[B, in_features]``."""

    in_features: int
    """Input (and reconstruction) width, e.g. 64 for 8x8 digits."""
    code: int = 8
    """Width of the code (bottleneck); the latent size for the VAE."""
    hidden: tuple[int, ...] = ()
    """Encoder hidden widths (decoder mirrors them); empty means DEFAULT_HIDDEN for nonlinear kinds."""
    kind: AutoencoderKind = "deep"
    """Which autoencoder: linear, deep, sparse, denoising or vae."""
    activation: Activation = "relu"
    """Nonlinearity after each hidden layer (unused by linear)."""
    sparsity_weight: float = 1e-3
    """Weight of the mean L1 norm of the code in the sparse kind's loss."""
    noise_std: float = 0.2
    """Standard deviation of the Gaussian input corruption of the denoising kind (training only)."""

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "deep", "sparse", "denoising", "vae"):
            raise ValueError(f"unknown autoencoder kind {self.kind!r}")
        if self.activation not in typing.get_args(Activation):
            raise ValueError(f"activation must be one of {sorted(typing.get_args(Activation))}, got {self.activation!r}")
        if self.in_features < 1 or self.code < 1 or any(h < 1 for h in self.hidden):
            raise ValueError("in_features, code and hidden widths must all be >= 1")
        if self.kind == "linear" and self.hidden:
            raise ValueError("a linear autoencoder has no hidden layers (PCA match); use kind='deep'")
        if self.sparsity_weight < 0 or self.noise_std < 0:
            raise ValueError("sparsity_weight and noise_std must be >= 0")

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Encoder hidden widths actually built: none for linear, else ``hidden`` or DEFAULT_HIDDEN."""
        if self.kind == "linear":
            return ()
        return self.hidden or DEFAULT_HIDDEN


class AEOutput(NamedTuple):
    """What ``Autoencoder.forward`` returns."""

    reconstruction: Tensor
    """``[B, in_features]``, in [0, 1] for nonlinear kinds (sigmoid), unbounded for linear."""
    code: Tensor
    """``[B, code]``."""


class VAEOutput(NamedTuple):
    """What ``VAE.forward`` returns."""

    logits: Tensor
    """Bernoulli decoder logits ``[B, in_features]`` for the sampled code."""
    mean: Tensor
    """Posterior mean ``[B, code]``."""
    log_var: Tensor
    """Posterior log-variance ``[B, code]``."""


class Autoencoder(nn.Module):
    """Linear, deep, sparse or denoising autoencoder (kind from the config)."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        if cfg.kind == "vae":
            raise ValueError("kind='vae' is built with VAE(cfg) (or make_autoencoder(cfg))")
        self.cfg = cfg
        sizes = (cfg.in_features, *cfg.hidden_sizes, cfg.code)
        self.encoder = _mlp(sizes, cfg.activation)
        self.decoder = _mlp(sizes[::-1], cfg.activation)
        # Pixel data in [0, 1]: the nonlinear kinds end in a sigmoid; linear stays affine (PCA match).
        self.output = nn.Identity() if cfg.kind == "linear" else nn.Sigmoid()

    def encode(self, x: Tensor) -> Tensor:
        """``[B, in_features] -> [B, code]`` (no corruption)."""
        return self.encoder(x)

    def decode(self, code: Tensor) -> Tensor:
        """``[B, code] -> [B, in_features]`` reconstruction."""
        return self.output(self.decoder(code))

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Add ``N(0, noise_std^2)`` noise when this is a denoising model in training mode.

        Returns ``x`` itself otherwise (eval mode, or any other kind). ``generator`` must live on
        ``x``'s device.
        """
        if not (self.training and self.cfg.kind == "denoising"):
            return x
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.cfg.noise_std * noise

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> AEOutput:
        """Encode the (possibly corrupted) input and decode it.

        Args:
            x: ``[B, in_features]``.
            generator: randomness for the denoising corruption.

        Returns:
            ``AEOutput(reconstruction [B, in_features], code [B, code])``.
        """
        code = self.encode(self.corrupt(x, generator))
        return AEOutput(self.decode(code), code)


def autoencoder_loss(model: Autoencoder, x: Tensor, out: AEOutput, training: bool) -> Tensor:
    """Reconstruction MSE against the clean input, plus the sparse kind's L1 term when training.

    Args:
        model: the autoencoder that produced ``out`` (its config picks the terms).
        x: the clean input ``[B, in_features]``.
        out: ``model(x)``.
        training: add the regulariser (the training objective); ``False`` gives the plain
            reconstruction MSE used to compare models.

    Returns:
        Scalar: mean squared error over all entries, plus ``sparsity_weight * mean_b |code_b|_1``.
    """
    loss = F.mse_loss(out.reconstruction, x)
    if training and model.cfg.kind == "sparse":
        loss = loss + model.cfg.sparsity_weight * out.code.abs().sum(dim=-1).mean()
    return loss


class VAE(nn.Module):
    """Variational autoencoder with a Gaussian encoder and a Bernoulli decoder."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        if cfg.kind != "vae":
            raise ValueError(f"VAE needs AutoencoderConfig(kind='vae'), got {cfg.kind!r}; use Autoencoder")
        self.cfg = cfg
        hidden = cfg.hidden_sizes
        body = _mlp((cfg.in_features, *hidden), cfg.activation)
        self.encoder = nn.Sequential(*body, make_activation(cfg.activation))
        self.to_mean = nn.Linear(hidden[-1], cfg.code)
        self.to_log_var = nn.Linear(hidden[-1], cfg.code)
        self.decoder = _mlp((cfg.code, *hidden[::-1], cfg.in_features), cfg.activation)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, in_features] -> (mean [B, code], log_var [B, code])`` of q(z | x)."""
        h = self.encoder(x)
        return self.to_mean(h), self.to_log_var(h)

    def decode(self, z: Tensor) -> Tensor:
        """``[B, code] -> [B, in_features]`` Bernoulli logits of p(x | z)."""
        return self.decoder(z)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, draw ``z = mean + exp(log_var / 2) * eps`` (reparameterisation), decode.

        Samples in both train and eval mode (the ELBO is an expectation over q); ``generator``
        (on ``x``'s device) makes the draw reproducible.
        """
        mean, log_var = self.encode(x)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + torch.exp(0.5 * log_var) * eps
        return VAEOutput(self.decode(z), mean, log_var)


def negative_elbo(x: Tensor, out: VAEOutput) -> Tensor:
    """Per-example negative ELBO in nats: Bernoulli NLL summed over pixels + KL(q(z|x) || N(0, I)).

    Args:
        x: binarized (or [0, 1]) targets ``[B, in_features]``.
        out: ``VAE(x)``.

    Returns:
        ``[B]``; one-sample Monte Carlo estimate of the reconstruction term, analytic KL.
    """
    nll = F.binary_cross_entropy_with_logits(out.logits, x, reduction="none").sum(dim=-1)
    kl = -0.5 * (1.0 + out.log_var - out.mean.pow(2) - out.log_var.exp()).sum(dim=-1)
    return nll + kl


@torch.no_grad()
def sample_prior(model: VAE, n: int, generator: torch.Generator | None = None) -> Tensor:
    """Decode ``n`` codes drawn from the N(0, I) prior.

    Returns:
        Bernoulli means ``[n, in_features]`` in [0, 1] (``generator`` on the model's device).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ref = next(model.parameters())
    z = torch.randn((n, model.cfg.code), generator=generator, device=ref.device, dtype=ref.dtype)
    return torch.sigmoid(model.decode(z))


def make_autoencoder(cfg: AutoencoderConfig) -> Autoencoder | VAE:
    """``VAE(cfg)`` for kind ``"vae"``, ``Autoencoder(cfg)`` for every other kind."""
    return VAE(cfg) if cfg.kind == "vae" else Autoencoder(cfg)


def pca_baseline(train_x: Tensor, test_x: Tensor, k: int) -> float:
    """Test MSE of the rank-``k`` PCA reconstruction fitted on ``train_x``.

    PCA = top-``k`` right singular vectors of the centred training data (``torch.linalg.svd``),
    computed in float64. The reconstruction of a test row is ``mu + (x - mu) V_k^T V_k``.

    Args:
        train_x: ``[N, D]``.
        test_x: ``[M, D]``.
        k: number of components, ``0 <= k <= min(N, D)``.

    Returns:
        Mean squared error over all test samples and features.
    """
    if train_x.dim() != 2 or test_x.dim() != 2 or train_x.shape[1] != test_x.shape[1]:
        shapes = f"{tuple(train_x.shape)} and {tuple(test_x.shape)}"
        raise ValueError(f"need [N, D] and [M, D] inputs, got {shapes}")
    if not 0 <= k <= min(train_x.shape):
        raise ValueError(f"k must be in [0, {min(train_x.shape)}], got {k}")
    train = train_x.double()
    test = test_x.double()
    mu = train.mean(dim=0)
    _, _, vh = torch.linalg.svd(train - mu, full_matrices=False)
    basis = vh[:k]  # (k, D)
    recon = mu + (test - mu) @ basis.T @ basis  # (M, D)
    return float((recon - test).pow(2).mean())


def _mlp(sizes: tuple[int, ...], activation: str) -> nn.Sequential:
    """Linear layers through ``sizes`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i > 0:
            layers.append(make_activation(activation))
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)
