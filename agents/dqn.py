"""Deep Q-learning (Mnih et al. 2015) with the usual Rainbow-lite additions: double DQN (van
Hasselt et al. 2016), a dueling head (Wang et al. 2016), n-step returns, hard or Polyak target
updates, a linear epsilon schedule and optional proportional prioritized replay.

Reads top to bottom: :class:`DQNConfig`; :class:`QNetwork` (an MLP trunk from ``nets``, after
the Nature DQN conv tower for uint8 image stacks such as Atari frames, and a dueling or linear
head); two pure functions of plumbing (:func:`real_next_obs`, :func:`td_batches`); then
:class:`DQNLearner`, whose ``learn(envs)`` is one iteration in CleanRL's order: act
epsilon-greedily, step the envs, store the transitions (:class:`agents.replay.ReplayBuffer`
reads their n-step windows and keeps the priorities); then sample, TD target, gradient step,
priorities, target sync. Its math (schedules, exploration, n-step returns, targets, loss, target
updates) is in :mod:`agents.dqn_math`.

Action masks: when the env gives ``info["action_mask"]`` (our board games) exploration draws
among legal actions, acting is a masked argmax, and the bootstrap ``max`` runs over the legal
actions of the next state only. The vector env must use same-step autoreset
(``gymnasium.vector.AutoresetMode.SAME_STEP``), as ``arena/rl/loop.py`` builds it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import gymnasium
import numpy as np
import torch
from torch import nn

from agents.common import load_optimizer_tensors, optimizer_tensors, strip_prefix
from agents.dqn_math import (epsilon_greedy, linear_schedule, masked_argmax, n_step_returns, polyak_update,
                             td_loss, td_target)
from agents.replay import ReplayBatch, ReplayBuffer
from nets.conv import NatureTower
from nets.heads import DuelingQHead
from nets.mlp import MLP, MLPConfig, layer_chain, run_chain
from nets.train import flatten_parameters, set_learning_rate


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of DQN (defaults: a sound start for small control tasks)."""

    hidden: tuple[int, ...] = (256, 256)
    """Widths of the Q network's hidden layers (observations are flattened first)."""
    dueling: bool = True
    """Dueling head V + A - mean(A) instead of one linear layer."""
    double: bool = True
    """Double DQN: the online network picks the bootstrap action, the target network values it."""
    lr: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount factor."""
    n_step: int = 3
    """Steps of real rewards before bootstrapping (1 = one-step TD)."""
    batch_size: int = 64
    """Transitions per gradient step."""
    buffer_size: int = 100_000
    """Replay capacity in transitions."""
    learning_starts: int = 1_000
    """Env steps (summed over the vector) before the first gradient step."""
    train_frequency: int = 64
    """Vector env steps per ``learn`` call."""
    gradient_steps: int = 64
    """Gradient steps per ``learn`` call (after ``learning_starts``)."""
    target_update_every: int = 500
    """Gradient steps between hard target copies (used when ``tau == 1``)."""
    tau: float = 1.0
    """Polyak rate: < 1 blends the target towards the online net after every gradient step."""
    eps_start: float = 1.0
    """Initial exploration rate."""
    eps_end: float = 0.05
    """Final exploration rate."""
    exploration_steps: int = 10_000
    """Env steps over which epsilon decays linearly from ``eps_start`` to ``eps_end``."""
    lr_anneal_steps: int = 0
    """Env steps over which the learning rate falls linearly from ``lr`` to ``lr * lr_end_fraction``
    (0: constant). Late in a run a constant rate keeps rewriting a policy that is already good, and
    once the replay holds only good episodes that can unlearn it (CartPole seeds falling from 500)."""
    lr_end_fraction: float = 0.0
    """The learning rate at ``lr_anneal_steps`` and after, as a fraction of ``lr``."""
    max_grad_norm: float = 10.0
    """Gradient clipping by global norm."""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss: Huber (smooth L1, as in the Nature DQN) or squared error."""
    checkpoint_replay: bool = True
    """Keep the replay buffer in the trainer checkpoint, so ``--resume`` continues with it. False
    for huge buffers (Atari: 5.6 GB at 100k): a resumed run then refills ``learning_starts``
    transitions before it learns again."""
    prioritized: bool = False
    """Proportional prioritized replay (Schaul et al. 2016) instead of uniform."""
    priority_alpha: float = 0.6
    """Priority exponent alpha."""
    priority_beta_start: float = 0.4
    """Initial importance-sampling exponent beta (annealed linearly to 1)."""
    priority_beta_steps: int = 100_000
    """Env steps over which beta reaches 1."""

    def __post_init__(self) -> None:
        checks = {"lr": self.lr > 0, "gamma": 0 <= self.gamma <= 1, "n_step": self.n_step >= 1,
                  "batch_size": self.batch_size >= 1, "buffer_size": self.buffer_size >= self.batch_size,
                  "train_frequency": self.train_frequency >= 1, "gradient_steps": self.gradient_steps >= 0,
                  "target_update_every": self.target_update_every >= 1, "tau": 0 < self.tau <= 1,
                  "eps_end": 0 <= self.eps_end <= self.eps_start <= 1, "loss": self.loss in ("huber", "mse"),
                  "lr_anneal_steps": self.lr_anneal_steps >= 0, "lr_end_fraction": 0 <= self.lr_end_fraction <= 1}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid DQNConfig field(s) {bad}: {self}")
        if not isinstance(self.hidden, tuple):
            raise TypeError(f"hidden must be a tuple of ints, got {self.hidden!r}")


