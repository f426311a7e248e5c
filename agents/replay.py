"""Replay memory for off-policy learners: a uniform buffer over a vector env's streams, with
n-step windows read at sampling time, and an optional proportional prioritized replay
(Schaul et al. 2016) on a vectorized sum tree.

Layout: every array is ``[T, N, ...]`` -- T rows of time, one column per sub-env -- so the
n-step window of a transition is the next rows of the *same column*, cut at the first
terminated/truncated step and at the newest row written. Each transition also stores its own
``next_obs`` (the true final observation when its episode ended, which the vector env's
same-step autoreset puts in ``info["final_obs"]``), so a window can bootstrap from any of its
steps. Flat index ``i = t * N + e``. Observations keep their space's dtype (``obs_dtype``): an
Atari transition, a uint8 [4, 84, 84] stack stored twice (obs and next_obs), costs 56 KB, so
100k transitions take 5.6 GB (next_obs alone 2.8 GB of it).

Everything is numpy on the CPU (sampling a few hundred indices is not worth a device
round-trip); ``state_tensors``/``load_state_tensors`` turn it into named tensors for resume.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class ReplayBatch(NamedTuple):
    """A sampled batch of n-step transitions (numpy arrays, B = batch size)."""

    obs: np.ndarray
    """[B, *obs_shape] in the buffer's ``obs_dtype``: the first observation of each window."""
    actions: np.ndarray
    """int64 [B]: the action taken at ``obs``."""
    rewards: np.ndarray
    """float32 [B, n]: rewards of the window's steps (rows beyond the window are masked by ``valid``)."""
    terminated: np.ndarray
    """bool [B, n]: terminated flags of the window's steps."""
    truncated: np.ndarray
    """bool [B, n]: truncated flags of the window's steps."""
    valid: np.ndarray
    """bool [B, n]: the step exists in the buffer (is not beyond the newest row written)."""
    next_obs: np.ndarray
    """[B, n, *obs_shape] (``obs_dtype``): next observation of every window step (bootstrap candidates)."""
    next_mask: np.ndarray | None
    """bool [B, n, A] legal actions at each ``next_obs``, or None when the task has no masks."""
    weights: np.ndarray
    """float32 [B]: importance-sampling weights (all 1 for uniform replay)."""
    indices: np.ndarray
    """int64 [B]: flat indices, for :meth:`ReplayBuffer.update_priorities`."""


