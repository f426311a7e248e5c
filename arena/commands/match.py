"""``arena match a b``: two players, colours alternating, with the same outputs as a tournament.

The two-player case of :mod:`arena.bots.tournament`: one batched :func:`arena.bots.match.play_match_record`
(``a`` moves first in the first half of the games), the W/D/L overall and by colour, the Elo
difference ``a - b`` with its 95% interval (:func:`arena.bots.elo.fit_elo` anchored at ``b``, and
:func:`arena.bots.elo.elo_intervals`), and every game as a replay. For Go, ``b`` may be GNU Go
(``gnugo`` or ``gnugo:LEVEL``): those games are played one at a time over GTP by
:func:`arena.go.gnugo.play_gnugo`. Writes ``config.json``, ``results.json`` and ``replays/`` into
a run folder (``runs/match-<game>-<time>``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import tyro

from envs import GameId

from arena.bots.elo import PairResult, elo_intervals, fit_elo
from arena.bots.match import ColourResults, MatchRecord, MatchResult
from arena.bots.tournament import CONFIDENCE, colour_json, display_names, format_colours, player_bot, write_replays


@dataclass(frozen=True)
class MatchCommand:
    """Two players, colours alternating: W/D/L (also by colour), the Elo difference with a 95%
    interval, printed and written to a run folder with every game as a replay."""

    a: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="A")]
    """First player: random, minimax (tic-tac-toe), mcts, or a checkpoint (.safetensors) or
    training run folder. It moves first in the first half of the games."""
    b: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="B")]
    """Second player: the same choices, or for Go gnugo / gnugo:LEVEL (GNU Go over GTP, level 0-10)."""
    game: GameId = "tictactoe"
    """Which game to play."""
    size: int = 9
    """Go board size (5..19)."""
    komi: float = 7.5
    """Go komi."""
    games: int = 100
    """Games in the match, half with each colour (at least 2)."""
    simulations: int | None = None
    """Search budget per move of mcts/checkpoint players (default: the agent's own)."""
    opening: int = 0
    """Random moves that open every game, the same ones with both colours, played for neither
    player (two searches without noise otherwise repeat one game per colour). Not with gnugo,
    whose games already differ by seed."""
    seed: int = 0
    """Random seed (a gets seed, b seed + 1; GNU Go and the openings get seed)."""
    device: str = "cpu"
    """torch device for the games and the networks."""
    run_dir: Path | None = None
    """Output folder (default: runs/match-<game>-<time>)."""
    save_replays: bool = True
    """Write every game as an arena JSON replay into the run folder's replays/."""


@dataclass(frozen=True)
class MatchReport:
    """What ``arena match`` found, from ``a``'s side."""

    players: tuple[str, str]
    """Display names of a and b."""
    result: MatchResult
    """a's wins, draws and losses."""
    by_colour: ColourResults
    """The same, when a moved first and when it moved second."""
    elo: float
    """a's rating minus b's (Bradley-Terry fit with one virtual draw)."""
    ci: float
    """Half-width of the 95% interval of ``elo``."""
    run_dir: Path
    """Where results.json and replays/ were written."""

    def to_json(self) -> dict[str, Any]:
        return {"players": list(self.players), **self.result._asdict(), "score": round(self.result.score, 4),
                "by_colour": colour_json(self.by_colour), "elo_difference": round(self.elo, 1),
                "ci": round(self.ci, 1), "confidence": CONFIDENCE}


def run_match(cmd: MatchCommand) -> MatchReport:
    """Build both players, play the match, print and write the results; returns them.

    Raises ``ValueError`` (or ``CheckpointError``) for an unusable player or setting, before
    any game, and :class:`arena.go.gnugo.GtpEngineError` when GNU Go is wanted but missing.
    """
    from envs.spec import GameSpec
    from arena.bots.players import make_player
    from arena.go.gnugo import gnugo_plays
    from arena.io.runs import new_run_dir, write_config, write_json

    if cmd.games < 2:
        raise ValueError(f"--games must be at least 2 (one with each colour), got {cmd.games}")
    if gnugo_level(cmd.a) is not None:
        raise ValueError("gnugo plays as the second player: arena match <player> gnugo[:level] --game go")
    level = gnugo_level(cmd.b)
    if cmd.opening < 0 or (cmd.opening and level is not None):
        raise ValueError(f"--opening {cmd.opening}: a count of random opening moves >= 0, and not against gnugo "
                         "(its games already differ by seed)")
    if level is not None and not gnugo_plays(cmd.game):
        raise ValueError(f"gnugo plays Go only; use --game go (not {cmd.game})")
    board = GameSpec.for_board(cmd.game, size=cmd.size, komi=cmd.komi)
    config = board.options
    game = board.uncapped().make()  # no move cap: GNU Go's moves are all accepted
    names = tuple(display_names([cmd.a, cmd.b]))
    player_a = make_player(cmd.a, game, simulations=cmd.simulations, seed=cmd.seed, device=cmd.device)
    opponent = names[1] if level is None else f"GNU Go level {level}"
    print(f"{cmd.game}: {names[0]} vs {opponent}, {cmd.games} games, "
          f"{names[0]} moving first in {(cmd.games + 1) // 2} of them")
    if level is None:
        from arena.bots.match import play_match_record

        player_b = make_player(cmd.b, game, simulations=cmd.simulations, seed=cmd.seed + 1, device=cmd.device)
        record = play_match_record(game, (player_bot(player_a), player_bot(player_b)), cmd.games, cmd.device,
                                   cmd.opening, cmd.seed, progress="games")
    else:
        from arena.go.gnugo import play_gnugo

        record = gnugo_record(play_gnugo(player_a, game, cmd.games, level, seed=cmd.seed))
    pair = [PairResult(names[0], names[1], *record.result)]
    ratings = fit_elo(pair, anchor=names[1])
    ci = elo_intervals(pair, ratings, anchor=names[1], confidence=CONFIDENCE)[names[0]]
    run = new_run_dir(f"match-{cmd.game}", cmd.run_dir)
    report = MatchReport((names[0], names[1]), record.result, record.by_colour, ratings[names[0]], ci, run)
    print(format_match(report))
    write_config(run, dataclasses.asdict(cmd))
    write_json(run / "results.json", {"game": cmd.game, "config": config, "games": cmd.games,
                                      "specs": [cmd.a, cmd.b], **report.to_json()})
    if cmd.save_replays:
        write_replays(run / "replays", game, config, (names[0], names[1]), record)
    print(f"results written to {run}")
    return report


def gnugo_level(spec: str) -> int | None:
    """GNU Go's level for a ``gnugo`` (level 1) or ``gnugo:LEVEL`` spec; ``None`` for any other
    player. Raises ``ValueError`` for a level that is not an integer in 0..10."""
    name, _, level = spec.partition(":")
    if name != "gnugo":
        return None
    if not level:
        return 1
    if not level.isdigit() or not 0 <= int(level) <= 10:
        raise ValueError(f"GNU Go levels are 0..10, got {spec!r} (write gnugo:3)")
    return int(level)


def gnugo_record(result: Any) -> MatchRecord:
    """A :class:`arena.go.gnugo.GnuGoResult` as a :class:`MatchRecord` from our player's side
    (GNU Go's ``0`` result reads ``draw``, as in other replays)."""
    games = result.records
    return MatchRecord(tuple(0 if g.our_colour == "black" else 1 for g in games), tuple(g.outcome for g in games),
                       tuple(g.moves for g in games), tuple("draw" if g.result == "0" else g.result for g in games))


def format_match(report: MatchReport) -> str:
    """The match as text: W/D/L and score, the split by colour, the Elo difference +- interval."""
    a, b = report.players
    r = report.result
    return "\n".join([
        f"{a} against {b}: {r.wins} wins, {r.draws} draws, {r.losses} losses (score {r.score:.3f})", "",
        *format_colours([(a, b)], [report.by_colour]), "",
        f"Elo {a} - {b}: {report.elo:+.0f} +- {report.ci:.0f} ({CONFIDENCE:.0%} interval)",
    ])
