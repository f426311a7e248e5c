"""The math of DQN (:mod:`agents.dqn`) as pure functions: arrays in, arrays out.

The epsilon and beta schedule, epsilon-greedy exploration, n-step returns cut at episode ends,
the masked argmax over legal actions, the (double) TD target, the TD loss and the Polyak/hard
target update, in the order one iteration of ``DQNLearner.learn`` calls them. Apart from the
learner, so ``tests/test_dqn.py`` checks each against hand-computed values with no env,
replay buffer or optimizer.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import nn


def linear_schedule(start: float, end: float, duration: int, t: int) -> float:
    """``start`` moving linearly to ``end`` over ``duration`` steps, then ``end`` (t in steps)."""
    if duration <= 0:
        return end
    return start + (end - start) * min(1.0, max(0, t) / duration)


def epsilon_greedy(greedy: np.ndarray, epsilon: float, num_actions: int, rng: np.random.Generator,
                   action_mask: ArrayLike | None = None) -> np.ndarray:
    """``greedy`` int ``[N]``, each row replaced with probability ``epsilon`` by a uniformly drawn
    action (a legal one when ``action_mask`` bool ``[N, A]`` is given): int64 ``[N]``.

    Consumes ``rng``: ``random((N, A))`` for the random actions, then ``random(N)`` for the coin
    flips, always both (seeded runs and their resumes depend on this order).
    """
    n = len(greedy)
    noise = rng.random((n, num_actions))
    if action_mask is not None:
        noise = np.where(np.asarray(action_mask, bool), noise, -1.0)  # uniform over legal actions
    explore = rng.random(n) < epsilon
    return np.where(explore, noise.argmax(1), greedy).astype(np.int64)


class NStepReturn(NamedTuple):
    """Discounted sums of n-step windows and how to bootstrap them (numpy, like the replay buffer)."""

    returns: np.ndarray
    """float32 [B]: sum_{j<=k} gamma^j r_j over the window's included steps 0..k."""
    last: np.ndarray
    """int64 [B]: k, the last included step (its next observation is the bootstrap state)."""
    discount: np.ndarray
    """float32 [B]: gamma^(k+1), or 0 when step k terminated (no bootstrap)."""


def n_step_returns(rewards: ArrayLike, terminated: ArrayLike, truncated: ArrayLike, valid: ArrayLike,
                   gamma: float) -> NStepReturn:
    """n-step returns with cut-offs: a window stops after its first terminated or truncated step
    (episode end) and before its first invalid step (not written yet).

    In numpy on the sampled replay windows, before anything goes to the device: a dozen torch
    ops on ``[B, n]`` cost more than the rest of a small network's update, and knowing ``last``
    first means only the B bootstrap observations are sent, not all B * n.

    Args:
        rewards: float ``[B, n]``; terminated, truncated, valid: bool ``[B, n]`` (``valid[:, 0]`` True).
        gamma: discount.

    Returns:
        :class:`NStepReturn`. A truncated last step bootstraps (the episode did not end by its
        dynamics); a terminated one does not.
    """
    rewards = np.asarray(rewards, np.float32)
    terminated, truncated, valid = (np.asarray(x, bool) for x in (terminated, truncated, valid))
    B, n = rewards.shape
    open_before = np.concatenate([np.ones((B, 1), bool), ~(terminated | truncated)[:, :-1]], 1)
    include = np.logical_and.accumulate(open_before, 1) & np.logical_and.accumulate(valid, 1)  # steps 0..k
    powers = (gamma ** np.arange(n)).astype(np.float32)
    returns = (rewards * include * powers).sum(1, dtype=np.float32)
    last = include.sum(1) - 1
    discount = np.where(terminated[np.arange(B), last], 0.0, gamma ** (last + 1.0)).astype(np.float32)
    return NStepReturn(returns, last.astype(np.int64), discount)


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


def td_loss(q_taken: torch.Tensor, target: torch.Tensor, kind: Literal["huber", "mse"],
            weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean TD loss over ``[B]``: Huber (smooth L1 with threshold 1, the Nature DQN's clipped error)
    or squared error of ``q_taken - target``, each sample times its importance weight when
    ``weights`` ``[B]`` is given (prioritized replay). Gradients flow into ``q_taken``."""
    per_sample = F.smooth_l1_loss(q_taken, target, reduction="none") if kind == "huber" else (q_taken - target).pow(2)
    if weights is not None:
        per_sample = weights * per_sample
    return per_sample.mean()


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * online`` for every parameter and buffer (tau = 1: copy)."""
    for t, o in zip(target.state_dict().values(), online.state_dict().values()):
        if t.dtype.is_floating_point:
            t.lerp_(o, tau)
        else:
            t.copy_(o)
