"""The round robin behind ``arena tournament`` (arena/commands/tournament.py): every pair of
players, win/draw/loss tables and Elo.

Every pair of players plays ``--games`` games, half with each colour (the arena swaps seats,
STYLE.md rule 12), all pairs in one batch (:func:`arena.bots.match.play_matches`: each player
is asked once per move, for all its games). All the results
are then fitted at once into Elo ratings (:func:`arena.bots.elo.fit_elo`: Bradley-Terry maximum
likelihood, draws as half wins), anchored so ``random`` (or ``--anchor``) is 0, with 95%
intervals from the fit's Fisher information (:func:`arena.bots.elo.elo_intervals`). Results are
also split by colour (W/D/L moving first and moving second). The tables, the rating chart and
the replays are made here; ``arena match`` shares the pieces it needs for two players.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch

from arena.bots.elo import PairResult, elo_intervals, fit_elo
from arena.bots.match import Bot, ColourResults, MatchRecord, MatchResult, play_matches
from envs.core import Game

CONFIDENCE = 0.95
"""Coverage of the Elo intervals printed and written."""


class Standing(NamedTuple):
    """One player's totals over the whole tournament."""

    player: str
    wins: int
    draws: int
    losses: int
    elo: float
    ci: float = 0.0
    """Half-width of the rating's 95% interval (0 for the anchor)."""

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / max(self.wins + self.draws + self.losses, 1)


@dataclass(frozen=True)
class TournamentResult:
    """What a round robin gave: every pair's match and the fitted ratings."""

    players: tuple[str, ...]
    """Display names, in the order given."""
    matches: tuple[PairResult, ...]
    """One per pair, from the first-named player's side."""
    ratings: dict[str, float]
    """Elo per player."""
    anchor: str | None
    """Player rated 0 (``None``: the mean is 0)."""
    by_colour: tuple[ColourResults, ...] = ()
    """Per match (as ``matches``): the first-named player's W/D/L moving first and second."""
    intervals: dict[str, float] = field(default_factory=dict)
    """Half-width of each rating's 95% interval (:func:`arena.bots.elo.elo_intervals`)."""
    records: tuple[MatchRecord, ...] = field(default=(), repr=False)
    """Per match (as ``matches``): every game's moves, for replays (not in :meth:`to_json`)."""

    def standings(self) -> list[Standing]:
        """Totals per player, best rating first."""
        totals = {name: [0, 0, 0] for name in self.players}
        for m in self.matches:
            for name, (w, d, l) in ((m.player, (m.wins, m.draws, m.losses)), (m.opponent, (m.losses, m.draws, m.wins))):
                totals[name] = [totals[name][0] + w, totals[name][1] + d, totals[name][2] + l]
        rows = [Standing(name, *totals[name], self.ratings[name], self.intervals.get(name, 0.0))
                for name in self.players]
        return sorted(rows, key=lambda s: -s.elo)

    def _distinct(self) -> list[dict[str, int]]:
        """Per match, ``{"distinct_games": n}`` (empty dicts without records)."""
        if not self.records:
            return [{} for _ in self.matches]
        return [{"distinct_games": r.distinct_games} for r in self.records]

    def to_json(self) -> dict[str, Any]:
        return {
            "players": list(self.players), "anchor": self.anchor,
            "confidence": CONFIDENCE,
            "matches": [{**m._asdict(), **colour_json(c), **distinct}
                        for m, c, distinct in zip(self.matches, self.by_colour, self._distinct())]
            if self.by_colour else [m._asdict() for m in self.matches],
            "standings": [{**s._asdict(), "score": round(s.score, 4), "elo": round(s.elo, 1), "ci": round(s.ci, 1)}
                          for s in self.standings()],
        }


def round_robin(game: Game, bots: dict[str, Bot], games: int, device: torch.device | str | None = None,
                anchor: str | None = None, opening: int = 0, seed: int = 0,
                progress: str | None = None) -> TournamentResult:
    """Every pair of ``bots`` plays ``games`` games (half with each colour), then one Elo fit.

    ``anchor`` is rated 0 (``None``: the mean rating is 0). ``opening`` > 0 starts every game
    with that many random moves, the same ones for both colours and every pair
    (:func:`arena.bots.match.play_matches`), so deterministic players play different games.
    ``progress`` labels a progress bar of finished games (None: no bar).
    Raises ``ValueError`` for fewer than 2 players or 2 games per pair.
    """
    if len(bots) < 2:
        raise ValueError(f"a tournament needs at least 2 players, got {len(bots)}")
    if games < 2:
        raise ValueError(f"--games must be at least 2 (one with each colour), got {games}")
    pairs = list(itertools.combinations(bots, 2))
    # Every pair's games in one batch: each player searches all its games at once each move.
    records = play_matches(game, [(bots[a], bots[b]) for a, b in pairs], games, device, opening, seed,
                           progress)
    matches = [PairResult(a, b, *record.result) for (a, b), record in zip(pairs, records)]
    ratings = fit_elo(matches, anchor=anchor)
    intervals = elo_intervals(matches, ratings, anchor, confidence=CONFIDENCE)
    return TournamentResult(tuple(bots), tuple(matches), ratings, anchor, tuple(r.by_colour for r in records),
                            intervals, tuple(records))


def colour_json(split: ColourResults) -> dict[str, dict[str, int]]:
    """``{"first": {"wins", "draws", "losses"}, "second": {...}}`` for results.json."""
    return {"first": split.first._asdict(), "second": split.second._asdict()}


