"""On-policy rollouts for the policy-gradient learners (agents/pg.py) and the math on them.

A rollout is ``T`` rows of ``N`` envs, stored time-major (``[T, N, ...]``), taken from a
Gymnasium vector env in its default ``AutoresetMode.NEXT_STEP``: the step that ends episode
``i`` returns its *final* observation, and the next step ignores ``actions[i]``, resets env
``i`` and returns the new first observation with reward 0. That reset step is not a transition,
so its row is stored with ``valid = False`` and left out of every loss. The layout has a
pleasant consequence the math below relies on: the observation after row ``t`` is row
``t + 1``'s (``last_obs`` after the last row), and when row ``t`` ends an episode that is the
episode's final observation, whose value bootstraps a truncated (time-limit) episode.

``AutoresetMode.SAME_STEP`` (what ``arena/rl/loop.py`` builds) works too: there the step that ends an
episode already returns the next episode's first observation and the final one comes in
``info["final_obs"]``; every row is then valid, a truncated row's ``V(final obs)`` is kept in
``Rollout.truncation_values`` (the learner adds ``gamma`` times it to the reward, as SB3 does)
and the row is marked ``terminated`` so that nothing is bootstrapped from the next row.

- ``gae``: generalized advantage estimation (Schulman et al. 2016), bootstrapping truncations
  and not terminations.
- ``discounted_returns``: Monte Carlo reward-to-go (REINFORCE).
- ``collect``: step the envs with a policy and fill a :class:`Rollout`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium.vector import AutoresetMode


def gae(
    rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
    gamma: float, lam: float, terminated: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generalized advantage estimates ``A_t`` (Schulman et al. 2016, eq. 16).

    ``delta_t = r_t + gamma * (1 - terminated_t) * V_{t+1} - V_t`` and
    ``A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}``, where ``V_{t+1}`` is
    ``values[t + 1]`` (``last_value`` for the last row): the value of the observation that
    followed row ``t``, which is the final observation when row ``t`` ended an episode (the
    NEXT_STEP layout of the module doc). So a truncated episode (done, not terminated) is
    bootstrapped from its final observation's value, and nothing flows across an episode end.
    The value targets are ``A + values``; ``lam = 1`` gives Monte Carlo returns bootstrapped at
    the rollout's end and at truncations, ``lam = 0`` one-step TD.

    Args:
        rewards: float ``[T, N]``, reward of row ``t``'s transition.
        values: float ``[T, N]``, ``V(obs_t)``.
        dones: ``[T, N]`` (bool or 0/1), row ``t`` ended its episode (terminated or truncated).
        last_value: float ``[N]``, value of the observation after the last row.
        gamma: discount factor.
        lam: the GAE lambda.
        terminated: ``[T, N]``, the episode ended in a terminal state (value 0 after it); ``None``
            treats every end as terminal.

    Returns:
        float ``[T, N]`` advantages. Rows that are not transitions (reset steps) get numbers
        that must be ignored; they never leak into valid rows (a done cuts the recursion).
    """
    dones = dones.to(rewards.dtype)
    terminated = dones if terminated is None else terminated.to(rewards.dtype)
    next_values = torch.cat([values[1:], last_value.unsqueeze(0)])  # (T, N)
    deltas = rewards + gamma * (1.0 - terminated) * next_values - values
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(rewards.shape[0])):
        running = deltas[t] + gamma * lam * (1.0 - dones[t]) * running
        advantages[t] = running
    return advantages


def discounted_returns(
    rewards: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor, gamma: float,
) -> torch.Tensor:
    """Reward-to-go ``G_t = r_t + gamma * (1 - done_t) * G_{t+1}``, with ``G_T = last_value``.

    Every episode end counts as terminal (REINFORCE scores the episode that happened).

    Args:
        rewards: float ``[T, N]``.
        dones: ``[T, N]`` (bool or 0/1), row ``t`` ended its episode.
        last_value: float ``[N]``, the return credited after the last row (0 for none).
        gamma: discount factor.

    Returns:
        float ``[T, N]``.
    """
    dones = dones.to(rewards.dtype)
    returns = torch.zeros_like(rewards)
    running = last_value.to(rewards.dtype)
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        returns[t] = running
    return returns