def default_config(name: str = "dqn") -> DQNConfig:
    """The default config of ``name`` (only ``"dqn"`` lives here)."""
    if name != "dqn":
        raise ValueError(f"agents.dqn knows only 'dqn', not {name!r}")
    return DQNConfig()


class QNetwork(nn.Module):
    """(Conv tower ->) MLP trunk -> dueling or linear head: ``[B, *obs_shape] -> [B, A]`` Q-values.

    Vector observations (and our games' float planes) are flattened into the MLP. Images --
    ``image_shape`` given: uint8 ``[C, H, W]``, e.g. 4 stacked 84x84 Atari frames -- go through
    the Nature DQN tower (``nets.conv.NatureTower``), scaled by 1/255 on the device, and the MLP
    then takes its 3136 features (``hidden = [512]``: the Nature DQN's 512-unit layer).
    """

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...], dueling: bool,
                 image_shape: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.tower = None if image_shape is None else NatureTower(image_shape[0], tuple(image_shape[1:]))
        features = obs_dim if self.tower is None else self.tower.out_features
        if dueling and hidden:
            self.trunk = MLP(MLPConfig(features, hidden[-1], hidden[:-1], output_activation="relu"))
            self.head: nn.Module = DuelingQHead(hidden[-1], num_actions)
        else:
            self.trunk = MLP(MLPConfig(features, num_actions, hidden))
            self.head = nn.Identity()
        self._chain = layer_chain(self.trunk)  # the trunk's layers in call order, for run_chain

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values float ``[B, A]`` for observations ``[B, ...]`` (any dtype; uint8 images)."""
        if self.tower is None:
            x = obs.flatten(1).float()  # (B, obs_dim); a no-op for float32
        else:
            x = self.tower(obs.float() * (1.0 / 255.0))  # (B, C, H, W) -> (B, 3136)
        features = run_chain(self.trunk, self._chain, x)  # (B, F_in) -> (B, F)
        return self.head.forward(features)  # (B, A)


def is_image_space(space: gymnasium.spaces.Box) -> bool:
    """uint8 ``[C, H, W]`` observations (stacked frames), which get the conv tower."""
    return len(space.shape) == 3 and space.dtype == np.uint8


class NextState(NamedTuple):
    """What each transition of a vector step leads to (see :func:`real_next_obs`)."""

    obs: np.ndarray  # [N, *obs_shape]
    action_mask: np.ndarray | None  # bool [N, A] legal actions there, or None


def real_next_obs(obs: np.ndarray, mask: np.ndarray | None, ended: np.ndarray, info: dict[str, Any]) -> NextState:
    """The next observation (and action mask) of each transition of a same-step-autoreset vector
    step: where an episode ended (``ended`` bool ``[N]``), ``obs`` is already the next episode's
    first one and the transition's own is in ``info["final_obs"]``. Copies, never mutates."""
    if not ended.any():
        return NextState(obs, mask)
    next_obs = obs.copy()
    for i in np.flatnonzero(ended):
        next_obs[i] = info["final_obs"][i]
    if mask is not None:
        mask = mask.copy()
        mask[ended] = info["final_info"]["action_mask"][ended].astype(bool)
    return NextState(next_obs, mask)


