"""Playing bots against each other, one game at a time (B=1), for demos and people.

A bot is any callable ``bot(game, state) -> long [B]`` that picks a legal action per game;
the same rules serve every caller (STYLE.md rule 12: players are callables, the arena swaps
seats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from envs import core
from envs.core import Game

Bot = Callable[[Any, Any], torch.Tensor]


def random_bot(generator: torch.Generator | None = None) -> Bot:
    """A bot playing uniformly random legal moves."""
    return lambda game, state: core.random_actions(state, generator)


def minimax_bot(seed: int = 0) -> Bot:
    """Perfect play in a solved game (tic-tac-toe; random among optimal moves), from the
    game's exact solver (``game.spec.solver``)."""
    import random

    rng = random.Random(seed)
    return lambda game, state: game.spec.solver.actions(state, rng)


def make_bot(name: str, game: Game, seed: int = 0) -> Bot:
    """A bot by name: ``random``, or ``minimax`` (a solved game's perfect player: tic-tac-toe)."""
    if name == "random":
        return random_bot(torch.Generator().manual_seed(seed))
    if name == "minimax":
        if game.spec.solver is None:
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


class ColourResults(NamedTuple):
    """A match split by colour, from the first bot's point of view."""

    first: MatchResult
    """Games it moved first (X, black)."""
    second: MatchResult
    """Games it moved second (O, white)."""

    @property
    def total(self) -> MatchResult:
        return MatchResult(*(x + y for x, y in zip(self.first, self.second)))


def colour_results(seats: Sequence[int], outcomes: Sequence[int]) -> ColourResults:
    """Tally ``outcomes`` (+1 win, 0 draw, -1 loss per game) by ``seats`` (0: moved first)."""
    tallies = []
    for seat in (0, 1):
        mine = [o for s, o in zip(seats, outcomes) if s == seat]
        tallies.append(MatchResult(mine.count(1), mine.count(0), mine.count(-1)))
    return ColourResults(*tallies)


@dataclass(frozen=True)
class MatchRecord:
    """Every game of a match, from the first bot's point of view (one entry per game)."""

    seats: tuple[int, ...]
    """The first bot's seat per game: 0 moved first (X, black), 1 second."""
    outcomes: tuple[int, ...]
    """+1 the first bot won, 0 draw, -1 it lost."""
    moves: tuple[tuple[int, ...], ...]
    """Each game's actions in order (passes included): enough to replay it."""
    results: tuple[str, ...]
    """Each game's result as replays write it: ``X wins``, ``draw``, ``B+3.5``..."""

    @property
    def result(self) -> MatchResult:
        return self.by_colour.total

    @property
    def by_colour(self) -> ColourResults:
        return colour_results(self.seats, self.outcomes)

    @property
    def distinct_games(self) -> int:
        """How many games differ (seat and moves): players without randomness repeat one game per
        colour, and the repeats add no evidence."""
        return len(set(zip(self.seats, self.moves)))


def play_match(game: Game, bots: tuple[Bot, Bot], games: int, device: torch.device | str | None = None,
               opening: int = 0, seed: int = 0) -> MatchResult:
    """``games`` games in lockstep (one batch): ``bots[0]`` moves first in the first half of
    them and second in the rest. Each bot is called once per move on the whole batch; the
    move of the bot whose turn it is is kept per game. ``opening`` > 0 starts the games from
    random positions (:func:`play_matches`). Returns the totals from ``bots[0]``'s side
    (:func:`play_match_record` keeps every game and the split by colour)."""
    return play_match_record(game, bots, games, device, opening, seed).result


def play_match_record(game: Game, bots: tuple[Bot, Bot], games: int, device: torch.device | str | None = None,
                      opening: int = 0, seed: int = 0, progress: str | None = None) -> MatchRecord:
    """:func:`play_match`, keeping each game's seat, outcome, actions and result text.

    The same games as :func:`play_match`. A separate function rather than a ``record=`` flag
    so each returns one type. ``progress`` labels a progress bar (:func:`play_matches`).
    """
    return play_matches(game, [bots], games, device, opening, seed, progress)[0]


