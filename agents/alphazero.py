"""AlphaZero (Silver et al. 2018): batched self-play with tree search, and its learner.

The pieces, in the order a training iteration uses them (arena/selfplay/alphazero.py runs the loop,
evaluates and writes files; nothing here prints or touches disk):

1. :class:`SelfPlay` keeps B games in lockstep on one device. Each :meth:`SelfPlay.step`
   searches all B positions at once (agents/mcts.py), records (observation, search policy,
   player to move), plays the chosen moves, and when games end turns their records into
   training samples with the final outcome from each position's mover's point of view; the
   finished games restart at once so the batch stays full.
2. :class:`PositionBuffer` is a fixed-size ring of samples (positions and their targets) in tensors
   (the model-free learners' transitions live in agents/replay.py's ReplayBuffer).
3. :func:`train_step` samples a batch, applies a random board symmetry per sample (the 8 of
   the square), and :func:`learn` takes one optimizer step on policy cross-entropy + value
   MSE (weight decay by AdamW); data-parallel processes each learn on a shard of the batch.

KataGo's ways of learning more from each game (Wu 2019, "Accelerating Self-Play Learning in
Go"), each a config field, off by default (tic-tac-toe needs none of them):

- ``global_pooling``: its network (nets/conv.py :class:`~nets.conv.GlobalPoolingNet`), one for
  every board size, with an ownership and a score head. ``ownership_weight`` and
  ``score_weight`` train them on each played-out game's final Tromp-Taylor owner of every point
  and its score margin (from the mover's point of view): 81 more targets per 9x9 position
  than the single outcome, which speeds up the value's learning.
- ``full_search_fraction`` < 1 (playout cap randomization): only that share of moves gets the
  full search and becomes a policy target; the others search ``cheap_simulations`` without
  noise and feed only the value/ownership/score targets: more games for the same compute.
- ``resign_threshold``: a game ends when the search's value for the side to move falls below
  ``-resign_threshold``; ``resign_playout`` of the games never resign and measure how often
  a resignation would have been wrong (:attr:`FinishedGames.resign_checks`). Resigned games
  have no final board: their ownership and score targets are masked out.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F

from agents.mcts import MCTSConfig, SearchOutput, network_evaluator, search
from agents.mcts_graph import GraphedSearch
from envs import GameId, core
from envs.core import Game
from envs.spec import GameSpec
from nets.conv import GlobalPoolingNet, PolicyValueNet, ResNetConfig


@dataclass(frozen=True)
class AlphaZeroConfig:
    """Everything that defines an AlphaZero training run (the network, search and learner)."""

    game: GameId = "tictactoe"
    """Which game to learn (a registered id, :data:`envs.GameId`)."""
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
    global_pooling: bool = False
    """KataGo's network: global pooling blocks, a policy head without size-bound weights, and
    ownership and score heads (nets.conv.GlobalPoolingNet); plays every board size."""
    tower_pooling: bool = True
    """With ``global_pooling``: pooling bias blocks in the tower (False keeps only the pooled
    heads; an ablation)."""
    ownership_weight: float = 0.0
    """Weight of the ownership loss (per-point binary cross-entropy, averaged over the board;
    KataGo's 1.5); needs ``global_pooling``."""
    score_weight: float = 0.0
    """Weight of the score loss (squared error of the final margin / N^2); needs ``global_pooling``."""
    full_search_fraction: float = 1.0
    """Playout cap randomization: the share of self-play moves searched with ``search`` and
    recorded as policy targets; the rest search ``cheap_simulations`` without noise."""
    cheap_simulations: int = 8
    """Simulations of the cheap searches (see ``full_search_fraction``)."""
    resign_threshold: float = 0.0
    """Resign a self-play game when the search values it below ``-resign_threshold`` for the
    side to move (e.g. 0.9); 0 never resigns."""
    resign_playout: float = 0.1
    """Share of self-play games that never resign, to measure the false-resignation rate."""
    mixed_sizes: tuple[int, ...] = ()
    """Go board sizes self-played beside ``size`` by the same network (needs ``global_pooling``):
    ``games`` games of each size, a replay buffer per size, single-size batches. Evaluation
    plays ``size``."""

    def __post_init__(self) -> None:
        if (self.ownership_weight or self.score_weight) and not self.global_pooling:
            raise ValueError("ownership_weight and score_weight train the heads of the global pooling network: "
                             "set global_pooling=True")
        if self.mixed_sizes and (len(GameSpec.of(self.game).rules.board_sizes) < 2 or not self.global_pooling):
            raise ValueError("mixed_sizes trains one global pooling network on several boards of a game built "
                             "in several sizes (Go): set game='go' and global_pooling=True")
        if not 0.0 < self.full_search_fraction <= 1.0:
            raise ValueError(f"full_search_fraction must be in (0, 1], got {self.full_search_fraction}")
        if not 0.0 <= self.resign_threshold < 1.0 or not 0.0 <= self.resign_playout <= 1.0:
            raise ValueError(f"resign_threshold must be in [0, 1) and resign_playout in [0, 1], got "
                             f"{self.resign_threshold}, {self.resign_playout}")

    def game_spec(self) -> GameSpec:
        """The game this config trains on (``size``/``komi`` where the game takes them)."""
        return GameSpec.for_board(self.game, size=self.size, komi=self.komi)

    def make_game(self) -> Any:
        """The rules this config trains on."""
        return self.game_spec().make()

    def extra_games(self) -> list[Any]:
        """The rules of each of ``mixed_sizes`` (komi and move cap as ``size``'s)."""
        return [self.game_spec().replace(size=n).make() for n in self.mixed_sizes if n != self.size]

    def cheap_search(self) -> MCTSConfig:
        """The search of the moves that playout cap randomization makes cheap."""
        return dataclasses.replace(self.search, simulations=self.cheap_simulations)

    def play_search(self) -> MCTSConfig:
        """The search used when playing (no exploration noise is applied at play time)."""
        return dataclasses.replace(self.search, simulations=self.play_simulations)


def make_network(game: Game, cfg: AlphaZeroConfig) -> PolicyValueNet | GlobalPoolingNet:
    """The policy-value ResNet for ``game``'s observation and action shapes (KataGo's global
    pooling network with ownership and score heads when ``cfg.global_pooling``)."""
    net_cfg = network_config(game, cfg)
    return GlobalPoolingNet(net_cfg) if cfg.global_pooling else PolicyValueNet(net_cfg)


def network_config(game: Game, cfg: AlphaZeroConfig) -> ResNetConfig:
    c, n, _ = game.observation_shape
    return ResNetConfig(in_channels=c, board_size=n, num_actions=game.num_actions, blocks=cfg.blocks,
                        channels=cfg.channels, value_hidden=cfg.channels, global_pooling=cfg.global_pooling,
                        pooling_blocks=cfg.tower_pooling)


class Samples(NamedTuple):
    """Training samples: observation, search policy target, outcome for the player to move,
    and (self-play fills them; None takes the defaults) the auxiliary targets with their masks."""

    obs: torch.Tensor  # uint8 [N, C, H, W] (the planes are 0/1)
    policy: torch.Tensor  # float [N, A]
    value: torch.Tensor  # float [N], in {-1, 0, 1}
    ownership: torch.Tensor | None = None  # int8 [N, H * W]: final owner of each point, +1 the mover (default 0)
    score: torch.Tensor | None = None  # float [N]: final margin / (H * W) for the mover (default 0)
    policy_weight: torch.Tensor | None = None  # float [N]: 1 for a full search's target, 0 a cheap one's (default 1)
    aux_weight: torch.Tensor | None = None  # float [N]: 1 where ownership and score are known (default 0)

    def filled(self) -> Samples:
        """These samples with every optional target present (its default where None)."""
        n, dev = len(self.value), self.value.device
        points = self.obs.shape[2] * self.obs.shape[3]
        return Samples(self.obs, self.policy, self.value,
                       torch.zeros(n, points, dtype=torch.int8, device=dev) if self.ownership is None else self.ownership,
                       torch.zeros(n, device=dev) if self.score is None else self.score,
                       torch.ones(n, device=dev) if self.policy_weight is None else self.policy_weight,
                       torch.zeros(n, device=dev) if self.aux_weight is None else self.aux_weight)


class FinishedGames(NamedTuple):
    """Games that ended during a self-play step."""

    samples: Samples
    outcomes: torch.Tensor  # float [G, 2]: final reward per player
    actions: list[list[int]]  # every move of each finished game (random openings too), for replays
    lengths: torch.Tensor  # long [G]
    resigned: torch.Tensor | None = None  # bool [G]: ended by a resignation
    resign_checks: torch.Tensor | None = None  # bool [G]: played out although a side would have resigned
    resign_wrong: torch.Tensor | None = None  # bool [G]: ... and that side did not lose
    results: tuple[str, ...] | None = None  # each game's result text (game.result_text; "B+R" when resigned)


class SelfPlay:
    """B self-play games in lockstep with their unfinished records.

    Args:
        game: the rules.
        cfg: the run's config (games, search, playout cap, resignation).
        device: where games, trees and the network live.
        generator: random numbers for the search (seeded runs).
    """

    def __init__(self, game: Game, cfg: AlphaZeroConfig, device: torch.device, generator: torch.Generator) -> None:
        self.game, self.cfg, self.generator = game, cfg, generator
        B, T = cfg.games, _max_length(game)
        c, h, w = game.observation_shape
        self.state = game.init(B, device)
        self.obs = torch.zeros(B, T, c, h, w, dtype=torch.uint8, device=device)
        self.policy = torch.zeros(B, T, game.num_actions, device=device)
        self.player = torch.zeros(B, T, dtype=torch.long, device=device)
        self.full = torch.ones(B, T, dtype=torch.bool, device=device)  # the move had the full search
        self.actions = torch.zeros(B, T, dtype=torch.long, device=device)  # every move, openings included
        self.moves = torch.zeros(B, dtype=torch.long, device=device)
        self.length = torch.zeros(B, dtype=torch.long, device=device)  # recorded (searched) positions
        self.opening = self._opening_lengths(B, device)
        self.may_resign = self._may_resign(B, device)
        self.would_resign = torch.full((B,), -1, dtype=torch.long, device=device)  # seat that would have resigned
        self._graph: tuple[torch.nn.Module, GraphedSearch] | None = None  # (network, its captured search)

    def step(self, net: torch.nn.Module) -> FinishedGames:
        """One move in every game (a batched search per move); returns the games that ended."""
        state, rows, t = self.state, torch.arange(self.cfg.games, device=self.length.device), self.length
        full = self._full_moves(len(rows), rows.device)
        out = self._search(net, state) if bool(full.all()) else self._split_search(net, state, full)
        opening = self.opening > 0
        action = torch.where(opening, core.random_actions(state, self.generator), out.action)
        self.obs[rows, t] = self.game.observe(state).to(torch.uint8)
        self.policy[rows, t] = out.policy
        self.player[rows, t] = state.current_player
        self.full[rows, t] = full
        self.actions[rows, self.moves] = action
        self.moves = self.moves + 1
        lost = self._resignations(out.value, opening)
        self.state = self.game.step(state, action, checked=False)
        self.length = t + (~opening).long()  # opening moves are overwritten by the next record
        self.opening = self.opening - opening.long()
        resigned = lost & ~self.state.terminated
        done = self.state.terminated | resigned
        finished = self._collect(done, resigned, state.current_player)
        self.state = core.reset_finished(self.game, dataclasses.replace(self.state, terminated=done))
        self.length = torch.where(done, 0, self.length)
        self.moves = torch.where(done, 0, self.moves)
        self.opening = torch.where(done, self._opening_lengths(len(done), done.device), self.opening)
        self.may_resign = torch.where(done, self._may_resign(len(done), done.device), self.may_resign)
        self.would_resign = torch.where(done, -1, self.would_resign)
        return finished

    def _search(self, net: torch.nn.Module, state: Any) -> SearchOutput:
        """The exploring search of every game: eager, or replayed as a CUDA graph
        (``search.cuda_graph`` on a CUDA device; captured again for another network object)."""
        evaluate = network_evaluator(self.game, net, self.cfg.search.score_utility)
        if not (self.cfg.search.cuda_graph and state.legal_action_mask.is_cuda):
            return search(self.game, state, evaluate, self.cfg.search, explore=True, generator=self.generator)
        if self._graph is None or self._graph[0] is not net:
            graphed = GraphedSearch(self.game, evaluate, self.cfg.search, state, explore=True)
            self._graph = (net, graphed)
        return self._graph[1](state, self.generator)

    def _split_search(self, net: torch.nn.Module, state: Any, full: torch.Tensor) -> _Searched:
        """Playout cap randomization: the exploring full search on the games in ``full``, the
        cheap noiseless one on the others, as two batched searches."""
        evaluate = network_evaluator(self.game, net, self.cfg.search.score_utility)
        B, A = full.shape[0], self.game.num_actions
        action = torch.zeros(B, dtype=torch.long, device=full.device)
        policy, value = torch.zeros(B, A, device=full.device), torch.zeros(B, device=full.device)
        for rows, cfg, explore in ((full.nonzero()[:, 0], self.cfg.search, True),
                                   ((~full).nonzero()[:, 0], self.cfg.cheap_search(), False)):
            if len(rows):
                out = search(self.game, core.state_rows(state, rows), evaluate, cfg, explore=explore,
                             generator=self.generator)
                action[rows], policy[rows], value[rows] = out.action, out.policy, out.value
        return _Searched(action, policy, value)

    def _full_moves(self, n: int, device: torch.device) -> torch.Tensor:
        """bool [n]: the moves that get the full search."""
        if self.cfg.full_search_fraction >= 1.0:
            return torch.ones(n, dtype=torch.bool, device=device)
        u = torch.rand(n, generator=self.generator, device=self.generator.device)
        return (u < self.cfg.full_search_fraction).to(device)

    def _resignations(self, value: torch.Tensor, opening: torch.Tensor) -> torch.Tensor:
        """bool [B]: games whose side to move resigns now (its search value is below
        ``-resign_threshold``); in the games that never resign, the first such side is noted."""
        if self.cfg.resign_threshold <= 0.0:
            return torch.zeros_like(opening)
        hopeless = (value < -self.cfg.resign_threshold) & ~opening & ~self.state.terminated
        first = hopeless & ~self.may_resign & (self.would_resign < 0)
        self.would_resign = torch.where(first, self.state.current_player, self.would_resign)
        return hopeless & self.may_resign

    def _opening_lengths(self, n: int, device: torch.device) -> torch.Tensor:
        k = torch.randint(self.cfg.random_opening + 1, (n,), generator=self.generator, device=self.generator.device)
        return k.to(device)

    def _may_resign(self, n: int, device: torch.device) -> torch.Tensor:
        u = torch.rand(n, generator=self.generator, device=self.generator.device)
        return (u >= self.cfg.resign_playout).to(device)

    def _collect(self, done: torch.Tensor, resigned: torch.Tensor, mover: torch.Tensor) -> FinishedGames:
        """The finished games' samples: ``resigned`` games (``mover`` resigned) are lost by
        that side and carry no ownership or score targets."""
        loser = mover[done]
        resigned_here = resigned[done]
        lost = torch.stack([1.0 - 2.0 * (loser == 0).float(), 1.0 - 2.0 * (loser == 1).float()], dim=1)
        outcomes = torch.where(resigned_here[:, None], lost, self.state.rewards[done])  # (G, 2)
        lengths = self.length[done]
        steps = torch.arange(self.obs.shape[1], device=done.device)
        kept = steps[None, :] < lengths[:, None]  # (G, T)
        player = self.player[done]
        z = outcomes.gather(1, player)  # (G, T): outcome for the player to move at each step
        sign = (1 - 2 * player).float()  # (G, T): +1 where black moved
        ended = core.state_rows(self.state, done.nonzero()[:, 0])  # the finished games' last positions
        owner, margin = self._final_owner(ended)  # black's view, (G, P) and (G,)
        P = self.obs.shape[3] * self.obs.shape[4]
        ownership = (owner[:, None, :] * sign[:, :, None]).to(torch.int8)  # (G, T, P)
        score = margin[:, None] * sign / P
        aux = (~resigned_here).float()[:, None].expand_as(z) * float(self._has_owner())
        samples = Samples(self.obs[done][kept], self.policy[done][kept], z[kept], ownership[kept], score[kept],
                          self.full[done][kept].float(), aux[kept])
        actions = [row[:n].tolist() for row, n in zip(self.actions[done], self.moves[done].tolist())]
        seat = self.would_resign[done]
        checks = seat >= 0
        wrong = checks & (outcomes.gather(1, seat.clamp(min=0)[:, None])[:, 0] >= 0)
        return FinishedGames(samples, outcomes, actions, lengths, resigned_here, checks, wrong,
                             self._results(ended, resigned_here, loser))

    def _results(self, ended: Any, resigned: torch.Tensor, loser: torch.Tensor) -> tuple[str, ...]:
        """The finished games' result texts: the game's own, or ``B+R`` (the winner's initial)
        for a resignation."""
        return tuple(f"{self.game.seat_names[1 - int(lost)][0].upper()}+R" if bool(gave_up)
                     else self.game.result_text(ended, g)
                     for g, (gave_up, lost) in enumerate(zip(resigned.tolist(), loser.tolist())))

    def _has_owner(self) -> bool:
        return hasattr(self.game, "ownership")

    def _final_owner(self, ended: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``ended`` boards' owners float [G, P] and margins float [G] (black's view; zeros
        for games without territory, such as tic-tac-toe)."""
        G, P, dev = ended.terminated.shape[0], self.obs.shape[3] * self.obs.shape[4], ended.terminated.device
        if not self._has_owner() or G == 0:
            return torch.zeros(G, P, device=dev), torch.zeros(G, device=dev)
        owner = self.game.ownership(ended).float()
        return owner, owner.sum(1) - self.game.komi  # area scoring: black's area - white's - komi


class _Searched(NamedTuple):
    """What self-play reads of a search (both halves of a playout-capped one, merged)."""

    action: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor


class PositionBuffer:
    """A ring of the last ``capacity`` samples (tensors on ``device``), every target of
    :class:`Samples` included."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int, device: torch.device) -> None:
        points = obs_shape[1] * obs_shape[2]
        self.data = Samples(torch.zeros(capacity, *obs_shape, dtype=torch.uint8, device=device),
                            torch.zeros(capacity, num_actions, device=device), torch.zeros(capacity, device=device),
                            torch.zeros(capacity, points, dtype=torch.int8, device=device),
                            torch.zeros(capacity, device=device), torch.zeros(capacity, device=device),
                            torch.zeros(capacity, device=device))
        self.capacity, self.size, self.next = capacity, 0, 0

    @property
    def value(self) -> torch.Tensor:
        return self.data.value

    def add(self, samples: Samples) -> None:
        samples = samples.filled()
        n = min(len(samples.value), self.capacity)
        idx = (self.next + torch.arange(n, device=self.value.device)) % self.capacity
        for store, new in zip(self.data, samples):
            store[idx] = new[-n:].to(store)
        self.next = (self.next + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch: int, generator: torch.Generator) -> Samples:
        idx = torch.randint(self.size, (batch,), generator=generator, device=generator.device)
        idx = idx.to(self.value.device)
        return Samples(*(store[idx] for store in self.data))

    def tensors(self) -> dict[str, torch.Tensor]:
        """The filled part, oldest first, for checkpoints (``load`` restores it)."""
        order = (self.next - self.size + torch.arange(self.size, device=self.value.device)) % self.capacity
        return {name: store[order] for name, store in zip(Samples._fields, self.data)}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`tensors` (a checkpoint from before the auxiliary targets fills their defaults)."""
        self.size = self.next = 0
        self.add(Samples(*(tensors.get(name) for name in Samples._fields)))


class Losses(NamedTuple):
    policy: float
    value: float
    ownership: float = 0.0
    score: float = 0.0


def loss_terms(logits: torch.Tensor, value: torch.Tensor, target_policy: torch.Tensor,
               target_value: torch.Tensor, policy_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy cross-entropy against the search policy (averaged over the positions whose
    ``policy_weight`` is 1: full searches) and value MSE against the outcome."""
    cross_entropy = -(target_policy * F.log_softmax(logits, dim=-1)).sum(-1)
    if policy_weight is None:
        policy_loss = cross_entropy.mean()
    else:
        policy_loss = (cross_entropy * policy_weight).sum() / policy_weight.sum().clamp(min=1.0)
    return policy_loss, F.mse_loss(value, target_value)


def aux_loss_terms(ownership_logits: torch.Tensor, score: torch.Tensor, batch: Samples) -> tuple[torch.Tensor, torch.Tensor]:
    """Ownership binary cross-entropy (``tanh`` of the logits is the owner in [-1, 1]: the
    target ``(o + 1) / 2`` against ``sigmoid(2 x)``, averaged over the points) and score MSE,
    both over the positions whose final board is known (``aux_weight``)."""
    target = (batch.ownership.float() + 1.0) / 2.0
    per_point = F.binary_cross_entropy_with_logits(2.0 * ownership_logits, target, reduction="none")
    known = batch.aux_weight.sum().clamp(min=1.0)
    ownership_loss = (per_point.mean(-1) * batch.aux_weight).sum() / known
    score_loss = ((score - batch.score) ** 2 * batch.aux_weight).sum() / known
    return ownership_loss, score_loss


def random_symmetries(batch: Samples, board_size: int, generator: torch.Generator) -> Samples:
    """Each sample seen through a random one of the square's 8 symmetries (planes, policy and
    ownership permuted together: one gather each)."""
    N, A = len(batch.value), batch.policy.shape[1]
    dev = batch.value.device
    k = torch.randint(core.NUM_SYMMETRIES, (N,), generator=generator, device=generator.device).to(dev)
    cells = _symmetry_table(board_size, A, dev)  # (8, A)
    policy = batch.policy.gather(1, cells[k])
    c, P = batch.obs.shape[1], board_size * board_size
    pixels = cells[k][:, None, :P].expand(N, c, -1)
    obs = batch.obs.flatten(2).gather(2, pixels).view_as(batch.obs)
    ownership = None if batch.ownership is None else batch.ownership.gather(1, cells[k][:, :P])
    return batch._replace(obs=obs, policy=policy, ownership=ownership)


@functools.lru_cache(maxsize=16)
def _symmetry_table(board_size: int, num_actions: int, device: torch.device) -> torch.Tensor:
    """Long ``[8, A]``: the action permutation of each symmetry (built once per board and device)."""
    return torch.stack([core.action_permutation(board_size, s, num_actions, device)
                        for s in range(core.NUM_SYMMETRIES)])


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, buffer: PositionBuffer, cfg: AlphaZeroConfig,
               board_size: int, generator: torch.Generator, rows: int | None = None, weight: float = 1.0) -> Losses:
    """One gradient step on a batch of ``cfg.batch_size`` positions sampled from ``buffer``
    (under data parallelism: this process's ``rows`` of the global batch, see :func:`learn`)."""
    batch = buffer.sample(cfg.batch_size if rows is None else rows, generator)
    if cfg.augment:
        batch = random_symmetries(batch, board_size, generator)
    return learn(net, optimizer, batch, weight, cfg.ownership_weight, cfg.score_weight)