class TDBatch(NamedTuple):
    """One gradient step's replay batch on the learner's device, the n-step sums already taken."""

    obs: torch.Tensor  # [B, *obs_shape], the replay's dtype (uint8 for Atari; the network casts)
    actions: torch.Tensor  # long [B]
    returns: torch.Tensor  # [B]: discounted rewards of the window
    discount: torch.Tensor  # [B]: gamma^(k+1), 0 after a termination
    next_obs: torch.Tensor  # [B, *obs_shape]: the bootstrap observation
    next_mask: torch.Tensor | None  # bool [B, A] legal actions there, or None
    weights: torch.Tensor | None  # importance weights (prioritized replay only)
    indices: np.ndarray  # flat buffer indices, for the priority update


def td_batches(sample: ReplayBatch, gamma: float, batch_size: int, device: torch.device,
               weighted: bool) -> list[TDBatch]:
    """A replay sample of ``k * batch_size`` n-step windows as ``k`` :class:`TDBatch` on ``device``.

    The n-step sums are taken in numpy first, so only each window's bootstrap observation
    travels, and each array goes to the device once for all k batches. ``weighted``: keep the
    importance weights (prioritized replay; uniform replay's are all 1).
    """
    nstep = n_step_returns(sample.rewards, sample.terminated, sample.truncated, sample.valid, gamma)
    rows = np.arange(len(nstep.last))
    arrays = [sample.obs, sample.actions, nstep.returns, nstep.discount, sample.next_obs[rows, nstep.last],
              None if sample.next_mask is None else sample.next_mask[rows, nstep.last],
              sample.weights if weighted else None]
    k = len(rows) // batch_size
    parts = [[None] * k if x is None else torch.as_tensor(x, device=device).split(batch_size) for x in arrays]
    return [TDBatch(*(part[i] for part in parts), indices=sample.indices[i * batch_size:(i + 1) * batch_size])
            for i in range(k)]


# ----- the learner --------------------------------------------------------------------------