def play_matches(game: Game, pairings: Sequence[tuple[Bot, Bot]], games: int,
                 device: torch.device | str | None = None, opening: int = 0, seed: int = 0,
                 progress: str | None = None) -> list[MatchRecord]:
    """Several matches of ``games`` games each, all in one batch of ``len(pairings) * games``.

    In each match the pairing's first bot moves first in the first half of its games and
    second in the rest. Every move, each distinct bot (the same object in several pairings
    counts once) is called once, on the unfinished games where it is to move and only those
    (``envs.core.state_rows``): a search bot searches half the batch, not all of it, and one
    call serves all its matches. Returns one :class:`MatchRecord` per pairing, from its first
    bot's point of view.

    ``opening`` > 0: the first ``opening`` moves of every game are uniformly random legal moves
    (not a pass where another move is legal), played for neither bot and drawn from ``seed``.
    Game ``k`` of a match and game ``k + (games + 1) // 2``, where the bots have swapped colours,
    open with the same moves, and every match gets the same openings: deterministic players
    (searches without noise) then play ``games`` different games instead of repeating one per
    colour, and no colour or pairing gets the easier openings.

    ``progress``: the label of a progress bar of finished games (on stderr; None: no bar).
    """
    n = len(pairings) * games
    state = game.init(n, device)
    dev = state.current_player.device
    within = torch.arange(n, device=dev) % games
    match = torch.arange(n, device=dev) // games
    half = (games + 1) // 2
    seat_a = (within >= half).long()  # each pairing's first bot's player
    if opening < 0:
        raise ValueError(f"opening must be >= 0 random moves, got {opening}")
    noise = torch.rand(half, opening, game.num_actions, generator=torch.Generator().manual_seed(seed)).to(dev)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=progress, unit="game", dynamic_ncols=True, leave=False)
    bots = list({id(b): b for pair in pairings for b in pair}.values())
    owner = torch.tensor([[bots.index(b) for b in pair] for pair in pairings], device=dev)  # (P, 2)
    outcome = torch.zeros(n, 2, device=state.rewards.device)
    actions, alive = [], []  # per move: long [n], bool [n] (the game was still going)
    while not bool(state.terminated.all()):
        ply = len(actions)
        if ply < opening:
            action = opening_moves(game, state, noise[within % half, ply])
        else:
            mover = owner[match, (state.current_player != seat_a).long()]  # index into bots, per game
            action = torch.zeros(n, dtype=torch.long, device=dev)
            for i, bot in enumerate(bots):
                rows = ((mover == i) & ~state.terminated).nonzero()[:, 0]
                if len(rows):
                    action[rows] = bot(game, core.state_rows(state, rows))
        actions.append(action)
        alive.append(~state.terminated)
        state = game.step(state, action, checked=False)
        if hasattr(game, "make_room"):  # an uncapped Go game's superko history grows as it fills
            state = game.make_room(state)
        outcome = outcome + state.rewards  # finished games are frozen with zero rewards
        if bar is not None:
            bar.update(int(state.terminated.sum()) - bar.n)
    if bar is not None:
        bar.close()
    mine = torch.sign(outcome.gather(1, seat_a[:, None])[:, 0]).long().tolist()
    moves: list[list[int]] = [[] for _ in range(n)]
    if actions:
        played = torch.stack(alive).T.tolist()  # (n, T)
        for g, (row, keep) in enumerate(zip(torch.stack(actions).T.tolist(), played)):
            moves[g] = [a for a, k in zip(row, keep) if k]
    texts, seats = _result_texts(game, state, outcome), seat_a.tolist()
    return [MatchRecord(tuple(seats[k:k + games]), tuple(mine[k:k + games]),
                        tuple(tuple(m) for m in moves[k:k + games]), texts[k:k + games])
            for k in range(0, n, games)]


def opening_moves(game: Game, state: Any, noise: torch.Tensor) -> torch.Tensor:
    """long [B]: the legal move with the largest ``noise [B, A]`` (uniformly random for i.i.d.
    noise, and the same move in equal positions given equal noise), a pass only where nothing
    else is legal."""
    legal = state.legal_action_mask
    pass_action = getattr(game, "pass_action", None)
    if pass_action is not None:
        moves = legal.clone()
        moves[:, pass_action] = False
        legal = torch.where(moves.any(1, keepdim=True), moves, legal)
    return torch.where(legal, noise, -1.0).argmax(1)


def play_game(game: Game, bots: tuple[Bot, Bot]) -> Iterator[tuple[Any, int | None]]:
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


def _result_texts(game: Game, state: Any, outcome: torch.Tensor) -> tuple[str, ...]:
    """Per game of a finished batch, its result as the game writes it (``game.result_text``:
    ``B+3.5`` / ``W+0.5`` / ``draw`` for Go, ``X wins`` / ``O wins`` / ``draw`` for
    tic-tac-toe). ``outcome`` ``[B, 2]`` holds the returns, for a game without its own text."""
    if hasattr(game, "result_text"):
        return tuple(game.result_text(state, g) or "unfinished" for g in range(len(outcome)))
    return tuple("draw" if r0 == r1 else ("first player wins" if r0 > r1 else "second player wins")
                 for r0, r1 in outcome.tolist())
