"""Deep belief nets (Hinton, Osindero & Teh 2006): RBMs (nets/rbm.py) stacked and trained
greedily, each on the hidden probabilities of the one below, then unrolled into a sigmoid MLP
that is fine-tuned with labels (the greedy training, ``pretrain_dbn``, is in nets/supervised/rbm.py).

    dbn = DBN(DBNConfig(visible=64, hidden=(256, 256)))
    pretrain_dbn(dbn, x_binary, CDConfig(method="pcd"), TrainConfig(epochs=30, optimizer="momentum", lr=0.05))
    mlp = mlp_from_dbn(dbn, out_features=10)  # then fit it like any classifier
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nets.mlp import MLP, MLPConfig
from nets.rbm import BernoulliRBM, RBMConfig, hidden_probs


@dataclass(frozen=True)
class DBNConfig:
    """A stack of RBMs: ``visible -> hidden[0] -> hidden[1] -> ...``."""

    visible: int
    """Input units (pixels)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden units of each RBM, bottom first."""

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, tuple) or not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of widths >= 1, got {self.hidden!r}")


class DBN(nn.Module):
    """RBMs stacked bottom-up (``rbms[0]`` sees the pixels); ``forward(v)`` is the top layer's
    hidden probabilities, each layer fed the probabilities of the one below."""

    def __init__(self, cfg: DBNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = (cfg.visible, *cfg.hidden)
        self.rbms = nn.ModuleList(BernoulliRBM(RBMConfig(a, b)) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return propagate_up(self, v)


@torch.no_grad()
def propagate_up(dbn: DBN, v: torch.Tensor, layers: int | None = None) -> torch.Tensor:
    """Hidden probabilities after the first ``layers`` RBMs (all by default): ``[B, V] -> [B, H_l]``."""
    for rbm in list(dbn.rbms)[: len(dbn.rbms) if layers is None else layers]:
        v = hidden_probs(rbm, v)
    return v


def dbn_mlp_config(cfg: DBNConfig, out_features: int, dropout: float = 0.0) -> MLPConfig:
    """The sigmoid MLP with the DBN's widths: ``visible -> hidden... -> out_features``."""
    return MLPConfig(in_features=cfg.visible, out_features=out_features, hidden=cfg.hidden, activation="sigmoid",
                     dropout=dropout)


def mlp_from_dbn(dbn: DBN, out_features: int, dropout: float = 0.0) -> MLP:
    """A sigmoid MLP ``V -> hidden... -> out_features`` whose hidden layers are the DBN's RBMs
    (``Linear.weight = W``, ``Linear.bias = c``: the forward pass is :func:`propagate_up`); the
    output layer keeps PyTorch's default init. The MLP owns copies (fine-tuning leaves the DBN)."""
    mlp = MLP(dbn_mlp_config(dbn.cfg, out_features, dropout))
    mlp.to(dbn.rbms[0].weight.device)
    with torch.no_grad():
        for linear, rbm in zip(mlp.hidden_layers(), dbn.rbms):
            linear.weight.copy_(rbm.weight)
            linear.bias.copy_(rbm.hidden_bias)
    return mlp
