"""AlphaZero (Silver et al. 2018): batched self-play with tree search, and its learner.

The pieces, in the order a training iteration uses them (arena/alphazero.py runs the loop,
evaluates and writes files; nothing here prints or touches disk):

1. :class:`SelfPlay` keeps B games in lockstep on one device. Each :meth:`SelfPlay.step`
   searches all B positions at once (agents/mcts.py), records (observation, search policy,
   player to move), plays the chosen moves, and when games end turns their records into
   training samples with the final outcome from each position's mover's point of view; the
   finished games restart at once so the batch stays full.
2. :class:`ReplayBuffer` is a fixed-size ring of samples in tensors.
3. :func:`train_step` samples a batch, applies a random board symmetry per sample (the 8 of
   the square), and :func:`learn` takes one optimizer step on policy cross-entropy + value
   MSE (weight decay by AdamW); data-parallel processes each learn on a shard of the batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F

from agents.mcts import MCTSConfig, SearchOutput, network_evaluator, search
from agents.mcts_graph import GraphedSearch
from envs import core
from nets.conv import PolicyValueNet, ResNetConfig


@dataclass(frozen=True)
class AlphaZeroConfig:
    """Everything that defines an AlphaZero training run (the network, search and learner)."""

    game: Literal["tictactoe", "go"] = "tictactoe"
    """Which game to learn."""
    size: int = 9
    """Go board size (5..19); ignored for tic-tac-toe."""
    komi: float = 7.5
    """Go komi."""
    blocks: int = 2
    """Residual blocks of the network."""
    channels: int = 32
    """Channels of the network's tower."""
    games: int = 128
    """Self-play games in lockstep (B)."""
    search: MCTSConfig = field(default_factory=lambda: MCTSConfig(simulations=16))
    """Self-play search."""
    play_simulations: int = 64
    """Search budget when the agent plays (people, GTP, the final judgement of a run)."""
    eval_simulations: int | None = None
    """Search budget of the evaluation matches during training (None: the self-play search's):
    they track progress and gate, so they can be cheaper than play."""
    buffer_size: int = 20_000
    """Replay buffer capacity in positions."""
    batch_size: int = 256
    """Positions per gradient step."""
    replay_ratio: float = 8.0
    """Positions sampled for training per position produced by self-play."""
    min_buffer: int = 512
    """Positions collected before training starts."""
    lr: float = 1e-3
    """AdamW learning rate."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """``cosine``: the learning rate falls from ``lr`` to 0 along a half cosine over the run's
    budget (its seconds, or its step limit when that comes first): the late small steps
    sharpen a policy that a constant rate keeps jittering."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    augment: bool = True
    """Train on a random one of the 8 board symmetries of each sample."""
    random_opening: int = 6
    """Each self-play game starts with 0..this many uniformly random moves, not recorded
    (so the value targets stay those of searched play): it spreads the games over far more
    positions than search from the empty board reaches, including the odd ones people play."""

    def make_game(self) -> Any:
        """The rules this config trains on."""
        import envs

        return envs.make("go", size=self.size, komi=self.komi) if self.game == "go" else envs.make("tictactoe")

    def play_search(self) -> MCTSConfig:
        """The search used when playing (no exploration noise is applied at play time)."""
        return MCTSConfig(**{**self.search.__dict__, "simulations": self.play_simulations})


def make_network(game: Any, cfg: AlphaZeroConfig) -> PolicyValueNet:
    """The policy-value ResNet for ``game``'s observation and action shapes."""
    return PolicyValueNet(network_config(game, cfg))


def network_config(game: Any, cfg: AlphaZeroConfig) -> ResNetConfig:
    c, n, _ = game.observation_shape
    return ResNetConfig(in_channels=c, board_size=n, num_actions=game.num_actions, blocks=cfg.blocks,
                        channels=cfg.channels, value_hidden=cfg.channels)


class Samples(NamedTuple):
    """Training samples: observation, search policy target, outcome for the player to move."""

    obs: torch.Tensor  # uint8 [N, C, H, W] (the planes are 0/1)
    policy: torch.Tensor  # float [N, A]
    value: torch.Tensor  # float [N], in {-1, 0, 1}


class FinishedGames(NamedTuple):
    """Games that ended during a self-play step."""

    samples: Samples
    outcomes: torch.Tensor  # float [G, 2]: final reward per player
    actions: list[list[int]]  # every move of each finished game (random openings too), for replays
    lengths: torch.Tensor  # long [G]


