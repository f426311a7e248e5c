"""Weight initialization schemes applied to every Linear and convolution of a module.

    net = init_weights(MLP(cfg), "orthogonal", gain=math.sqrt(2))

Schemes (``fan_in`` = input features x kernel area):

- ``"default"``: PyTorch's own initialization again (each layer's ``reset_parameters``,
  bias included); ``gain`` is not accepted.
- ``"xavier_uniform"`` / ``"xavier_normal"`` (Glorot & Bengio 2010): variance
  ``gain^2 * 2 / (fan_in + fan_out)``; gain defaults to 1.
- ``"he_uniform"`` / ``"he_normal"`` (He et al. 2015): variance ``gain^2 / fan_in``; gain
  defaults to sqrt(2), the ReLU gain, giving std ``sqrt(2 / fan_in)``.
- ``"orthogonal"`` (Saxe et al. 2014): a (semi-)orthogonal matrix times gain; gain defaults
  to 1.

Every scheme but ``"default"`` sets biases to zero.
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar, get_args

import torch
from torch import nn

InitScheme = Literal["default", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "orthogonal"]
M = TypeVar("M", bound=nn.Module)

_RELU_GAIN = math.sqrt(2.0)
_INITIALIZED = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d
)


def init_weights(module: M, scheme: InitScheme, gain: float | None = None) -> M:
    """Re-initialize, in place, the weights of every Linear and conv layer inside ``module``.

    Other layers (norms, embeddings, RNNs, bare parameters) are left untouched.

    Args:
        module: any module; it is mutated and also returned (for chaining).
        scheme: one of ``InitScheme`` (see the module docstring).
        gain: scale factor; ``None`` uses the scheme's usual default (1, or sqrt(2) for he_*).

    Returns:
        ``module`` itself.

    Raises:
        ValueError: for an unknown scheme, or a gain given with ``"default"``.
    """
    if scheme not in get_args(InitScheme):
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {get_args(InitScheme)}")
    if scheme == "default" and gain is not None:
        raise ValueError("scheme 'default' takes no gain: pick e.g. 'xavier_uniform' to scale weights")
    for layer in module.modules():
        if isinstance(layer, _INITIALIZED):
            _init_layer(layer, scheme, gain)
    return module


def _init_layer(layer: nn.Module, scheme: InitScheme, gain: float | None) -> None:
    """Initialize one Linear/conv layer's weight (and zero its bias) by ``scheme``."""
    if scheme == "default":
        layer.reset_parameters()
        return
    weight: torch.Tensor = layer.weight
    if scheme == "xavier_uniform":
        nn.init.xavier_uniform_(weight, gain=1.0 if gain is None else gain)
    elif scheme == "xavier_normal":
        nn.init.xavier_normal_(weight, gain=1.0 if gain is None else gain)
    elif scheme in ("he_uniform", "he_normal"):
        init = nn.init.kaiming_uniform_ if scheme == "he_uniform" else nn.init.kaiming_normal_
        init(weight, mode="fan_in", nonlinearity="relu")  # std sqrt(2 / fan_in)
        if gain is not None:
            with torch.no_grad():
                weight.mul_(gain / _RELU_GAIN)  # std gain / sqrt(fan_in)
    elif scheme == "orthogonal":
        nn.init.orthogonal_(weight, gain=1.0 if gain is None else gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
