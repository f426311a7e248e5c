"""The losses of the policy-gradient learners (:mod:`agents.pg`), as pure functions.

Tensors in, a scalar loss out: no network, env or optimizer, so ``tests/test_pg.py`` checks
them against hand-computed values. :class:`agents.pg.PolicyGradient` calls them on every
minibatch: the clipped surrogate for PPO (A2C and REINFORCE take the plain ``-mean(A log pi)``),
the value loss whenever there is a critic (``clip_range=None``: plain squared error).
"""

from __future__ import annotations

import torch


def ppo_clip_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip_range: float,
) -> torch.Tensor:
    """PPO's clipped surrogate, as a loss to minimize (Schulman et al. 2017, eq. 7).

    ``-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))`` with ``r = exp(log_prob - old_log_prob)``.

    Args:
        log_prob: float ``[B]`` under the policy being trained.
        old_log_prob: float ``[B]`` under the policy that acted.
        advantages: float ``[B]``.
        clip_range: ``eps``.

    Returns:
        A scalar.
    """
    ratio = torch.exp(log_prob - old_log_prob)
    clipped = ratio.clamp(1.0 - clip_range, 1.0 + clip_range)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


def value_clip_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip_range: float | None,
) -> torch.Tensor:
    """Squared error of the critic, pessimistically clipped around the rollout's values.

    ``mean(max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2))`` (OpenAI baselines' PPO2);
    ``clip_range=None`` gives the plain ``mean((V - R)^2)``.

    Args:
        values: float ``[B]``, the critic being trained.
        old_values: float ``[B]``, the critic's values when acting.
        returns: float ``[B]``, the targets.
        clip_range: ``c``, or None.

    Returns:
        A scalar.
    """
    unclipped = (values - returns).pow(2)
    if clip_range is None:
        return unclipped.mean()
    clipped = old_values + (values - old_values).clamp(-clip_range, clip_range)
    return torch.max(unclipped, (clipped - returns).pow(2)).mean()