def write_replays(directory: Path, game: Game, config: dict[str, Any], names: tuple[str, str],
                  record: MatchRecord) -> list[Path]:
    """Every game of ``record`` (``names[0]`` is its first bot) as an arena JSON replay
    ``<directory>/<a>-vs-<b>-<k>.json`` whose players are in seat order; returns the paths."""
    from arena.io.replays import Replay, save_replay

    stem = "-vs-".join(re.sub(r"[^A-Za-z0-9._+-]", "_", n) for n in names)
    paths = []
    for k, (seat, moves, text) in enumerate(zip(record.seats, record.moves, record.results)):
        players = names if seat == 0 else (names[1], names[0])
        replay = Replay(game.name, dict(config), players, moves, text)
        paths.append(save_replay(replay, directory / f"{stem}-{k + 1:03d}.json"))
    return paths


def display_names(specs: tuple[str, ...] | list[str]) -> list[str]:
    """A short unique name per player spec: a path becomes its last part (the run folder or
    the checkpoint file), and repeats get ``#2``, ``#3``..."""
    names: list[str] = []
    for spec in specs:
        base = Path(spec).name if ("/" in spec or spec.endswith(".safetensors")) else spec
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}#{k}"
        names.append(name)
    return names


def player_bot(player: Any) -> Bot:
    """A batched bot from an :class:`arena.bots.players.Player`: its own bot (``random``,
    ``minimax``), one batched search over all games (``mcts``, networks), or else one
    ``act`` per unfinished game."""
    if hasattr(player, "bot"):
        return player.bot
    if hasattr(player, "evaluate") and hasattr(player, "cfg"):
        from agents.mcts import search

        return lambda game, state: search(game, state, player.evaluate, player.cfg).action

    def one_at_a_time(game: Game, state: Any) -> torch.Tensor:
        from envs.core import state_rows

        done = state.terminated.tolist()
        moves = [0 if d else player.act(game, state_rows(state, slice(i, i + 1)))[0] for i, d in enumerate(done)]
        return torch.tensor(moves, dtype=torch.long, device=state.terminated.device)

    return one_at_a_time


def format_colours(pairs: list[tuple[str, str]], splits: tuple[ColourResults, ...] | list[ColourResults]) -> list[str]:
    """One line per pair: the first player's W-D-L when it moved first and when it moved second."""
    width = max([len(f"{a} vs {b}") for a, b in pairs] + [10]) + 2
    lines = ["by colour (first-named player's wins-draws-losses; first = X / black):",
             f"{'pair'.ljust(width)}{'moving first':>14}{'moving second':>15}"]
    for (a, b), c in zip(pairs, splits):
        lines.append(f"{f'{a} vs {b}'.ljust(width)}{_wdl(c.first):>14}{_wdl(c.second):>15}")
    return lines


def format_tables(result: TournamentResult) -> str:
    """The pairwise table (row player's wins-draws-losses against each column player), the
    same split by colour, and the standings with Elo +- its 95% interval, as text."""
    names = list(result.players)
    cell: dict[tuple[str, str], str] = {}
    for m in result.matches:
        cell[m.player, m.opponent] = f"{m.wins}-{m.draws}-{m.losses}"
        cell[m.opponent, m.player] = f"{m.losses}-{m.draws}-{m.wins}"
    width = max(12, *(len(n) + 2 for n in names))
    lines = ["results (row player's wins-draws-losses against each column):",
             " " * width + "".join(n.rjust(width) for n in names)]
    for a in names:
        lines.append(a.ljust(width) + "".join(cell.get((a, b), "-").rjust(width) for b in names))
    if result.by_colour:
        lines += [""] + format_colours([(m.player, m.opponent) for m in result.matches], result.by_colour)
    anchor = f"{result.anchor} = 0" if result.anchor else "mean = 0"
    lines += ["", f"Elo ({anchor}) +- its {CONFIDENCE:.0%} interval:",
              f"{'player'.ljust(width)}{'elo':>8}{'+-':>6}{'W':>7}{'D':>7}{'L':>7}{'score':>8}"]
    for s in result.standings():
        lines.append(f"{s.player.ljust(width)}{s.elo:8.0f}{s.ci:6.0f}{s.wins:7d}{s.draws:7d}{s.losses:7d}{s.score:8.3f}")
    repeated = [r for r in result.records if r.distinct_games < len(r.moves)]
    if repeated:
        distinct = sum(r.distinct_games for r in repeated)
        total = sum(len(r.moves) for r in repeated)
        lines += ["", f"note: {len(repeated)} of {len(result.matches)} pairs repeated games ({distinct} distinct of "
                  f"{total}): players without randomness replay the same game, and the Elo intervals count "
                  f"every game, so they are too narrow (--opening N starts the games from N random moves)"]
    return "\n".join(lines)


def plot_ratings(path: Path, result: TournamentResult, title: str = "") -> Path:
    """A horizontal bar chart of the ratings, best at the top."""
    from arena.io.runs import plt, save_figure  # the Agg backend, chosen there

    rows = result.standings()[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(rows) + 1.2))
    ax.barh([s.player for s in rows], [s.elo for s in rows], xerr=[s.ci for s in rows], capsize=3, color="#4a7ab5")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"Elo ({result.anchor} = 0)" if result.anchor else "Elo (mean = 0)")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def _wdl(r: MatchResult) -> str:
    return f"{r.wins}-{r.draws}-{r.losses}"