class PolicyStep(NamedTuple):
    """What a policy answers for one row of observations."""

    action: torch.Tensor
    """long ``[N]`` or float ``[N, D]``: the sampled actions (unclipped), as stored."""
    env_action: np.ndarray
    """``[N]`` or ``[N, D]``: the actions handed to the env (Box actions clipped to the bounds)."""
    log_prob: torch.Tensor
    """float ``[N]``: log pi(action | obs)."""
    value: torch.Tensor
    """float ``[N]``: V(obs) (zeros without a critic)."""


Policy = Callable[[torch.Tensor, torch.Tensor | None], PolicyStep]  # (obs [N, F], mask [N, A]) -> step
ValueFn = Callable[[torch.Tensor], torch.Tensor]  # obs [N, F] -> value [N]


class Rollout(NamedTuple):
    """``T`` rows of ``N`` envs (time-major); see the module doc for the layout."""

    obs: torch.Tensor
    """float ``[T, N, F]`` (observations flattened)."""
    action_mask: torch.Tensor | None
    """bool ``[T, N, A]``: legal actions at ``obs`` (``None`` for tasks without masks)."""
    actions: torch.Tensor
    """long ``[T, N]`` or float ``[T, N, D]``."""
    log_probs: torch.Tensor
    """float ``[T, N]``: log-probabilities under the policy that acted."""
    values: torch.Tensor
    """float ``[T, N]``: the critic's values when acting."""
    rewards: torch.Tensor
    """float ``[T, N]``."""
    terminated: torch.Tensor
    """bool ``[T, N]``: do not bootstrap from row ``t + 1``: row ``t`` ended its episode in a
    terminal state (SAME_STEP: ended it at all; see ``truncation_values``)."""
    truncation_values: torch.Tensor
    """float ``[T, N]``: SAME_STEP only, ``V(final obs)`` of rows a truncation ended; else 0."""
    dones: torch.Tensor
    """bool ``[T, N]``: row ``t`` ended its episode (terminated or truncated)."""
    valid: torch.Tensor
    """bool ``[T, N]``: row ``t`` is a transition to learn from (not a reset step, and for an
    episodic rollout, part of the env's first episode)."""
    last_value: torch.Tensor
    """float ``[N]``: V of the observation after the last row."""
    env_steps: int
    """Transitions the envs made (reset steps excluded; episodic rollouts count steps past an
    env's first episode, though they are not learned from)."""
    episode_returns: list[float]
    """Undiscounted returns of the episodes that ended in this rollout (and are learned from)."""


@dataclass
class EnvCursor:
    """Where a vector env stands between rollouts; :func:`collect` mutates it."""

    obs: np.ndarray
    """``[N, ...]``: the current observations."""
    action_mask: np.ndarray | None
    """``[N, A]``: legal actions now (``info["action_mask"]``), or ``None``."""
    autoreset: np.ndarray
    """bool ``[N]``: the last step ended env ``i``'s episode, so the next step resets it."""
    episode_return: np.ndarray
    """float64 ``[N]``: return of each env's running episode so far."""


def reset_envs(envs: Any, seed: int | None = None) -> EnvCursor:
    """Reset every env and return a fresh cursor.

    Raises:
        ValueError: the vector env does not autoreset in NEXT_STEP mode (the layout assumed here).
    """
    if _same_step(envs) is None:
        raise ValueError(f"policy-gradient rollouts need autoreset_mode NEXT_STEP or SAME_STEP, got "
                         f"{envs.metadata.get('autoreset_mode')}: build the envs with gymnasium.make_vec(..., "
                         "vector_kwargs={'autoreset_mode': AutoresetMode.NEXT_STEP})")
    obs, info = envs.reset(seed=seed)
    return EnvCursor(obs, _mask(info), np.zeros(envs.num_envs, dtype=bool), np.zeros(envs.num_envs))