class SelfPlay:
    """B self-play games in lockstep with their unfinished records.

    Args:
        game: the rules.
        cfg: the run's config (games, search).
        device: where games, trees and the network live.
        generator: random numbers for the search (seeded runs).
    """

    def __init__(self, game: Any, cfg: AlphaZeroConfig, device: torch.device, generator: torch.Generator) -> None:
        self.game, self.cfg, self.generator = game, cfg, generator
        B, T = cfg.games, _max_length(game)
        c, h, w = game.observation_shape
        self.state = game.init(B, device)
        self.obs = torch.zeros(B, T, c, h, w, dtype=torch.uint8, device=device)
        self.policy = torch.zeros(B, T, game.num_actions, device=device)
        self.player = torch.zeros(B, T, dtype=torch.long, device=device)
        self.actions = torch.zeros(B, T, dtype=torch.long, device=device)  # every move, openings included
        self.moves = torch.zeros(B, dtype=torch.long, device=device)
        self.length = torch.zeros(B, dtype=torch.long, device=device)  # recorded (searched) positions
        self.opening = self._opening_lengths(B, device)
        self._graph: tuple[torch.nn.Module, GraphedSearch] | None = None  # (network, its captured search)

    def step(self, net: torch.nn.Module) -> FinishedGames:
        """One move in every game (a batched search per move); returns the games that ended."""
        state, rows, t = self.state, torch.arange(self.cfg.games, device=self.length.device), self.length
        out = self._search(net, state)
        opening = self.opening > 0
        action = torch.where(opening, core.random_actions(state, self.generator), out.action)
        self.obs[rows, t] = self.game.observe(state).to(torch.uint8)
        self.policy[rows, t] = out.policy
        self.player[rows, t] = state.current_player
        self.actions[rows, self.moves] = action
        self.moves = self.moves + 1
        self.state = self.game.step(state, action, checked=False)
        self.length = t + (~opening).long()  # opening moves are overwritten by the next record
        self.opening = self.opening - opening.long()
        done = self.state.terminated
        finished = self._collect(done)
        self.state = core.reset_finished(self.game, self.state)
        self.length = torch.where(done, 0, self.length)
        self.moves = torch.where(done, 0, self.moves)
        self.opening = torch.where(done, self._opening_lengths(len(done), done.device), self.opening)
        return finished

    def _search(self, net: torch.nn.Module, state: Any) -> SearchOutput:
        """The exploring search of every game: eager, or replayed as a CUDA graph
        (``search.cuda_graph`` on a CUDA device; captured again for another network object)."""
        if not (self.cfg.search.cuda_graph and state.legal_action_mask.is_cuda):
            return search(self.game, state, network_evaluator(self.game, net), self.cfg.search, explore=True,
                          generator=self.generator)
        if self._graph is None or self._graph[0] is not net:
            graphed = GraphedSearch(self.game, network_evaluator(self.game, net), self.cfg.search, state, explore=True)
            self._graph = (net, graphed)
        return self._graph[1](state, self.generator)

    def _opening_lengths(self, n: int, device: torch.device) -> torch.Tensor:
        k = torch.randint(self.cfg.random_opening + 1, (n,), generator=self.generator, device=self.generator.device)
        return k.to(device)

    def _collect(self, done: torch.Tensor) -> FinishedGames:
        outcomes = self.state.rewards[done]  # (G, 2)
        lengths = self.length[done]
        steps = torch.arange(self.obs.shape[1], device=done.device)
        kept = steps[None, :] < lengths[:, None]  # (G, T)
        z = outcomes.gather(1, self.player[done])  # (G, T): outcome for the player to move at each step
        samples = Samples(self.obs[done][kept], self.policy[done][kept], z[kept])
        actions = [row[:n].tolist() for row, n in zip(self.actions[done], self.moves[done].tolist())]
        return FinishedGames(samples, outcomes, actions, lengths)