class ReplayBuffer:
    """A circular ``[T, N]`` transition store with n-step windows and optional priorities.

    Args:
        capacity: transitions kept in total (rounded up to a multiple of ``num_envs``).
        num_envs: N, the vector env's width.
        obs_shape: shape of one observation.
        num_actions: A; only used when ``masks`` is True.
        masks: store the legal-action mask of every ``next_obs`` (our board games).
        n_step: window length n (1 = one-step TD).
        prioritized: proportional prioritized replay instead of uniform.
        alpha: priority exponent (priority = (|td| + eps) ** alpha).
        seed: seed of the sampling generator.
        obs_dtype: dtype of the stored observations: float32 for vector tasks, uint8 for Atari
            frames (a quarter of the memory; the learner casts to float on its device).
    """

    def __init__(self, capacity: int, num_envs: int, obs_shape: tuple[int, ...], num_actions: int,
                 masks: bool = False, n_step: int = 1, prioritized: bool = False, alpha: float = 0.6,
                 seed: int = 0, obs_dtype: np.dtype | type = np.float32) -> None:
        if capacity < num_envs or n_step < 1:
            raise ValueError(f"need capacity >= num_envs and n_step >= 1, got {capacity}, {num_envs}, {n_step}")
        self.rows = -(-capacity // num_envs)
        self.num_envs = num_envs
        self.n_step = n_step
        self.alpha = alpha
        T, N = self.rows, num_envs
        self.obs = np.zeros((T, N, *obs_shape), obs_dtype)
        self.next_obs = np.zeros((T, N, *obs_shape), obs_dtype)  # stored apart: 2x the obs memory
        self.actions = np.zeros((T, N), np.int64)
        self.rewards = np.zeros((T, N), np.float32)
        self.terminated = np.zeros((T, N), bool)
        self.truncated = np.zeros((T, N), bool)
        self.next_mask = np.zeros((T, N, num_actions), bool) if masks else None
        self.tree = SumTree(T * N) if prioritized else None
        self.max_priority = 1.0
        self.pos = 0
        self.full = False
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Transitions stored."""
        return (self.rows if self.full else self.pos) * self.num_envs

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            truncated: np.ndarray, next_obs: np.ndarray, next_mask: np.ndarray | None = None) -> None:
        """Store one vector step (every array has leading dim N); overwrites the oldest row when full."""
        t = self.pos
        self.obs[t], self.actions[t], self.rewards[t] = obs, actions, rewards
        self.terminated[t], self.truncated[t], self.next_obs[t] = terminated, truncated, next_obs
        if self.next_mask is not None:
            self.next_mask[t] = next_mask
        if self.tree is not None:
            flat = t * self.num_envs + np.arange(self.num_envs)
            self.tree.update(flat, np.full(self.num_envs, self.max_priority ** self.alpha))
        self.pos = (t + 1) % self.rows
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int, beta: float = 0.4) -> ReplayBatch:
        """A batch of n-step windows: uniform, or proportional to priority with IS weights
        ``(size * P(i)) ** -beta`` normalized by their max (Schaul et al. 2016, sec. 3.4)."""
        size = len(self)
        if size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self.tree is None:
            flat = self.rng.integers(0, size, batch_size)
            weights = np.ones(batch_size, np.float32)
        else:
            flat = self.tree.sample(self.rng.random(batch_size))
            p = self.tree.leaves(flat) / self.tree.total
            weights = (size * p) ** -beta
            weights = (weights / weights.max()).astype(np.float32)
        return self._windows(flat, weights)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray, eps: float = 1e-6) -> None:
        """Set the priorities of sampled transitions to ``(|td| + eps) ** alpha`` (no-op if uniform)."""
        if self.tree is None:
            return
        priority = np.abs(td_errors) + eps
        self.max_priority = max(self.max_priority, float(priority.max()))
        self.tree.update(indices, priority ** self.alpha)

    def state_tensors(self, prefix: str = "replay.") -> dict[str, torch.Tensor]:
        """The whole buffer (arrays, write position, priorities) as named CPU tensors."""
        arrays = {"obs": self.obs, "next_obs": self.next_obs, "actions": self.actions, "rewards": self.rewards,
                  "terminated": self.terminated, "truncated": self.truncated}
        if self.next_mask is not None:
            arrays["next_mask"] = self.next_mask
        if self.tree is not None:
            arrays["tree"] = self.tree.tree
        out = {prefix + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        out[prefix + "counters"] = torch.tensor([self.pos, int(self.full)], dtype=torch.int64)
        out[prefix + "max_priority"] = torch.tensor([self.max_priority], dtype=torch.float64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], prefix: str = "replay.") -> None:
        """Inverse of :meth:`state_tensors`; shapes must match this buffer's."""
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "truncated", "next_mask"):
            target = getattr(self, name)
            if target is None:
                continue
            value = tensors[prefix + name].numpy()
            if value.shape != target.shape:
                raise ValueError(f"replay {name} has shape {value.shape}, this buffer needs {target.shape}")
            target[...] = value
        if self.tree is not None:
            self.tree.tree[...] = tensors[prefix + "tree"].numpy()
        self.pos, full = (int(v) for v in tensors[prefix + "counters"])
        self.full = bool(full)
        self.max_priority = float(tensors[prefix + "max_priority"][0])

    def _windows(self, flat: np.ndarray, weights: np.ndarray) -> ReplayBatch:
        """Gather the n-step windows starting at flat indices ``flat`` [B]."""
        t, e = flat // self.num_envs, flat % self.num_envs
        rows = (t[:, None] + np.arange(self.n_step)) % self.rows  # (B, n)
        written_after = (self.pos - t - 1) % self.rows + 1  # rows t .. pos-1 (circularly) exist
        valid = np.arange(self.n_step)[None, :] < written_after[:, None]
        cols = e[:, None]
        return ReplayBatch(
            obs=self.obs[t, e], actions=self.actions[t, e], rewards=self.rewards[rows, cols],
            terminated=self.terminated[rows, cols], truncated=self.truncated[rows, cols], valid=valid,
            next_obs=self.next_obs[rows, cols],
            next_mask=None if self.next_mask is None else self.next_mask[rows, cols],
            weights=weights, indices=flat.astype(np.int64),
        )


class SumTree:
    """A binary tree of sums over ``capacity`` non-negative leaves, vectorized with numpy:
    ``update`` and ``sample`` take arrays and cost O(len * log capacity) with one numpy op per level."""

    def __init__(self, capacity: int) -> None:
        self.size = 1 << max(0, (capacity - 1).bit_length())  # leaves, a power of two
        self.tree = np.zeros(2 * self.size, np.float64)  # node i has children 2i, 2i+1; leaves at [size, 2size)

    @property
    def total(self) -> float:
        """Sum of all leaves."""
        return float(self.tree[1])

    def leaves(self, index: np.ndarray) -> np.ndarray:
        """Leaf values at ``index`` [K]."""
        return self.tree[index + self.size]

    def update(self, index: np.ndarray, value: np.ndarray) -> None:
        """Set leaves ``index`` [K] to ``value`` [K] and refresh their ancestors."""
        node = np.asarray(index) + self.size
        self.tree[node] = value
        node = np.unique(node // 2)
        while node[0] >= 1:
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]
            node = np.unique(node // 2)
            if node[0] == 0:
                break

    def sample(self, uniform: np.ndarray) -> np.ndarray:
        """Leaf indices drawn in proportion to their values, for ``uniform`` [K] in [0, 1)."""
        mass = uniform * self.total
        node = np.ones(len(uniform), np.int64)
        while node[0] < self.size:  # every node is on the same level
            left = self.tree[2 * node]
            right = (mass >= left) & (self.tree[2 * node + 1] > 0)
            mass = np.where(right, mass - left, mass)
            node = 2 * node + right
        return node - self.size
