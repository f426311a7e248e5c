"""DCGAN-style generator and discriminator for small images (8x8 digits, 28x28), optionally
class-conditional, with the non-saturating losses as pure functions.

Layout (Radford et al. 2016, "DCGAN"): the generator projects ``z`` to a ``base x base`` map and
doubles it ``num_upsamples`` times with ``ConvTranspose2d(4, stride 2, pad 1)`` + BatchNorm + ReLU,
then a 3x3 conv and tanh; the discriminator mirrors it with strided convs + BatchNorm (not on the
first layer) + LeakyReLU(0.2) and a linear logit. 8x8 starts from 2x2 and 28x28 from 7x7 (two
doublings each).

Class conditioning (``num_classes > 0``):
- generator: a learned label embedding of width ``latent`` is concatenated to ``z`` (Mirza &
  Osindero 2014, "Conditional GANs");
- discriminator: a projection discriminator (Miyato & Koyama 2018, "cGANs with Projection
  Discriminator"): ``logit = w . phi(x) + b + embed(y) . phi(x)``, with ``phi(x)`` the flattened
  features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

_MAX_UPSAMPLES = 3


@dataclass(frozen=True)
class GANConfig:
    """Shape of a DCGAN generator/discriminator pair."""

    image_size: int = 8
    """Height and width of the images (even, >= 4; e.g. 8 for sklearn digits, 28 for MNIST)."""
    channels: int = 1
    """Image channels."""
    latent: int = 32
    """Width of the noise vector z."""
    width: int = 64
    """Channels of the generator's last (discriminator's first) conv layer; doubled per scale."""
    num_classes: int = 0
    """Number of classes for a class-conditional GAN; 0 = unconditional."""

    def __post_init__(self) -> None:
        if self.image_size < 4 or self.image_size % 2:
            raise ValueError(f"image_size must be even and >= 4, got {self.image_size}")
        if self.channels < 1 or self.latent < 1 or self.width < 1:
            raise ValueError("channels, latent and width must be >= 1")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")

    @property
    def num_upsamples(self) -> int:
        """Number of 2x scale steps: halve while the size stays even and >= 2 (at most 3)."""
        n, size = 0, self.image_size
        while n < _MAX_UPSAMPLES and size % 2 == 0 and size // 2 >= 2:
            n, size = n + 1, size // 2
        return n

    @property
    def base_size(self) -> int:
        """Side of the generator's first feature map (8 -> 2, 28 -> 7)."""
        return self.image_size >> self.num_upsamples

    @property
    def conditional(self) -> bool:
        """Whether labels are required."""
        return self.num_classes > 0


class Generator(nn.Module):
    """``z [B, latent]`` (+ labels) -> images ``[B, C, H, W]`` in [-1, 1]."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = cfg.num_upsamples
        top = cfg.width * 2**n
        self.label_embed = nn.Embedding(cfg.num_classes, cfg.latent) if cfg.conditional else None
        in_features = cfg.latent * (2 if cfg.conditional else 1)
        self.project = nn.Sequential(
            nn.Linear(in_features, top * cfg.base_size**2, bias=False),
            nn.BatchNorm1d(top * cfg.base_size**2),
            nn.ReLU(),
        )
        ups: list[nn.Module] = []
        for i in range(n):
            c_in, c_out = top >> i, top >> (i + 1)
            ups += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.upsample = nn.Sequential(*ups)
        self.to_image = nn.Conv2d(cfg.width, cfg.channels, 3, padding=1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Generate images.

        Args:
            z: ``[B, latent]`` noise.
            labels: long ``[B]`` in ``[0, num_classes)``; required iff the GAN is conditional.

        Returns:
            ``[B, channels, image_size, image_size]`` in [-1, 1].
        """
        cfg = self.cfg
        if z.dim() != 2 or z.shape[1] != cfg.latent:
            raise ValueError(f"z must be [B, {cfg.latent}], got shape {tuple(z.shape)}")
        _check_labels(cfg, labels, z.shape[0])
        if self.label_embed is not None:
            z = torch.cat([z, self.label_embed(labels)], dim=1)  # (B, 2 * latent)
        top = cfg.width * 2**cfg.num_upsamples
        h = self.project(z).view(-1, top, cfg.base_size, cfg.base_size)  # (B, top, base, base)
        h = self.upsample(h)  # (B, width, H, W)
        return torch.tanh(self.to_image(h))


class Discriminator(nn.Module):
    """Images ``[B, C, H, W]`` (+ labels) -> real/fake logits ``[B]``."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = cfg.num_upsamples
        downs: list[nn.Module] = []
        c_in = cfg.channels
        for i in range(n):
            c_out = cfg.width * 2**i
            downs.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0))
            if i > 0:  # DCGAN: no BatchNorm on the discriminator's input layer
                downs.append(nn.BatchNorm2d(c_out))
            downs.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.features = nn.Sequential(*downs, nn.Flatten())
        # Each stride-2 conv halves an even side exactly, so the features end at base x base.
        feature_width = c_in * cfg.base_size**2
        self.logit = nn.Linear(feature_width, 1)
        self.label_embed = nn.Embedding(cfg.num_classes, feature_width) if cfg.conditional else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Score images as real (positive) or fake (negative).

        Args:
            images: ``[B, channels, image_size, image_size]``.
            labels: long ``[B]``; required iff the GAN is conditional.

        Returns:
            Logits ``[B]``.
        """
        cfg = self.cfg
        expected = (cfg.channels, cfg.image_size, cfg.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"images must be [B, *{expected}], got {tuple(images.shape)}")
        _check_labels(cfg, labels, images.shape[0])
        phi = self.features(images)  # (B, F)
        out = self.logit(phi).squeeze(1)  # (B,)
        if self.label_embed is not None:
            out = out + (self.label_embed(labels) * phi).sum(dim=1)  # projection term
        return out


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``BCE(real, 1) + BCE(fake, 0)``, each averaged over its batch (logits ``[B]``).

    Equals ``mean(softplus(-real)) + mean(softplus(fake))``.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating generator loss ``BCE(fake, 1) = mean(softplus(-fake))`` (Goodfellow et al. 2014)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


@torch.no_grad()
def sample(
    generator: Generator,
    n: int,
    labels: Tensor | None = None,
    gen: torch.Generator | None = None,
) -> Tensor:
    """Draw ``n`` images from ``z ~ N(0, I)`` in eval mode (BatchNorm running statistics).

    Args:
        generator: the image generator (its training mode is restored afterwards).
        n: number of images.
        labels: long ``[n]``; required iff conditional.
        gen: torch random generator on the model's device, for reproducible ``z``.

    Returns:
        ``[n, channels, image_size, image_size]`` in [-1, 1].
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    ref = next(generator.parameters())
    z = torch.randn((n, generator.cfg.latent), generator=gen, device=ref.device, dtype=ref.dtype)
    if labels is not None:
        labels = labels.to(ref.device)
    was_training = generator.training
    generator.eval()
    try:
        return generator(z, labels)
    finally:
        generator.train(was_training)


def _check_labels(cfg: GANConfig, labels: Tensor | None, batch: int) -> None:
    """Raise a clear error when labels are missing, unexpected, or the wrong shape."""
    if cfg.conditional and labels is None:
        raise ValueError(f"this GAN is class-conditional (num_classes={cfg.num_classes}): pass labels [B]")
    if not cfg.conditional and labels is not None:
        raise ValueError("this GAN is unconditional (num_classes=0): labels must be None")
    if labels is not None and tuple(labels.shape) != (batch,):
        raise ValueError(f"labels must be [{batch}], got shape {tuple(labels.shape)}")