class ReplayBuffer:
    """A ring of the last ``capacity`` samples (tensors on ``device``)."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int, device: torch.device) -> None:
        self.obs = torch.zeros(capacity, *obs_shape, dtype=torch.uint8, device=device)
        self.policy = torch.zeros(capacity, num_actions, device=device)
        self.value = torch.zeros(capacity, device=device)
        self.capacity, self.size, self.next = capacity, 0, 0

    def add(self, samples: Samples) -> None:
        n = min(len(samples.value), self.capacity)
        idx = (self.next + torch.arange(n, device=self.value.device)) % self.capacity
        self.obs[idx], self.policy[idx], self.value[idx] = samples.obs[-n:], samples.policy[-n:], samples.value[-n:]
        self.next = (self.next + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch: int, generator: torch.Generator) -> Samples:
        idx = torch.randint(self.size, (batch,), generator=generator, device=generator.device)
        idx = idx.to(self.value.device)
        return Samples(self.obs[idx], self.policy[idx], self.value[idx])

    def tensors(self) -> dict[str, torch.Tensor]:
        """The filled part, oldest first, for checkpoints (``load`` restores it)."""
        order = (self.next - self.size + torch.arange(self.size, device=self.value.device)) % self.capacity
        return {"obs": self.obs[order], "policy": self.policy[order], "value": self.value[order]}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.size = self.next = 0
        self.add(Samples(tensors["obs"].to(self.obs), tensors["policy"].to(self.policy), tensors["value"].to(self.value)))


class Losses(NamedTuple):
    policy: float
    value: float


def loss_terms(logits: torch.Tensor, value: torch.Tensor, target_policy: torch.Tensor,
               target_value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy cross-entropy against the search policy and value MSE against the outcome."""
    policy_loss = -(target_policy * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    return policy_loss, F.mse_loss(value, target_value)


def random_symmetries(batch: Samples, board_size: int, generator: torch.Generator) -> Samples:
    """Each sample seen through a random one of the square's 8 symmetries (planes and policy
    permuted together: one gather each)."""
    N, A = len(batch.value), batch.policy.shape[1]
    dev = batch.value.device
    k = torch.randint(core.NUM_SYMMETRIES, (N,), generator=generator, device=generator.device).to(dev)
    cells = _symmetry_table(board_size, A, dev)  # (8, A)
    policy = batch.policy.gather(1, cells[k])
    c = batch.obs.shape[1]
    pixels = cells[k][:, None, : board_size * board_size].expand(N, c, -1)
    obs = batch.obs.flatten(2).gather(2, pixels).view_as(batch.obs)
    return Samples(obs, policy, batch.value)


@functools.lru_cache(maxsize=16)
def _symmetry_table(board_size: int, num_actions: int, device: torch.device) -> torch.Tensor:
    """Long ``[8, A]``: the action permutation of each symmetry (built once per board and device)."""
    return torch.stack([core.action_permutation(board_size, s, num_actions, device)
                        for s in range(core.NUM_SYMMETRIES)])


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, buffer: ReplayBuffer, cfg: AlphaZeroConfig,
               board_size: int, generator: torch.Generator, rows: int | None = None, weight: float = 1.0) -> Losses:
    """One gradient step on a batch of ``cfg.batch_size`` positions sampled from ``buffer``
    (under data parallelism: this process's ``rows`` of the global batch, see :func:`learn`)."""
    batch = buffer.sample(cfg.batch_size if rows is None else rows, generator)
    if cfg.augment:
        batch = random_symmetries(batch, board_size, generator)
    return learn(net, optimizer, batch, weight)


def learn(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Samples, weight: float = 1.0) -> Losses:
    """One optimizer step on policy cross-entropy + value MSE of ``batch``.

    Under DistributedDataParallel each process passes its shard of the global batch and the
    shard's ``weight`` (nets.distributed.shard); the averaged gradient is then the whole
    batch's. The losses returned are this batch's (the shard's).
    """
    net.train()
    logits, value = net(batch.obs.float())
    policy_loss, value_loss = loss_terms(logits, value, batch.policy, batch.value)
    optimizer.zero_grad(set_to_none=True)
    ((policy_loss + value_loss) * weight).backward()
    optimizer.step()
    net.eval()
    return Losses(policy_loss.item(), value_loss.item())


def make_optimizer(net: torch.nn.Module, cfg: AlphaZeroConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def search_actions(game: Any, net: torch.nn.Module, state: Any, cfg: MCTSConfig) -> torch.Tensor:
    """The agent's move in every game of ``state`` (search without exploration)."""
    return search(game, state, network_evaluator(game, net), cfg, explore=False).action


def _max_length(game: Any) -> int:
    return getattr(game, "max_moves", game.num_actions)