class DQNLearner:
    """DQN over a same-step-autoreset Gymnasium vector env (the :class:`agents.common.Learner` protocol)."""

    def __init__(self, config: DQNConfig, observation_space: gymnasium.Space, action_space: gymnasium.Space,
                 num_envs: int, device: torch.device | str = "cpu", seed: int = 0) -> None:
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise ValueError(f"DQN needs a discrete action space, this task has {action_space}; "
                             "use --agent ppo (or a2c/reinforce) for continuous actions")
        if not isinstance(observation_space, gymnasium.spaces.Box):
            raise ValueError(f"DQN needs Box observations, this task has {observation_space}")
        self.config = config
        self.device = torch.device(device)
        self.num_envs = num_envs
        self.num_actions = int(action_space.n)
        torch.manual_seed(seed)
        obs_dim = int(np.prod(observation_space.shape))
        image = tuple(observation_space.shape) if is_image_space(observation_space) else None
        self.q = QNetwork(obs_dim, self.num_actions, config.hidden, config.dueling, image).to(self.device)
        self.q_target = QNetwork(obs_dim, self.num_actions, config.hidden, config.dueling, image).to(self.device)
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        # one flat tensor for the weights and one for the gradients: Adam and clipping touch one
        # tensor each instead of ~12 (a third of the cost on small networks; nets/train.py)
        self.flat_parameters = flatten_parameters(self.q)
        self.optimizer = torch.optim.Adam([self.flat_parameters], lr=config.lr, fused=True)
        self.obs_shape = tuple(observation_space.shape)
        self.obs_dtype = np.dtype(observation_space.dtype)  # what the replay stores (uint8 for Atari)
        self.seed = seed
        self.rng = np.random.default_rng(seed)  # exploration
        self.buffer: ReplayBuffer | None = None  # built on the first reset, once we know if the env has masks
        self.env_steps = 0
        self.gradient_steps = 0
        # where the vector env stands between learn calls (obs None: the next call resets it)
        self.obs: np.ndarray | None = None  # [N, *obs_shape]
        self.action_mask: np.ndarray | None = None  # bool [N, A], or None for tasks without masks
        self.episode_return = np.zeros(num_envs)  # of each env's running episode

    @property
    def epsilon(self) -> float:
        """The exploration rate at the current env step."""
        c = self.config
        return linear_schedule(c.eps_start, c.eps_end, c.exploration_steps, self.env_steps)

    def learn(self, envs: Any) -> dict[str, Any]:
        """One iteration, in CleanRL's order: ``train_frequency`` vector steps (act epsilon-greedily,
        step the envs, store the transitions), then, when due, ``gradient_steps`` updates (sample,
        TD target, gradient step, priorities, target sync). The first call, and the first after a
        load, resets ``envs`` (same-step autoreset, as ``arena/rl/loop.py`` builds it). Returns
        ``env_steps``, ``episode_returns``, ``epsilon`` and, when it learned, the mean ``loss`` and
        ``q_mean`` (Q of the taken actions)."""
        c = self.config
        if self.obs is None:
            mode = envs.metadata.get("autoreset_mode")
            if mode is not None and str(getattr(mode, "value", mode)) != "SameStep":
                raise ValueError(f"DQN needs a vector env with same-step autoreset, this one uses {mode}")
            # a resumed run (env_steps > 0) must not replay the episodes it started with
            self.obs, info = envs.reset(seed=self.seed + self.env_steps)
            self.action_mask = _mask(info)
            if self.buffer is None:
                self.buffer = self.new_replay_buffer(masks=self.action_mask is not None)
            self.episode_return[:] = 0

        finished: list[float] = []  # returns of the episodes that end in this call
        for _ in range(c.train_frequency):
            greedy = self.act(self.obs, self.action_mask)  # masked argmax of the online network
            actions = epsilon_greedy(greedy, self.epsilon, self.num_actions, self.rng, self.action_mask)
            obs, reward, terminated, truncated, info = envs.step(actions)
            mask = _mask(info)
            ended = terminated | truncated
            next_obs, next_mask = real_next_obs(obs, mask, ended, info)  # the transitions' own s'
            self.buffer.add(self.obs, actions, reward, terminated, truncated, next_obs, next_mask)
            self.episode_return += reward
            finished += self.episode_return[ended].tolist()
            self.episode_return[ended] = 0
            self.obs, self.action_mask = obs, mask
            self.env_steps += self.num_envs

        # due after learning_starts env steps, and once as many transitions are stored again after
        # a resume without the replay (checkpoint_replay False)
        due = self.env_steps >= c.learning_starts and len(self.buffer) >= max(
            c.batch_size, min(c.learning_starts, self.buffer.rows * self.num_envs))
        # uniform replay draws all the burst's batches in one sampling (the buffer does not change in
        # a burst); prioritized replay one per step, as each step moves the priorities it draws by
        draws, per_draw = (c.gradient_steps, 1) if c.prioritized else (min(1, c.gradient_steps), c.gradient_steps)
        beta = linear_schedule(c.priority_beta_start, 1.0, c.priority_beta_steps, self.env_steps)
        if c.lr_anneal_steps > 0:
            set_learning_rate(self.optimizer, linear_schedule(c.lr, c.lr * c.lr_end_fraction, c.lr_anneal_steps,
                                                              self.env_steps))
        updates = []  # [loss, mean Q] per gradient step, kept as tensors: one host sync per call
        for _ in range(draws if due else 0):
            sample = self.buffer.sample(c.batch_size * per_draw, beta)
            for batch in td_batches(sample, c.gamma, c.batch_size, self.device, weighted=c.prioritized):
                # TD target G + discount * Q_target(s', a*), a* the legal argmax of Q (double) or Q_target
                with torch.no_grad():
                    next_q_target = self.q_target(batch.next_obs)
                if c.double:  # one online forward for s and s' (fewer small ops; s' gets no gradient)
                    q, next_q_online = self.q(torch.cat([batch.obs, batch.next_obs])).split(len(batch.obs))
                    next_q_online = next_q_online.detach()
                else:
                    q, next_q_online = self.q(batch.obs), next_q_target
                target = td_target(batch.returns, batch.discount, next_q_online, next_q_target, batch.next_mask,
                                   c.double)
                q_taken = q.gather(1, batch.actions[:, None]).squeeze(1)
                loss = td_loss(q_taken, target, c.loss, batch.weights)
                # gradient step on the one flat parameter (zero_, not set_to_none: nets/train.py)
                self.flat_parameters.grad.zero_()
                loss.backward()
                nn.utils.clip_grad_norm_([self.flat_parameters], c.max_grad_norm)
                self.optimizer.step()
                if c.prioritized:  # the batch's new priorities, from its TD errors
                    self.buffer.update_priorities(batch.indices, (q_taken - target).detach().cpu().numpy())
                # target sync: Polyak after every step (tau < 1), else a copy every target_update_every
                self.gradient_steps += 1
                if c.tau < 1.0:
                    polyak_update(self.q_target, self.q, c.tau)
                elif self.gradient_steps % c.target_update_every == 0:
                    polyak_update(self.q_target, self.q, 1.0)
                updates.append(torch.stack([loss.detach(), q_taken.detach().mean()]))
        stats: dict[str, Any] = {"env_steps": c.train_frequency * self.num_envs, "episode_returns": finished,
                                 "epsilon": self.epsilon}
        if updates:
            loss_mean, q_mean = torch.stack(updates).mean(0).tolist()
            stats.update(loss=loss_mean, q_mean=q_mean)
        return stats

    @torch.inference_mode()
    def act(self, obs: np.ndarray, action_mask: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        """Greedy (masked) actions, or epsilon-greedy with the current epsilon: int64 ``[N]``."""
        q = self.q(torch.as_tensor(obs, device=self.device))  # the network casts to float on the device
        mask = None if action_mask is None else torch.as_tensor(action_mask, device=self.device).bool()
        greedy = masked_argmax(q, mask).cpu().numpy()
        if deterministic:
            return greedy
        return epsilon_greedy(greedy, self.epsilon, self.num_actions, self.rng, action_mask)

    def networks(self) -> dict[str, nn.Module]:
        """The online Q network (what a checkpoint holds for playing)."""
        return {"q": self.q}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Networks, optimizer, replay buffer (unless ``checkpoint_replay`` is False) and counters as
        named tensors (the live episodes are not kept: the next ``learn`` after a load starts fresh
        episodes)."""
        out = {f"q.{k}": v for k, v in self.q.state_dict().items()}
        out.update({f"q_target.{k}": v for k, v in self.q_target.state_dict().items()})
        out.update(optimizer_tensors(self.optimizer, "optimizer."))
        if self.buffer is not None and self.config.checkpoint_replay:
            out.update(self.buffer.state_tensors("replay."))
        out["counters"] = torch.tensor([self.env_steps, self.gradient_steps], dtype=torch.int64)
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`state_tensors`."""
        self.q.load_state_dict(strip_prefix(tensors, "q."))
        self.q_target.load_state_dict(strip_prefix(tensors, "q_target."))
        load_optimizer_tensors(self.optimizer, tensors, "optimizer.")
        if "replay.counters" in tensors:
            self.buffer = self.new_replay_buffer(masks="replay.next_mask" in tensors)
            self.buffer.load_state_tensors(tensors, "replay.")
        else:  # saved without it (checkpoint_replay False): refill from scratch
            self.buffer = None
        self.env_steps, self.gradient_steps = (int(v) for v in tensors["counters"])
        self.rng = np.random.default_rng([self.seed, self.env_steps])  # a fresh stream after a resume
        self.obs = None

    def new_replay_buffer(self, masks: bool) -> ReplayBuffer:
        """An empty replay for this learner's envs and config (``masks``: store legal-action masks)."""
        c = self.config
        return ReplayBuffer(c.buffer_size, self.num_envs, self.obs_shape, self.num_actions, masks=masks,
                            n_step=c.n_step, prioritized=c.prioritized, alpha=c.priority_alpha, seed=self.seed,
                            obs_dtype=self.obs_dtype)


def make_learner(name: str, config_overrides: dict[str, Any], observation_space: gymnasium.Space,
                 action_space: gymnasium.Space, num_envs: int, device: torch.device | str = "cpu",
                 seed: int = 0) -> DQNLearner:
    """A DQN learner: ``default_config(name)`` with ``config_overrides`` (lists become tuples).

    Raises:
        ValueError: an unknown name or config field, naming the known fields.
    """
    base = default_config(name)
    fields = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(config_overrides) - fields)
    if unknown:
        raise ValueError(f"unknown DQN config field(s) {unknown}; known: {sorted(fields)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in config_overrides.items()}
    return DQNLearner(dataclasses.replace(base, **values), observation_space, action_space, num_envs, device, seed)


def _mask(info: dict[str, Any]) -> np.ndarray | None:
    """The bool ``[N, A]`` action mask of a vector env's info, or None when the task has none."""
    mask = info.get("action_mask")
    return None if mask is None else np.asarray(mask).astype(bool)
