"""Output heads for RL agents and the math on their distributions.

- ``DuelingQHead``: Q-values as ``V + A - mean(A)`` (Wang et al. 2016).
- ``CategoricalPolicyHead`` + ``masked_logits`` + ``categorical_log_prob_entropy``: discrete
  policies over legal moves.
- ``GaussianPolicyHead`` + ``gaussian_log_prob`` + ``gaussian_entropy``: diagonal Gaussian
  policies for continuous actions.

The distribution functions are plain tensor -> tensor maps (STYLE.md rule 9), checked
against ``torch.distributions`` in the tests.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

LOG_STD_MIN = -20.0
"""Lower clamp of a Gaussian head's log-std (std ~ 2e-9), as in SAC implementations."""
LOG_STD_MAX = 2.0
"""Upper clamp of a Gaussian head's log-std (std ~ 7.4), for actions scaled to about [-1, 1]."""
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class ValueAdvantage(NamedTuple):
    """The two streams of a dueling head."""

    value: torch.Tensor
    """float [B]: state value V(s)."""
    advantage: torch.Tensor
    """float [B, A]: raw advantages A(s, a), before the mean is removed."""


class DuelingQHead(nn.Module):
    """Dueling Q head: ``Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')`` (Wang et al. 2016, eq. 9).

    Args:
        in_features: width F of the input features.
        num_actions: number of actions A.
        hidden: width of a ReLU hidden layer in each stream; 0 makes each stream one Linear.
    """

    def __init__(self, in_features: int, num_actions: int, hidden: int = 0) -> None:
        super().__init__()
        if in_features < 1 or num_actions < 1 or hidden < 0:
            raise ValueError(f"need in_features, num_actions >= 1 and hidden >= 0, got "
                             f"{in_features}, {num_actions}, {hidden}")
        self.value_stream = _stream(in_features, 1, hidden)
        self.advantage_stream = _stream(in_features, num_actions, hidden)

    def value_and_advantage(self, features: torch.Tensor) -> ValueAdvantage:
        """The two streams before they are combined: ``[B, F] -> (value [B], advantage [B, A])``."""
        return ValueAdvantage(self.value_stream(features).squeeze(-1), self.advantage_stream(features))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Q-values.

        Args:
            features: float ``[B, F]``.

        Returns:
            float ``[B, A]``; its mean over actions equals the value stream ``V(s)``.
        """
        value, advantage = self.value_and_advantage(features)
        return value.unsqueeze(-1) + advantage - advantage.mean(dim=-1, keepdim=True)


class CategoricalPolicyHead(nn.Module):
    """A linear map from features to action logits, optionally masked to legal actions.

    Args:
        in_features: width F of the input features.
        num_actions: number of actions A.
    """

    def __init__(self, in_features: int, num_actions: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, num_actions)

    def forward(self, features: torch.Tensor, legal_action_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Action logits.

        Args:
            features: float ``[B, F]``.
            legal_action_mask: optional bool ``[B, A]``; if given, illegal actions get
                ``masked_logits``'s large negative value.

        Returns:
            float ``[B, A]`` logits (no softmax).
        """
        logits = self.linear(features)
        return logits if legal_action_mask is None else masked_logits(logits, legal_action_mask)


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Give illegal actions the most negative finite value of the dtype, so softmax is 0 there.

    The value is finite (``torch.finfo(dtype).min``), so nothing becomes ``inf`` or ``NaN``:
    ``softmax`` and ``log_softmax`` stay defined and gradients flow only to legal entries.
    A row whose mask is all False (e.g. a finished game) gets that same value in every
    entry, so its softmax is uniform over all A actions (1/A each), never NaN; such a row
    carries no information and callers should ignore it rather than act on it.

    Args:
        logits: float ``[..., A]``.
        mask: bool ``[..., A]`` (broadcastable), True where the action is legal.

    Returns:
        float ``[..., A]``, equal to ``logits`` where ``mask`` is True.
    """
    return logits.masked_fill(~mask, torch.finfo(logits.dtype).min)


class LogProbEntropy(NamedTuple):
    """Log-probability of taken actions and the entropy of the distributions they came from."""

    log_prob: torch.Tensor
    """float [B]: log pi(action | s)."""
    entropy: torch.Tensor
    """float [B]: entropy of pi(. | s) in nats."""


def categorical_log_prob_entropy(logits: torch.Tensor, action: torch.Tensor) -> LogProbEntropy:
    """Log-probability of ``action`` and the entropy under ``softmax(logits)``.

    Safe with ``masked_logits``: masked actions have probability 0 and contribute 0 (not NaN)
    to the entropy, so the entropy is that of the distribution over legal actions.

    Args:
        logits: float ``[B, A]``.
        action: long ``[B]`` action indices.

    Returns:
        ``LogProbEntropy(log_prob [B], entropy [B])``.
    """
    # Clamp so 0 * log 0 is 0 * (finite) = 0 rather than 0 * -inf = NaN (as torch.distributions does).
    log_p = torch.log_softmax(logits, dim=-1).clamp(min=torch.finfo(logits.dtype).min)  # (B, A)
    log_prob = log_p.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
    entropy = -(log_p.exp() * log_p).sum(dim=-1)
    return LogProbEntropy(log_prob, entropy)


class GaussianParams(NamedTuple):
    """A diagonal Gaussian policy's parameters."""

    mean: torch.Tensor
    """float [B, D]: action mean."""
    log_std: torch.Tensor
    """float [B, D]: log standard deviation, clamped to [LOG_STD_MIN, LOG_STD_MAX]."""


