"""Policy gradients: REINFORCE (with or without a learned baseline), A2C and PPO.

One learner, three ways to turn a rollout into a gradient (``PGConfig.algorithm``):

- ``reinforce`` (Williams 1992): each update resets the envs and plays one whole episode per
  env; the weight of ``log pi(a_t | s_t)`` is the Monte Carlo reward-to-go ``G_t``, minus a
  learned ``V(s_t)`` when ``baseline`` is on. One gradient step per update.
- ``a2c`` (Mnih et al. 2016, synchronous): ``n_steps`` rows of every env, advantages from
  :func:`gae` (lambda 1: n-step returns), one gradient step.
- ``ppo`` (Schulman et al. 2017): ``n_steps`` rows, GAE, then ``n_epochs`` passes of minibatches
  on the clipped surrogate, optionally with a clipped value loss (both in :mod:`agents.pg_losses`);
  learning rate and clip range can fall linearly to 0.

Actions are categorical (with the legal-action mask of our games applied to the logits, so an
illegal move is never sampled) or diagonal Gaussian (Box actions; the sample is clipped to the
bounds only when handed to the env). Policy and critic are separate MLPs from ``nets`` with
orthogonal init, as in SB3 and CleanRL. The rollout layout (Gymnasium's NEXT_STEP autoreset,
truncations bootstrapped) is described in ``agents/rollout.py``.

    learner = make_learner("ppo", {"n_steps": 32}, env.single_observation_space,
                           env.single_action_space, num_envs=8, device=torch.device("cpu"), seed=0)
    stats = learner.learn(envs)   # one rollout + update; stats["env_steps"], stats["episode_returns"]
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents.common import load_optimizer_tensors, optimizer_tensors, strip_prefix
from agents.pg_losses import ppo_clip_loss, value_clip_loss
from agents.rollout import EnvCursor, PolicyStep, Rollout, collect, discounted_returns, gae, reset_envs
from nets.heads import (
    CategoricalPolicyHead, GaussianPolicyHead, categorical_log_prob_entropy, gaussian_entropy, gaussian_log_prob,
)
from nets.init import init_weights
from nets.mlp import MLP, ActivationName, MLPConfig, layer_chain, run_chain
from nets.train import set_learning_rate

__all__ = [
    "ALGORITHMS", "PGConfig", "PolicyGradient", "PolicyNetwork", "default_config", "discounted_returns", "gae",
    "make_learner",
]

Algorithm = Literal["reinforce", "a2c", "ppo"]
ALGORITHMS: tuple[str, ...] = ("reinforce", "a2c", "ppo")


@dataclass(frozen=True)
class PGConfig:
    """Hyperparameters of REINFORCE, A2C and PPO (defaults: SB3's PPO defaults)."""

    algorithm: Algorithm = "ppo"
    """Which update: ``reinforce``, ``a2c`` or ``ppo`` (see the module doc)."""
    n_steps: int = 2048
    """Rows per env per update (``reinforce``: the most steps one episode may take)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda (a2c, ppo); 1 gives n-step returns."""
    learning_rate: float = 3e-4
    """Initial learning rate of the optimizer."""
    anneal_steps: int = 0
    """Env steps over which the learning rate falls linearly to 0 (0: constant); set it to the
    run's step budget."""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """Adam, or RMSprop (alpha 0.99) as A2C traditionally uses."""
    optimizer_eps: float = 1e-5
    """The optimizer's epsilon (SB3's 1e-5 for both)."""
    n_epochs: int = 10
    """Passes over each rollout (reinforce and a2c: 1)."""
    minibatch_size: int = 64
    """Transitions per gradient step; 0 takes the whole rollout at once."""
    clip_range: float = 0.2
    """PPO's clip on the probability ratio, ``1 +- clip_range``."""
    anneal_clip: bool = False
    """Anneal ``clip_range`` to 0 along with the learning rate (needs ``anneal_steps``)."""
    clip_value: float | None = None
    """Clip the value update to ``+- clip_value`` around the rollout's values (ppo); None: plain MSE."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss (mean squared error, no 1/2 factor, as in SB3)."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this (0 disables)."""
    normalize_advantages: bool = True
    """Standardize advantages per minibatch (reinforce without baseline: the returns)."""
    baseline: bool = True
    """Learn a critic ``V(s)``; a2c and ppo need it, reinforce may go without."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the policy MLP and of the critic MLP (separate networks)."""
    activation: ActivationName = "tanh"
    """Nonlinearity of both MLPs."""
    init_log_std: float = 0.0
    """Initial log standard deviation of a Gaussian policy (Box actions)."""
    orthogonal_init: bool = True
    """Orthogonal init: gain sqrt(2) hidden, 0.01 policy output, 1 value output (SB3, CleanRL)."""

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.algorithm != "reinforce" and not self.baseline:
            raise ValueError(f"{self.algorithm} needs a critic: set baseline=True (only reinforce may go without)")
        if self.n_steps < 1 or self.n_epochs < 1 or self.minibatch_size < 0:
            raise ValueError(f"need n_steps >= 1, n_epochs >= 1, minibatch_size >= 0; got {self.n_steps}, "
                             f"{self.n_epochs}, {self.minibatch_size}")
        if not 0.0 <= self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"gamma and gae_lambda must be in [0, 1], got {self.gamma}, {self.gae_lambda}")
        if self.anneal_clip and self.anneal_steps <= 0:
            raise ValueError("anneal_clip needs anneal_steps > 0 (the run's step budget)")
        if not isinstance(self.hidden, tuple) or not self.hidden:
            raise TypeError(f"hidden must be a tuple of ints, got {self.hidden!r}: use e.g. (64, 64)")


