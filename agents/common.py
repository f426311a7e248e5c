"""What the model-free learners (DQN in ``agents/dqn.py``; REINFORCE, A2C and PPO in
``agents/pg.py``) share, and where they meet ``arena/rl/loop.py``'s training loop:

- :class:`Learner`: the protocol the loop drives (``learn``, ``act``, ``state_tensors``,
  ``load_state_tensors``, ``networks``).
- :class:`PastSelves`: the pool of past copies of a learner that it plays against in self-play
  on our games.
- :func:`optimizer_tensors`, :func:`load_optimizer_tensors` and :func:`strip_prefix`: an
  optimizer's state as named tensors and back, for the learners' ``state_tensors`` (and
  ``arena/io/checkpoint.py``'s optimizer files).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch


class Learner(Protocol):
    """One learning agent over a Gymnasium vector env (``num_envs`` copies of one task)."""

    config: Any
    """The algorithm's frozen config dataclass (written to config.json and checkpoints)."""

    def learn(self, envs: Any) -> dict[str, float]:
        """Advance training on ``envs`` (the learner keeps the current observations between
        calls; the first call resets) by one update's worth of interaction: one rollout for
        policy gradients, a few steps for DQN. Returns stats, at least ``env_steps`` (the
        environment steps consumed by this call, summed over the vector) and
        ``episode_returns`` (a list, possibly empty, of returns of episodes that ended)."""
        ...

    def act(self, obs: np.ndarray, action_mask: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations ``[N, ...]`` (masked argmax / masked logits
        when ``action_mask [N, A]`` is given)."""
        ...

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume exactly: networks, optimizers, buffers, counters, as
        named tensors (safetensors-friendly: no pickles)."""
        ...

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`state_tensors`."""
        ...

    def networks(self) -> dict[str, torch.nn.Module]:
        """The networks by name (``q``, ``policy``...), for checkpoints people can load."""
        ...


class PastSelves:
    """Self-play opponents: snapshots of the learner's networks taken every ``every`` updates
    (the newest ``keep``), each opponent move played by one drawn uniformly, sampling its
    policy (for DQN: greedy). The env calls :meth:`bot` with the game and a B=1 state whose
    side to move is the opponent's, so ``game.observe`` gives planes from its own side, the
    view the learner was trained on."""

    def __init__(self, learner: Any, shadow: Any, every: int = 10, keep: int = 5, seed: int = 0) -> None:
        self.learner, self.shadow, self.every, self.keep = learner, shadow, every, keep
        self.snapshots: list[dict[str, dict[str, Any]]] = []
        self.updates = 0
        self.rng = np.random.default_rng(seed)
        self.snapshot()

    def snapshot(self) -> None:
        state = {name: {k: v.detach().clone() for k, v in net.state_dict().items()}
                 for name, net in self.learner.networks().items()}
        self.snapshots = (self.snapshots + [state])[-self.keep:]

    def after_update(self) -> None:
        self.updates += 1
        if self.updates % self.every == 0:
            self.snapshot()

    def bot(self, game: Any, state: Any) -> int:
        chosen = self.snapshots[int(self.rng.integers(len(self.snapshots)))]
        for name, net in self.shadow.networks().items():
            net.load_state_dict(chosen[name])
        obs = game.observe(state).cpu().numpy().astype(np.float32)
        mask = state.legal_action_mask.cpu().numpy()
        return int(self.shadow.act(obs, action_mask=mask, deterministic=False)[0])


def strip_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``tensors`` whose names start with ``prefix``, named without it."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def optimizer_tensors(optimizer: torch.optim.Optimizer, prefix: str) -> dict[str, torch.Tensor]:
    """Per-parameter optimizer state as flat named tensors ``<prefix><param index>.<name>``.

    Copies, so later steps do not change what was taken. Hyperparameters are left out: the
    learner's config rebuilds them (for a learner's ``state_tensors``).
    """
    return {f"{prefix}{i}.{name}": torch.as_tensor(value).clone()
            for i, state in optimizer.state_dict()["state"].items() for name, value in state.items()}


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    """Inverse of :func:`optimizer_tensors`: the entries of ``tensors`` named ``<prefix>...``.

    Hyperparameters stay those the optimizer was built with. The state is copied, because the
    optimizer updates it in place and must not write into ``tensors``.
    """
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in strip_prefix(tensors, prefix).items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = value.clone()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for i, entries in state.items():  # torch checks only the count: a foreign state fails later, obscurely
        for name, value in entries.items():
            if i >= len(params) or (value.dim() > 0 and value.shape != params[i].shape):
                shape = tuple(params[i].shape) if i < len(params) else "no such parameter"
                raise ValueError(f"optimizer state {i}.{name} has shape {tuple(value.shape)}, the parameter: {shape}")
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