class GaussianPolicyHead(nn.Module):
    """Diagonal Gaussian policy head: a linear mean and a log-std.

    Args:
        in_features: width F of the input features.
        action_dim: action dimensions D.
        state_dependent_std: if True, log-std is a linear function of the features (its bias
            starts at ``init_log_std`` and its weights at 0); if False, it is one learned
            parameter per dimension shared by all states (as in PPO for MuJoCo).
        init_log_std: initial log standard deviation.
    """

    def __init__(
        self, in_features: int, action_dim: int, state_dependent_std: bool = False, init_log_std: float = 0.0
    ) -> None:
        super().__init__()
        if not LOG_STD_MIN <= init_log_std <= LOG_STD_MAX:
            raise ValueError(f"init_log_std must be in [{LOG_STD_MIN}, {LOG_STD_MAX}], got {init_log_std}")
        self.state_dependent_std = state_dependent_std
        self.mean = nn.Linear(in_features, action_dim)
        if state_dependent_std:
            self.log_std = nn.Linear(in_features, action_dim)
            nn.init.zeros_(self.log_std.weight)
            nn.init.constant_(self.log_std.bias, init_log_std)
        else:
            self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def forward(self, features: torch.Tensor) -> GaussianParams:
        """Mean and log-std of the action distribution.

        Args:
            features: float ``[B, F]``.

        Returns:
            ``GaussianParams(mean [B, D], log_std [B, D])``.
        """
        mean = self.mean(features)
        if self.state_dependent_std:
            log_std = self.log_std(features)
        else:
            log_std = self.log_std.expand_as(mean)
        return GaussianParams(mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX))


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Log-density of ``action`` under a diagonal Gaussian, summed over action dimensions.

    Args:
        mean: float ``[B, D]``.
        log_std: float ``[B, D]`` (or broadcastable, e.g. ``[D]``).
        action: float ``[B, D]``.

    Returns:
        float ``[B]``: ``sum_d log N(action_d; mean_d, exp(log_std_d)^2)``.
    """
    z = (action - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - _HALF_LOG_2PI).sum(dim=-1)


def gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of a diagonal Gaussian, summed over action dimensions (it ignores the mean).

    Args:
        log_std: float ``[B, D]``.

    Returns:
        float ``[B]``: ``sum_d (0.5 + 0.5 log(2 pi) + log_std_d)``.
    """
    return (0.5 + _HALF_LOG_2PI + log_std).sum(dim=-1)


def _stream(in_features: int, out_features: int, hidden: int) -> nn.Module:
    """One dueling stream: ``Linear`` or ``Linear -> ReLU -> Linear``."""
    if hidden == 0:
        return nn.Linear(in_features, out_features)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))
