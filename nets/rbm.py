"""Bernoulli restricted Boltzmann machines trained by contrastive divergence.

An RBM over binary visible units ``v [V]`` and hidden units ``h [H]`` has the energy
``E(v, h) = -b.v - c.h - h^T W v`` (``W [H, V]``, visible bias ``b``, hidden bias ``c``), so
``p(h_j = 1 | v) = sigmoid(c_j + W_j v)``, ``p(v_i = 1 | h) = sigmoid(b_i + W[:, i] . h)`` and,
summing the hidden units out, the free energy ``F(v) = -b.v - sum_j softplus(c_j + W_j v)`` with
``p(v) = exp(-F(v)) / Z``. The log-likelihood gradient is ``-dF(v_data)/dtheta + E_model[dF/dtheta]``;
contrastive divergence (Hinton 2002) replaces the model expectation by samples ``k`` Gibbs steps
from the data (CD-k), persistent CD (Tieleman 2008) by chains that carry on from one update to
the next. Both are written as one surrogate loss, ``mean F(v_data) - mean F(v_negative)``, whose
autograd gradient is exactly the CD/PCD estimate, so torch's optimizers apply it.

Deep belief nets, stacks of these RBMs, are in nets/dbn.py; the training loops (``fit_rbm``,
``pretrain_dbn``) in nets/supervised/rbm.py.

    rbm = BernoulliRBM(RBMConfig(visible=64, hidden=256))
    fit_rbm(rbm, x_binary, CDConfig(method="pcd"), TrainConfig(epochs=30, optimizer="momentum", lr=0.05))
    features = hidden_probs(rbm, x_binary)  # [n, 256]

Math is in functions (PCD's sampling mutates its chains); no printing, no files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

CDMethod = Literal["cd", "pcd"]


@dataclass(frozen=True)
class RBMConfig:
    """Shape and initialization of a Bernoulli RBM."""

    visible: int
    """Visible units V (pixels)."""
    hidden: int
    """Hidden units H (features)."""
    init_std: float = 0.01
    """Standard deviation of the initial Gaussian weights (Hinton's practical guide: 0.01)."""

    def __post_init__(self) -> None:
        if self.visible < 1 or self.hidden < 1:
            raise ValueError(f"an RBM needs visible >= 1 and hidden >= 1, got {self.visible} x {self.hidden}")


class BernoulliRBM(nn.Module):
    """Parameters of a binary-binary RBM: ``weight [H, V]``, ``visible_bias [V]``, ``hidden_bias [H]``.

    ``weight`` has ``nn.Linear``'s layout (out = hidden, in = visible), so it drops straight into
    the matching MLP layer. ``forward(v)`` is ``p(h = 1 | v)``.
    """

    def __init__(self, cfg: RBMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.weight = nn.Parameter(torch.randn(cfg.hidden, cfg.visible) * cfg.init_std)
        self.visible_bias = nn.Parameter(torch.zeros(cfg.visible))
        self.hidden_bias = nn.Parameter(torch.zeros(cfg.hidden))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return hidden_probs(self, v)


class PersistentChains(nn.Module):
    """The fantasy particles of persistent CD: a buffer ``state [chains, V]`` of binary visible
    vectors that survives between updates (and is saved with the module's state dict)."""

    def __init__(self, chains: int, visible: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.state: torch.Tensor
        self.register_buffer("state", (torch.rand(chains, visible, generator=generator) < 0.5).float())


class Gibbs(NamedTuple):
    """The end of a Gibbs chain: binary sample ``v [B, V]`` and the means ``v_probs`` it was drawn from."""

    v: torch.Tensor
    v_probs: torch.Tensor


@dataclass(frozen=True)
class CDConfig:
    """How the negative phase of an RBM update is sampled."""

    method: CDMethod = "cd"
    """cd: k Gibbs steps from the batch (CD-k); pcd: k steps of persistent chains (PCD)."""
    k: int = 1
    """Gibbs steps per update."""
    chains: int | None = None
    """Persistent chains for pcd (None: the batch size)."""

    def __post_init__(self) -> None:
        if self.k < 1 or (self.chains is not None and self.chains < 1):
            raise ValueError(f"need k >= 1 and chains >= 1, got k={self.k}, chains={self.chains}")


# --- the distributions ---------------------------------------------------------------------------


def hidden_probs(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    """``p(h = 1 | v)``: ``[B, V] -> [B, H]``."""
    return torch.sigmoid(F.linear(v, rbm.weight, rbm.hidden_bias))


def visible_probs(rbm: BernoulliRBM, h: torch.Tensor) -> torch.Tensor:
    """``p(v = 1 | h)``: ``[B, H] -> [B, V]``."""
    return torch.sigmoid(F.linear(h, rbm.weight.t(), rbm.visible_bias))


def energy(rbm: BernoulliRBM, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``E(v, h) = -b.v - c.h - h^T W v`` of each pair: ``[B, V], [B, H] -> [B]``."""
    return -(v @ rbm.visible_bias) - (h @ rbm.hidden_bias) - ((h @ rbm.weight) * v).sum(1)


def free_energy(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    """``F(v) = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + W_j v)``: ``[B, V] -> [B]``."""
    return -(v @ rbm.visible_bias) - F.softplus(F.linear(v, rbm.weight, rbm.hidden_bias)).sum(1)


@torch.no_grad()
def log_partition(rbm: BernoulliRBM, max_units: int = 20) -> torch.Tensor:
    """``log Z`` by enumerating every state of the smaller layer (tests and tiny models only).

    Over the visible layer ``log Z = logsumexp_v -F(v)``; over the hidden one, by symmetry,
    ``log Z = logsumexp_h [c.h + sum_i softplus(b_i + W[:, i] . h)]``.
    """
    V, H = rbm.cfg.visible, rbm.cfg.hidden
    if min(V, H) > max_units:
        raise ValueError(f"enumerating 2^{min(V, H)} states is too many (max_units={max_units})")
    if V <= H:
        return torch.logsumexp(-free_energy(rbm, all_binary_states(V).to(rbm.weight)), 0)
    h = all_binary_states(H).to(rbm.weight)
    return torch.logsumexp(h @ rbm.hidden_bias + F.softplus(F.linear(h, rbm.weight.t(), rbm.visible_bias)).sum(1), 0)


def all_binary_states(n: int) -> torch.Tensor:
    """Every binary vector of length ``n``, ``[2^n, n]`` float, in counting order."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)))


# --- sampling ------------------------------------------------------------------------------------


def sample_bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary draws ``x ~ Bernoulli(p)``, same shape and dtype as ``p``."""
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


def gibbs_step(rbm: BernoulliRBM, v: torch.Tensor, generator: torch.Generator | None = None) -> Gibbs:
    """One step of block Gibbs sampling, ``v -> h ~ p(h | v) -> v' ~ p(v | h)``, for ``v [B, V]``."""
    h = sample_bernoulli(hidden_probs(rbm, v), generator)
    probs = visible_probs(rbm, h)
    return Gibbs(sample_bernoulli(probs, generator), probs)


@torch.no_grad()
def gibbs_chain(rbm: BernoulliRBM, v: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> Gibbs:
    """``steps >= 1`` Gibbs steps from ``v [B, V]`` (no gradients); returns the last state."""
    out = gibbs_step(rbm, v, generator)
    for _ in range(steps - 1):
        out = gibbs_step(rbm, out.v, generator)
    return out


def cd_negatives(rbm: BernoulliRBM, v: torch.Tensor, k: int = 1,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """CD-k's negative samples: ``k`` Gibbs steps started at the data ``v [B, V]``."""
    return gibbs_chain(rbm, v, k, generator).v


@torch.no_grad()
def pcd_negatives(
    rbm: BernoulliRBM, chains: PersistentChains, k: int = 1, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """PCD's negative samples: advance the persistent chains ``k`` Gibbs steps. Mutates
    ``chains.state`` in place (the next update starts where this one ended); returns a copy."""
    chains.state.copy_(gibbs_chain(rbm, chains.state, k, generator).v)
    return chains.state.clone()


def contrastive_divergence_loss(rbm: BernoulliRBM, v_data: torch.Tensor, v_negative: torch.Tensor) -> torch.Tensor:
    """``mean F(v_data) - mean F(v_negative)``: its gradient is minus the CD/PCD estimate of the
    log-likelihood gradient (the negatives are constants), e.g. for ``W``:
    ``-(<p(h|v) v^T>_data - <p(h|v) v^T>_negative)``. Its value is no likelihood: monitor with
    :func:`reconstruction_error` or :func:`pseudo_log_likelihood`."""
    return free_energy(rbm, v_data).mean() - free_energy(rbm, v_negative.detach()).mean()


# --- monitoring ----------------------------------------------------------------------------------


@torch.no_grad()
def reconstruct(rbm: BernoulliRBM, v: torch.Tensor) -> torch.Tensor:
    """Deterministic mean-field reconstruction ``p(v = 1 | h = p(h | v))``: ``[B, V] -> [B, V]``."""
    return visible_probs(rbm, hidden_probs(rbm, v))


@torch.no_grad()
def reconstruction_error(rbm: BernoulliRBM, v: torch.Tensor) -> float:
    """Mean squared error per pixel between ``v [B, V]`` and :func:`reconstruct` (no sampling)."""
    return float(F.mse_loss(reconstruct(rbm, v), v))


@torch.no_grad()
def pseudo_log_likelihood(
    rbm: BernoulliRBM, v: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 8192,
) -> float:
    """Mean pseudo-log-likelihood per image, ``sum_i log p(v_i | v_-i) = sum_i log sigmoid(F(v~i) - F(v))``
    with ``v~i`` = ``v`` with bit ``i`` flipped. Exact (every bit) without ``generator``; with one,
    scikit-learn's cheaper estimate: ``V * log p(v_i | v_-i)`` for one random bit per image."""
    B, V = v.shape
    if generator is not None:
        rows, bit = torch.arange(B, device=v.device), torch.randint(V, (B,), generator=generator, device=v.device)
        flipped = v.clone()
        flipped[rows, bit] = 1 - flipped[rows, bit]
        return float((V * F.logsigmoid(free_energy(rbm, flipped) - free_energy(rbm, v))).mean())
    fe = free_energy(rbm, v)  # (B,)
    total = torch.zeros((), device=v.device)
    eye = torch.eye(V, device=v.device, dtype=v.dtype)
    for start in range(0, B, max(1, chunk // V)):
        part = v[start : start + max(1, chunk // V)]
        flipped = (part[:, None, :] - eye).abs().reshape(-1, V)  # (b * V, V): bit i flipped in row i
        diff = free_energy(rbm, flipped).view(len(part), V) - fe[start : start + len(part), None]
        total = total + F.logsigmoid(diff).sum()
    return float(total / B)


# --- the start of training ------------------------------------------------------------------------------------


def init_visible_bias(rbm: BernoulliRBM, x: torch.Tensor, eps: float = 1e-3) -> None:
    """Set ``b_i = log(p_i / (1 - p_i))`` for the mean ``p_i`` of pixel ``i`` in ``x [n, V]`` (the
    practical guide's start: the model's marginals match the data's before learning). Mutates ``rbm``."""
    p = x.float().mean(0).clamp(eps, 1 - eps)
    with torch.no_grad():
        rbm.visible_bias.copy_(torch.log(p / (1 - p)).to(rbm.visible_bias))
