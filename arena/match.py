"""Playing bots against each other, one game at a time (B=1), for demos and people.

A bot is any callable ``bot(game, state) -> long [B]`` that picks a legal action per game;
the same rules serve every caller (STYLE.md rule 12: players are callables, the arena swaps
seats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch

from envs import core

Bot = Callable[[Any, Any], torch.Tensor]


def random_bot(generator: torch.Generator | None = None) -> Bot:
    """A bot playing uniformly random legal moves."""
    return lambda game, state: core.random_actions(state, generator)


def minimax_bot(seed: int = 0) -> Bot:
    """Perfect tic-tac-toe play (random among optimal moves), from the exact solver."""
    import random

    from envs.tictactoe_solver import minimax_actions

    rng = random.Random(seed)
    return lambda game, state: minimax_actions(state, rng)


def make_bot(name: str, game: Any, seed: int = 0) -> Bot:
    """A bot by name: ``random``, or ``minimax`` (tic-tac-toe only)."""
    if name == "random":
        return random_bot(torch.Generator().manual_seed(seed))
    if name == "minimax":
        if game.name != "tictactoe":
            raise ValueError(f"minimax is tic-tac-toe only; for {game.name} use: random")
        return minimax_bot(seed)
    raise ValueError(f"unknown bot {name!r}; choose random or minimax")


class MatchResult(NamedTuple):
    """A match from the first bot's point of view."""

    wins: int
    draws: int
    losses: int

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / max(self.games, 1)


def play_match(game: Any, bots: tuple[Bot, Bot], games: int, device: torch.device | str | None = None) -> MatchResult:
    """``games`` games in lockstep (one batch): ``bots[0]`` moves first in the first half of
    them and second in the rest. Each bot is called once per move on the whole batch; the
    move of the bot whose turn it is is kept per game."""
    state = game.init(games, device)
    seat_a = (torch.arange(games, device=state.current_player.device) >= (games + 1) // 2).long()  # bots[0]'s player
    outcome = torch.zeros(games, 2, device=state.rewards.device)
    while not bool(state.terminated.all()):
        a_turn = state.current_player == seat_a
        action = torch.where(a_turn, bots[0](game, state), bots[1](game, state))
        state = game.step(state, action, checked=False)
        outcome = outcome + state.rewards  # finished games are frozen with zero rewards
    mine = outcome.gather(1, seat_a[:, None])[:, 0]
    return MatchResult(int((mine > 0).sum()), int((mine == 0).sum()), int((mine < 0).sum()))


def play_game(game: Any, bots: tuple[Bot, Bot]) -> Iterator[tuple[Any, int | None]]:
    """Play one game, yielding ``(state, action that led to it)``; the first has no action.

    ``bots[0]`` moves first. The final yielded state is terminal; its ``rewards`` are the
    returns (one per player).
    """
    state = game.init(1)
    yield state, None
    while not bool(state.terminated[0]):
        action = bots[int(state.current_player[0])](game, state)
        state = game.step(state, action)
        yield state, int(action[0])