def collect(
    envs: Any, cursor: EnvCursor, policy: Policy, value_fn: ValueFn, n_steps: int,
    device: torch.device, episodic: bool = False,
) -> Rollout:
    """Step ``envs`` with ``policy`` for ``n_steps`` rows and return them as a :class:`Rollout`.

    Args:
        envs: a Gymnasium vector env (NEXT_STEP or SAME_STEP autoreset) whose state ``cursor`` describes.
        cursor: mutated to where the envs stand after the last row.
        policy: acts on a row of observations (called under ``torch.no_grad``).
        value_fn: the critic, for ``last_value``.
        n_steps: rows to take (``episodic``: at most).
        device: where the rollout's tensors go.
        episodic: stop as soon as every env has finished one episode; rows after an env's first
            episode are not valid (each env contributes exactly one whole episode, as REINFORCE
            wants; call it on freshly reset envs).
    """
    same_step = _same_step(envs)
    num_envs = envs.num_envs
    rows: list[tuple[Any, ...]] = []  # per row: obs, mask, action, log_prob, value, reward, terminated, done, valid
    truncation_values = torch.zeros(n_steps, num_envs, device=device)  # SAME_STEP only (module doc)
    finished = np.zeros(num_envs, dtype=bool)  # episodic: env has ended its first episode
    episode_returns: list[float] = []
    env_steps = 0
    with torch.no_grad():
        for t in range(n_steps):
            obs = _obs_tensor(cursor.obs, device)
            mask = None if cursor.action_mask is None else torch.as_tensor(cursor.action_mask, device=device).bool()
            step = policy(obs, mask)
            next_obs, reward, terminated, truncated, info = envs.step(step.env_action)
            fresh = ~cursor.autoreset  # a transition, not a NEXT_STEP reset step
            env_steps += num_envs - int(np.count_nonzero(cursor.autoreset))
            done = (terminated | truncated) & fresh
            valid = fresh & ~finished if episodic else fresh
            np.add(cursor.episode_return, reward, out=cursor.episode_return, where=fresh)
            if done.any():
                episode_returns += cursor.episode_return[done & valid].tolist()
                cursor.episode_return[done] = 0.0
                if episodic:
                    finished |= done
                if same_step:
                    cut = np.flatnonzero(truncated & ~terminated)
                    if len(cut):
                        final = np.stack([info["final_obs"][i] for i in cut])
                        truncation_values[t, torch.as_tensor(cut, device=device)] = value_fn(_obs_tensor(final, device))
            rows.append((obs, mask, step.action, step.log_prob, step.value, reward,
                         done if same_step else terminated, done, valid))
            cursor.obs, cursor.action_mask = next_obs, _mask(info)
            cursor.autoreset = np.zeros_like(done) if same_step else done
            if episodic and finished.all():
                break
        last_value = value_fn(_obs_tensor(cursor.obs, device))
    obs, masks, actions, log_probs, values, rewards, terminated, dones, valid = zip(*rows)

    def stack(items: tuple[Any, ...], dtype: torch.dtype | None = None) -> torch.Tensor:
        if isinstance(items[0], torch.Tensor):
            return torch.stack(items)
        return torch.as_tensor(np.stack(items), dtype=dtype, device=device)

    return Rollout(
        obs=stack(obs), action_mask=None if masks[0] is None else stack(masks), actions=stack(actions),
        log_probs=stack(log_probs), values=stack(values), rewards=stack(rewards, torch.float32),
        terminated=stack(terminated, torch.bool), truncation_values=truncation_values[:len(rows)],
        dones=stack(dones, torch.bool), valid=stack(valid, torch.bool), last_value=last_value,
        env_steps=env_steps, episode_returns=episode_returns,
    )


def _same_step(envs: Any) -> bool | None:
    """True for SAME_STEP autoreset, False for NEXT_STEP (Gymnasium's default), None otherwise."""
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    return {AutoresetMode.NEXT_STEP: False, AutoresetMode.SAME_STEP: True}.get(mode)


def _obs_tensor(obs: np.ndarray, device: torch.device) -> torch.Tensor:
    """float ``[N, F]``: observations flattened for an MLP."""
    return torch.as_tensor(obs, dtype=torch.float32, device=device).reshape(obs.shape[0], -1)


def _mask(info: dict[str, Any]) -> np.ndarray | None:
    """The ``action_mask`` of a vector env's info, or ``None`` if the task has none."""
    mask = info.get("action_mask")
    return None if mask is None else np.asarray(mask, dtype=bool)