def default_config(name: str) -> PGConfig:
    """The default config of ``reinforce``, ``a2c`` or ``ppo`` (SB3's defaults for a2c and ppo)."""
    if name == "ppo":
        return PGConfig()
    if name == "a2c":
        return PGConfig(algorithm="a2c", n_steps=5, gae_lambda=1.0, learning_rate=7e-4, optimizer="rmsprop",
                        n_epochs=1, minibatch_size=0, normalize_advantages=False)
    if name == "reinforce":
        # No gradient clipping: with Monte Carlo returns the critic's large gradient would shrink the policy's.
        return PGConfig(algorithm="reinforce", n_steps=1000, learning_rate=1e-3, n_epochs=1, minibatch_size=0,
                        baseline=False, normalize_advantages=False, max_grad_norm=0.0)
    raise ValueError(f"unknown policy-gradient algorithm {name!r}; choose one of {ALGORITHMS}")


def make_learner(
    name: str, config_overrides: dict[str, Any], observation_space: spaces.Space, action_space: spaces.Space,
    num_envs: int, device: torch.device, seed: int,
) -> PolicyGradient:
    """A learner for ``name`` with ``default_config(name)`` updated by ``config_overrides``.

    Lists in the overrides (TOML, JSON) become tuples. Spaces are the single env's
    (``envs.single_observation_space``).

    Raises:
        ValueError: an override names no config field (the message lists the fields).
    """
    config = default_config(name)
    fields = {f.name for f in dataclasses.fields(PGConfig)}
    unknown = set(config_overrides) - fields
    if unknown:
        raise ValueError(f"unknown {name} config fields {sorted(unknown)}; known: {sorted(fields)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in config_overrides.items()}
    if overrides.get("algorithm", name) != name:
        raise ValueError(f"config_overrides say algorithm={overrides['algorithm']!r} but the learner is {name!r}")
    config = dataclasses.replace(config, **overrides)
    return PolicyGradient(config, observation_space, action_space, num_envs, device, seed)


class PolicyNetwork(nn.Module):
    """An MLP trunk and a categorical (Discrete) or diagonal Gaussian (Box) head.

    ``forward(obs [B, F], legal_action_mask [B, A] | None)`` gives logits ``[B, A]`` (masked)
    or ``GaussianParams(mean [B, D], log_std [B, D])``.
    """

    def __init__(self, obs_features: int, action_space: spaces.Space, config: PGConfig) -> None:
        super().__init__()
        *inner, width = config.hidden
        self.trunk = MLP(MLPConfig(obs_features, width, tuple(inner), config.activation,
                                   output_activation=config.activation))
        self.discrete = isinstance(action_space, spaces.Discrete)
        if self.discrete:
            self.head: nn.Module = CategoricalPolicyHead(width, int(action_space.n))
        else:
            self.head = GaussianPolicyHead(width, int(np.prod(action_space.shape)), init_log_std=config.init_log_std)
        if config.orthogonal_init:
            init_weights(self.trunk, "orthogonal", math.sqrt(2.0))
            init_weights(self.head.linear if self.discrete else self.head.mean, "orthogonal", 0.01)
        self._chain = layer_chain(self.trunk)

    def forward(self, obs: torch.Tensor, legal_action_mask: torch.Tensor | None = None) -> Any:
        features = run_chain(self.trunk, self._chain, obs)
        return self.head.forward(features, legal_action_mask) if self.discrete else self.head.forward(features)


class PolicyGradient:
    """The :class:`agents.common.Learner` for REINFORCE, A2C and PPO (see the module doc)."""

    def __init__(
        self, config: PGConfig, observation_space: spaces.Space, action_space: spaces.Space, num_envs: int,
        device: torch.device, seed: int,
    ) -> None:
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(f"policy gradients need Box observations, got {observation_space}")
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise ValueError(f"policy gradients need Discrete or Box actions, got {action_space}")
        self.config = config
        self.action_space = action_space
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.seed = seed
        obs_features = int(np.prod(observation_space.shape))
        with torch.random.fork_rng(devices=[]):  # seeded init that leaves the global RNG alone
            torch.manual_seed(seed)
            self.policy = PolicyNetwork(obs_features, action_space, config).to(self.device)
            self.value = _critic(obs_features, config).to(self.device) if config.baseline else None
        self._value_chain = None if self.value is None else layer_chain(self.value)
        self._params = [p for net in self.networks().values() for p in net.parameters()]
        self.optimizer = _optimizer(config, self._params)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.env_steps = 0
        self.updates = 0
        self._cursor: EnvCursor | None = None

    # -- the Learner protocol -------------------------------------------------------------

    def learn(self, envs: Any) -> dict[str, Any]:
        """One rollout and one update; returns ``env_steps``, ``episode_returns`` and the losses."""
        cfg = self.config
        episodic = cfg.algorithm == "reinforce"
        if self._cursor is None or episodic:
            # REINFORCE needs whole episodes: every update starts them afresh.
            self._cursor = reset_envs(envs, seed=self.seed if self._cursor is None else None)
        self.policy.eval()
        rollout = collect(envs, self._cursor, self._policy_step, self._value_of, cfg.n_steps, self.device,
                          episodic=episodic)
        self.env_steps += rollout.env_steps
        progress = max(0.0, 1.0 - self.env_steps / cfg.anneal_steps) if cfg.anneal_steps > 0 else 1.0
        set_learning_rate(self.optimizer, cfg.learning_rate * progress)
        clip_range = cfg.clip_range * (progress if cfg.anneal_clip else 1.0)
        advantages, returns = self._targets(rollout)
        stats = self._update(rollout, advantages, returns, clip_range)
        self.updates += 1
        return {"env_steps": rollout.env_steps, "episode_returns": rollout.episode_returns,
                "learning_rate": cfg.learning_rate * progress, "clip_range": clip_range, **stats}

    def act(self, obs: np.ndarray, action_mask: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        """Actions ``[N]`` (Discrete) or ``[N, D]`` (Box, clipped to the bounds) for observations ``[N, ...]``."""
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device).reshape(len(obs), -1)
        mask = None if action_mask is None else torch.as_tensor(np.asarray(action_mask), device=self.device).bool()
        with torch.no_grad():
            return self._sample(x, mask, deterministic)[1]

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Networks, optimizer state, counters and the sampling generator, as named tensors."""
        tensors = {f"{name}.{k}": v.detach().clone() for name, net in self.networks().items()
                   for k, v in net.state_dict().items()}
        tensors.update(optimizer_tensors(self.optimizer, "optimizer."))
        tensors["counters"] = torch.tensor([self.env_steps, self.updates], dtype=torch.int64)
        tensors["generator"] = self.generator.get_state()
        return tensors

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`state_tensors` (the envs restart: the next ``learn`` resets them)."""
        for name, net in self.networks().items():
            net.load_state_dict(strip_prefix(tensors, f"{name}."))
        load_optimizer_tensors(self.optimizer, tensors, "optimizer.")
        self.env_steps, self.updates = (int(x) for x in tensors["counters"])
        self.generator.set_state(tensors["generator"].cpu())
        self._cursor = None

    def networks(self) -> dict[str, nn.Module]:
        """``policy`` and, with a baseline, ``value``."""
        return {"policy": self.policy} if self.value is None else {"policy": self.policy, "value": self.value}

    # -- acting ---------------------------------------------------------------------------

    def _sample(self, obs: torch.Tensor, mask: torch.Tensor | None, deterministic: bool) -> tuple[Any, ...]:
        """``(action, env_action, log_prob)`` for a row of observations ``[N, F]``."""
        out = self.policy(obs, mask)
        if self.policy.discrete:
            log_p = torch.log_softmax(out, dim=-1)  # (N, A); masked actions have probability 0
            if deterministic:
                action = out.argmax(dim=-1)
            else:
                action = torch.multinomial(log_p.exp(), 1, generator=self.generator).squeeze(-1)
            return action, action.cpu().numpy(), log_p.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        mean, log_std = out
        noise = torch.randn(mean.shape, generator=self.generator, device=mean.device)
        action = mean if deterministic else mean + log_std.exp() * noise
        low, high = self.action_space.low, self.action_space.high
        env_action = np.clip(action.detach().cpu().numpy(), low, high).astype(self.action_space.dtype)
        return action, env_action, gaussian_log_prob(mean, log_std, action)

    def _policy_step(self, obs: torch.Tensor, mask: torch.Tensor | None) -> PolicyStep:
        action, env_action, log_prob = self._sample(obs, mask, deterministic=False)
        return PolicyStep(action, env_action, log_prob, self._value_of(obs))

    def _value_of(self, obs: torch.Tensor) -> torch.Tensor:
        if self.value is None:
            return torch.zeros(obs.shape[0], device=obs.device)
        return run_chain(self.value, self._value_chain, obs).squeeze(-1)

    # -- learning -------------------------------------------------------------------------

    def _targets(self, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
        """``(advantages, returns)``, float ``[T, N]``: reward-to-go for reinforce, GAE otherwise."""
        cfg = self.config
        if cfg.algorithm == "reinforce":
            returns = discounted_returns(rollout.rewards, rollout.dones, rollout.last_value, cfg.gamma)
            return returns - rollout.values, returns  # values are 0 without a baseline
        rewards = rollout.rewards + cfg.gamma * rollout.truncation_values  # SAME_STEP truncations (rollout.py)
        advantages = gae(rewards, rollout.values, rollout.dones, rollout.last_value, cfg.gamma, cfg.gae_lambda,
                         terminated=rollout.terminated)
        return advantages, advantages + rollout.values

    def _update(
        self, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor, clip_range: float,
    ) -> dict[str, float]:
        """Gradient steps on the valid transitions; mean losses and PPO diagnostics.

        A minibatch that covers the whole rollout is used as it is (no shuffle: the gradient of
        a full batch does not depend on its order), and the per-step statistics stay tensors
        until the end, so a gradient step costs no host syncs.
        """
        cfg = self.config
        valid = rollout.valid.reshape(-1)
        flat = {
            "obs": rollout.obs.flatten(0, 1), "actions": rollout.actions.flatten(0, 1),
            "log_probs": rollout.log_probs.reshape(-1), "values": rollout.values.reshape(-1),
            "advantages": advantages.reshape(-1), "returns": returns.reshape(-1),
            "mask": None if rollout.action_mask is None else rollout.action_mask.flatten(0, 1),
        }
        size = int(valid.sum())
        if size < valid.numel():
            flat = {k: None if v is None else v[valid] for k, v in flat.items()}  # (B, ...) transitions
        minibatch = size if cfg.minibatch_size == 0 else min(cfg.minibatch_size, size)
        self.policy.train()
        steps: list[torch.Tensor] = []
        for _ in range(cfg.n_epochs if size else 0):
            if minibatch == size:
                steps.append(self._minibatch_step(flat, clip_range))
                continue
            order = torch.randperm(size, generator=self.generator, device=self.device)
            for start in range(0, size, minibatch):
                idx = order[start:start + minibatch]
                steps.append(self._minibatch_step({k: None if v is None else v[idx] for k, v in flat.items()},
                                                  clip_range))
        stats = dict(zip(_STEP_STATS, torch.stack(steps).mean(0).tolist())) if steps else {}
        if self.value is not None and size > 1:
            var = flat["returns"].var()
            stats["explained_variance"] = float(1.0 - (flat["returns"] - flat["values"]).var() / var) if var > 0 else 0.0
        return stats

    def _minibatch_step(self, mb: dict[str, Any], clip_range: float) -> torch.Tensor:
        """One gradient step on a minibatch of transitions; its statistics (``_STEP_STATS``) as one tensor."""
        cfg = self.config
        out = self.policy(mb["obs"], mb["mask"])
        if self.policy.discrete:
            log_prob, entropy = categorical_log_prob_entropy(out, mb["actions"])
        else:
            log_prob, entropy = gaussian_log_prob(out.mean, out.log_std, mb["actions"]), gaussian_entropy(out.log_std)
        advantages = mb["advantages"]
        if cfg.normalize_advantages and len(advantages) > 1:
            std, mean = torch.std_mean(advantages)
            advantages = (advantages - mean) / (std + 1e-8)
        if cfg.algorithm == "ppo":
            policy_loss = ppo_clip_loss(log_prob, mb["log_probs"], advantages, clip_range)
        else:
            policy_loss = -(advantages * log_prob).mean()
        entropy = entropy.mean()
        loss = policy_loss - cfg.ent_coef * entropy
        value_loss = torch.zeros(())
        if self.value is not None:
            values = run_chain(self.value, self._value_chain, mb["obs"]).squeeze(-1)
            value_loss = value_clip_loss(values, mb["values"], mb["returns"], cfg.clip_value)
            loss = loss + cfg.vf_coef * value_loss
        self.optimizer.zero_grad()
        loss.backward()
        if cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self._params, cfg.max_grad_norm, foreach=True)
        self.optimizer.step()
        with torch.no_grad():
            ratio_minus_1 = torch.expm1(log_prob - mb["log_probs"])
            approx_kl = (ratio_minus_1 - (log_prob - mb["log_probs"])).mean()  # Schulman's k3 estimator
            clip_fraction = (ratio_minus_1.abs() > clip_range).float().mean()
            return torch.stack([loss, policy_loss, value_loss, entropy, approx_kl, clip_fraction]).detach()


_STEP_STATS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
"""The statistics :meth:`PolicyGradient._minibatch_step` returns, in order (averaged per update)."""


def _optimizer(config: PGConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam (fused: one kernel for all parameters instead of a dozen tiny ops per tensor, the
    bulk of a small network's step time on a CPU) or RMSprop with alpha 0.99 (``foreach``)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, config.learning_rate, eps=config.optimizer_eps, fused=True)
    return torch.optim.RMSprop(params, config.learning_rate, alpha=0.99, eps=config.optimizer_eps, foreach=True)


def _critic(obs_features: int, config: PGConfig) -> MLP:
    """``V(s)``: an MLP ``[B, F] -> [B, 1]`` (orthogonal init: sqrt(2) hidden, 1 output)."""
    net = MLP(MLPConfig(obs_features, 1, config.hidden, config.activation))
    if config.orthogonal_init:
        init_weights(net, "orthogonal", math.sqrt(2.0))
        init_weights(net.output, "orthogonal", 1.0)
    return net