def learn(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Samples, weight: float = 1.0,
          ownership_weight: float = 0.0, score_weight: float = 0.0) -> Losses:
    """One optimizer step on policy cross-entropy + value MSE of ``batch`` (+ the weighted
    ownership and score losses when the weights are set: a global pooling network's heads).

    Under DistributedDataParallel each process passes its shard of the global batch and the
    shard's ``weight`` (nets.distributed.shard); the averaged gradient is then the whole
    batch's. The losses returned are this batch's (the shard's).
    """
    net.train()
    out = net(batch.obs.float())
    policy_loss, value_loss = loss_terms(out[0], out[1], batch.policy, batch.value, batch.policy_weight)
    total = policy_loss + value_loss
    ownership_loss = score_loss = torch.zeros(())
    if ownership_weight or score_weight:
        ownership_loss, score_loss = aux_loss_terms(out.ownership, out.score, batch.filled())
        total = total + ownership_weight * ownership_loss + score_weight * score_loss
    optimizer.zero_grad(set_to_none=True)
    (total * weight).backward()
    optimizer.step()
    net.eval()
    return Losses(policy_loss.item(), value_loss.item(), ownership_loss.item(), score_loss.item())


def make_optimizer(net: torch.nn.Module, cfg: AlphaZeroConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def search_actions(game: Game, net: torch.nn.Module, state: Any, cfg: MCTSConfig) -> torch.Tensor:
    """The agent's move in every game of ``state`` (search without exploration)."""
    return search(game, state, network_evaluator(game, net, cfg.score_utility), cfg, explore=False).action


def _max_length(game: Game) -> int:
    return getattr(game, "max_moves", game.num_actions)
