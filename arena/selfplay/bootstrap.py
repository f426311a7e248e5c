"""``arena train go --bootstrap gnugo``: a first stage of supervised learning from GNU Go's
games (as AlphaGo learned from human games before self-play), labelled as such.

GNU Go plays itself over GTP (arena/go/gnugo.py) at varied levels, each game opening with a few
uniformly random moves (not learned from) so the games differ; several GNU Go processes run
at once. Every position GNU Go moved in becomes a training sample like a self-play one: the
observation, a one-hot policy on GNU Go's move, the final outcome for the mover, and, for games
that ended by two passes, the final Tromp-Taylor owner of each point and the score margin
(GNU Go runs with ``--capture-all-dead``, so its finished boards score honestly). The network
trains on them for a few epochs before self-play takes over (arena/selfplay/alphazero.py).

The run's counters say how many GNU Go games the network saw (``bootstrap_games``: 0 for a
pure self-play, "zero", network), and so do its checkpoints' sidecars.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from agents.alphazero import Samples
from arena.go.gnugo import GtpClient, GtpEngineError, find_gnugo, gnugo_command
from envs.core import Game

MISSING = "--bootstrap gnugo needs GNU Go: install it with `apt-get install gnugo` (or put gnugo on PATH)"


@dataclass(frozen=True)
class BootstrapConfig:
    """How many GNU Go games, how varied, and how long to learn from them."""

    games: int = 400
    """GNU Go self-play games to learn from."""
    levels: tuple[int, ...] = (1, 3, 5, 8, 10)
    """GNU Go levels, one drawn per game (both colours play at it)."""
    random_opening: int = 4
    """Each game opens with 0..this many uniformly random moves, not learned from."""
    processes: int = 2
    """GNU Go processes at once (one game each)."""
    epochs: float = 4.0
    """Passes over the GNU Go positions (in batches of the run's ``batch_size``) before self-play."""


@dataclass(frozen=True)
class ExpertGame:
    """One GNU Go game: every move, how many opened it at random, and who resigned (-1: nobody)."""

    moves: tuple[int, ...]
    opening: int
    resigned: int
    level: int


def play_expert_game(game: Game, level: int, opening: int, seed: int, gnugo: str | None = None) -> ExpertGame:
    """GNU Go against itself on ``game`` (a Go instance: size, komi, move cap) from the empty
    board, after ``opening`` random legal moves."""
    from envs.core import random_actions

    colours = ("black", "white")
    generator = torch.Generator().manual_seed(seed)
    state, moves, resigned = game.init(1), [], -1
    with GtpClient(gnugo_command(game.board_size, game.komi, level, gnugo, seed)) as client:
        client.send(f"boardsize {game.board_size}")
        client.send(f"komi {game.komi:g}")
        client.send("clear_board")
        while not bool(state.terminated[0]):
            to_move = int(state.current_player[0])
            if len(moves) < opening:
                action = int(random_actions(state, generator)[0])
                client.send(f"play {colours[to_move]} {game.action_to_string(action)}")
            else:
                reply = client.send(f"genmove {colours[to_move]}").strip()
                if reply.lower() == "resign":
                    resigned = to_move
                    break
                action = game.string_to_action(reply)
            state = game.step(state, torch.tensor([action]))
            moves.append(action)
    return ExpertGame(tuple(moves), opening, resigned, level)


def expert_samples(game: Game, played: ExpertGame) -> Samples:
    """The positions GNU Go moved in as training samples (see the module docstring)."""
    state = game.init(1)
    obs, policy, player = [], [], []
    for t, action in enumerate(played.moves):
        if t >= played.opening:
            obs.append(game.observe(state)[0].to(torch.uint8))
            target = torch.zeros(game.num_actions)
            target[action] = 1.0
            policy.append(target)
            player.append(int(state.current_player[0]))
        state = game.step(state, torch.tensor([action]))
    n, P = len(obs), game.num_points
    if n == 0:
        return Samples(torch.zeros(0, *game.observation_shape, dtype=torch.uint8), torch.zeros(0, game.num_actions),
                       torch.zeros(0), torch.zeros(0, P, dtype=torch.int8), torch.zeros(0), torch.zeros(0), torch.zeros(0))
    sign = 1.0 - 2.0 * torch.tensor(player, dtype=torch.float32)  # +1 where black moved
    if played.resigned >= 0:  # the resigning side lost; the board was not played out
        black = -1.0 if played.resigned == 0 else 1.0
        owner, margin, known = torch.zeros(P), 0.0, 0.0
    else:
        owner = game.ownership(state)[0].float()
        margin = float(owner.sum()) - game.komi
        black = float((margin > 0) - (margin < 0))
        known = 1.0
    return Samples(torch.stack(obs), torch.stack(policy), black * sign, (sign[:, None] * owner).to(torch.int8),
                   sign * margin / P, torch.ones(n), torch.full((n,), known))


def gnugo_dataset(game: Game, cfg: BootstrapConfig, seed: int = 0,
                  progress: Callable[[int], None] | None = None) -> tuple[Samples, list[ExpertGame]]:
    """``cfg.games`` GNU Go games on ``game``, ``cfg.processes`` at a time, as one batch of
    samples; ``progress(games_done)`` after each game. Raises :class:`GtpEngineError` naming
    ``apt-get install gnugo`` when GNU Go is missing."""
    path = find_gnugo()
    if path is None:
        raise GtpEngineError(MISSING)
    rng = random.Random(seed)
    plans = [(rng.choice(cfg.levels), rng.randint(0, cfg.random_opening), seed * 100_003 + g) for g in range(cfg.games)]
    played: list[ExpertGame] = []
    with ThreadPoolExecutor(max(1, cfg.processes)) as pool:  # each thread waits on its own GNU Go process
        for result in pool.map(lambda p: play_expert_game(game, p[0], p[1], p[2], path), plans):
            played.append(result)
            if progress is not None:
                progress(len(played))
    parts = [expert_samples(game, g) for g in played]
    return Samples(*(torch.cat([p[k] for p in parts]) for k in range(len(Samples._fields)))), played
