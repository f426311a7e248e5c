"""The math of DQN (:mod:`agents.dqn`) as pure functions: tensors in, tensors out.

The epsilon and beta schedule, n-step returns cut at episode ends, the masked argmax over
legal actions, the (double) TD target and the Polyak/hard target update. Apart from the
learner, so ``tests/test_dqn.py`` checks each against hand-computed values with no env,
replay buffer or optimizer.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


def linear_schedule(start: float, end: float, duration: int, t: int) -> float:
    """``start`` moving linearly to ``end`` over ``duration`` steps, then ``end`` (t in steps)."""
    if duration <= 0:
        return end
    return start + (end - start) * min(1.0, max(0, t) / duration)


class NStepReturn(NamedTuple):
    """Discounted sums of n-step windows and how to bootstrap them."""

    returns: torch.Tensor
    """float [B]: sum_{j<=k} gamma^j r_j over the window's included steps 0..k."""
    last: torch.Tensor
    """long [B]: k, the last included step (its next observation is the bootstrap state)."""
    discount: torch.Tensor
    """float [B]: gamma^(k+1), or 0 when step k terminated (no bootstrap)."""


def n_step_returns(rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
                   valid: torch.Tensor, gamma: float) -> NStepReturn:
    """n-step returns with cut-offs: a window stops after its first terminated or truncated step
    (episode end) and before its first invalid step (not written yet).

    Args:
        rewards: float ``[B, n]``; terminated, truncated, valid: bool ``[B, n]`` (``valid[:, 0]`` True).
        gamma: discount.

    Returns:
        :class:`NStepReturn`. A truncated last step bootstraps (the episode did not end by its
        dynamics); a terminated one does not.
    """
    n = rewards.shape[1]
    ended = (terminated | truncated).float()
    alive_before = torch.cumprod(torch.cat([torch.ones_like(ended[:, :1]), 1 - ended[:, :-1]], 1), 1)
    include = alive_before * torch.cumprod(valid.float(), 1)  # (B, n): 1 for steps 0..k
    powers = gamma ** torch.arange(n, dtype=rewards.dtype, device=rewards.device)
    returns = (rewards * include * powers).sum(1)
    last = include.sum(1).long() - 1
    last_terminated = terminated.gather(1, last[:, None]).squeeze(1)
    discount = torch.where(last_terminated, torch.zeros_like(returns), gamma ** (last + 1).to(returns.dtype))
    return NStepReturn(returns, last, discount)


def masked_argmax(q: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``argmax`` over legal actions: q float ``[B, A]``, mask bool ``[B, A]`` or None -> long ``[B]``.

    A row with no legal action (a finished game) returns 0; callers ignore such rows."""
    if mask is None:
        return q.argmax(-1)
    return q.masked_fill(~mask, torch.finfo(q.dtype).min).argmax(-1)


def td_target(returns: torch.Tensor, discount: torch.Tensor, next_q_online: torch.Tensor,
              next_q_target: torch.Tensor, next_mask: torch.Tensor | None, double: bool) -> torch.Tensor:
    """Bootstrapped target ``G + discount * Q_target(s', a*)`` ``[B]``.

    ``a*`` is the masked argmax of ``next_q_online`` (double DQN) or of ``next_q_target``
    (vanilla DQN: the max of the target network). ``discount`` is 0 where the episode
    terminated, so those rows are just ``G``. Inputs ``[B]`` and ``[B, A]``; no gradients flow.
    """
    chooser = next_q_online if double else next_q_target
    best = masked_argmax(chooser, next_mask)
    value = next_q_target.gather(1, best[:, None]).squeeze(1)
    return (returns + discount * value).detach()


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * online`` for every parameter and buffer (tau = 1: copy)."""
    for t, o in zip(target.state_dict().values(), online.state_dict().values()):
        if t.dtype.is_floating_point:
            t.lerp_(o, tau)
        else:
            t.copy_(o)
