"""Multi-layer perceptron: the fully connected network behind DQN on vector tasks, the
policy/value trunks of the policy-gradient agents, and the supervised MLP scripts.

    cfg = MLPConfig(in_features=4, out_features=2, hidden=(64, 64), activation="tanh")
    net = MLP(cfg)
    y = net(x)  # [B, 4] -> [B, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

ActivationName = Literal["relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu", "identity"]
NormName = Literal["none", "batch", "layer"]


def activation(name: ActivationName) -> nn.Module:
    """A fresh activation module by name (torch's own layers).

    Args:
        name: one of ``ActivationName``; ``"leaky_relu"`` uses torch's default slope 0.01.

    Returns:
        An ``nn.Module`` mapping any shape to the same shape.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    factories = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
        "elu": nn.ELU,
        "leaky_relu": nn.LeakyReLU,
        "identity": nn.Identity,
    }
    if name not in factories:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(factories)}")
    return factories[name]()


@dataclass(frozen=True)
class MLPConfig:
    """Shape and regularization of an MLP (Linear -> norm -> activation -> dropout per layer)."""

    in_features: int
    """Width of the input vector."""
    out_features: int
    """Width of the output vector."""
    hidden: tuple[int, ...] = (64, 64)
    """Widths of the hidden layers, in order; () gives a single linear layer."""
    activation: ActivationName = "relu"
    """Nonlinearity after every hidden layer."""
    dropout: float = 0.0
    """Dropout probability after every hidden activation (0 disables it)."""
    norm: NormName = "none"
    """Normalization between each hidden Linear and its activation."""
    residual: bool = False
    """Add a skip connection around each hidden layer whose input and output widths are equal."""
    output_activation: ActivationName = "identity"
    """Nonlinearity applied to the output (identity for logits, Q-values, regression)."""

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, tuple):
            raise TypeError(f"hidden must be a tuple of ints, got {self.hidden!r}: use e.g. (64, 64)")
        for name in ("in_features", "out_features"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"every hidden width must be a positive int, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.norm not in get_args(NormName):
            raise ValueError(f"unknown norm {self.norm!r}; choose one of {get_args(NormName)}")
        for name in ("activation", "output_activation"):
            if getattr(self, name) not in get_args(ActivationName):
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {get_args(ActivationName)}"
                )


class MLP(nn.Module):
    """A configurable multi-layer perceptron.

    Each hidden layer is ``Linear -> norm -> activation -> dropout``; with ``residual=True`` a
    hidden layer whose input and output widths match computes ``x + layer(x)`` (the first
    hidden layer only when ``in_features`` equals its width). The output layer is a plain
    ``Linear`` followed by ``output_activation``.
    """

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = (cfg.in_features, *cfg.hidden)
        self.blocks = nn.ModuleList(
            _hidden_block(w_in, w_out, cfg) for w_in, w_out in zip(widths[:-1], widths[1:])
        )
        # Plain Python bools fixed at construction: no branching on tensor values in forward.
        self._skips = [cfg.residual and w_in == w_out for w_in, w_out in zip(widths[:-1], widths[1:])]
        self.output = nn.Linear(widths[-1], cfg.out_features)
        self.output_activation = activation(cfg.output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs to outputs.

        Args:
            x: float ``[B, in_features]``.

        Returns:
            float ``[B, out_features]``.
        """
        for block, skip in zip(self.blocks, self._skips):
            x = x + block(x) if skip else block(x)
        return self.output_activation(self.output(x))

    def hidden_layers(self) -> list[nn.Linear]:
        """The ``nn.Linear`` of every hidden layer, input side first (``len(cfg.hidden)`` items).

        The output layer is not included: it is ``self.output`` (see ``linear_layers``). Meant for
        diagnostics such as per-layer gradient norms (the vanishing-gradient plot).
        """
        return [block[0] for block in self.blocks]

    def linear_layers(self) -> list[nn.Linear]:
        """Every ``nn.Linear`` in order: the hidden layers, then the output layer."""
        return [*self.hidden_layers(), self.output]


def _hidden_block(w_in: int, w_out: int, cfg: MLPConfig) -> nn.Sequential:
    """``Linear -> norm -> activation -> dropout`` as one Sequential; index 0 is the Linear."""
    layers: list[nn.Module] = [nn.Linear(w_in, w_out)]
    if cfg.norm == "batch":
        layers.append(nn.BatchNorm1d(w_out))
    elif cfg.norm == "layer":
        layers.append(nn.LayerNorm(w_out))
    layers.append(activation(cfg.activation))
    if cfg.dropout > 0.0:
        layers.append(nn.Dropout(cfg.dropout))
    return nn.Sequential(*layers)


def layer_chain(mlp: MLP) -> list[nn.Module] | None:
    """The layers of a non-residual MLP in call order (its leaf modules, as registered), or None
    for a residual one, whose forward is not a plain chain."""
    if mlp.cfg.residual:
        return None
    containers = (nn.ModuleList, nn.Sequential)  # an empty one (no hidden layers) has no forward
    return [m for m in mlp.modules() if next(m.children(), None) is None and not isinstance(m, containers)]


def run_chain(mlp: MLP, chain: list[nn.Module] | None, x: torch.Tensor) -> torch.Tensor:
    """``mlp(x)``, calling the ``forward`` of each layer of ``chain`` (:func:`layer_chain`) in turn.

    The same math without ``nn.Module.__call__``'s dispatch (hooks, tracing checks) on every
    layer, which at the sizes of a rollout step (8 rows, width 64) costs more than the layers
    themselves; nothing here registers hooks.
    """
    if chain is None:
        return mlp(x)
    for layer in chain:
        x = layer.forward(x)
    return x
