"""``arena tournament``: a round robin between players (arena/bots/tournament.py), with
win/draw/loss tables and Elo. The command prints the tables and writes ``results.json``,
``config.json``, ``elo.png`` and every game as a replay (``replays/``) into a run folder
(``runs/tournament-<game>-<time>``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from arena.bots.tournament import (TournamentResult, display_names, format_tables, player_bot, plot_ratings, round_robin,
                                   write_replays)
from envs import GameId


@dataclass(frozen=True)
class TournamentCommand:
    """Round robin between players (seats swapped): win/draw/loss table and an Elo table,
    printed and written to a run folder (results.json, elo.png)."""

    game: Annotated[GameId, tyro.conf.Positional] = "tictactoe"
    """Which game to play."""
    players: tuple[str, ...] = ("random", "minimax")
    """Players: random, minimax (tic-tac-toe), mcts, or a checkpoint (.safetensors) or training
    run folder; a name may repeat (copies are told apart as name#2, name#3...)."""
    games: int = 100
    """Games per pair of players, half with each colour (at least 2)."""
    size: int = 9
    """Go board size (5..19)."""
    komi: float = 7.5
    """Go komi."""
    simulations: int | None = None
    """Search budget per move of mcts/checkpoint players (default: the agent's own)."""
    opening: int = 0
    """Random moves that open every game (the same ones with both colours and in every pair),
    played for neither player: searches without noise play the same game every time they meet
    with the same colours, and repeated games count as evidence they are not. 2-4 on 7x7/9x9 Go."""
    seed: int = 0
    """Random seed (player k gets seed + k; the openings get seed)."""
    device: str = "cpu"
    """torch device for the games and the networks."""
    anchor: str | None = None
    """Player rated 0 (default: random if it plays, else the mean rating is 0)."""
    run_dir: Path | None = None
    """Output folder (default: runs/tournament-<game>-<time>)."""
    plot: bool = True
    """Write elo.png, a bar chart of the ratings."""
    save_replays: bool = True
    """Write every game as an arena JSON replay into the run folder's replays/."""


def run_tournament(cmd: TournamentCommand) -> TournamentResult:
    """Build the players, play the round robin, print and write the tables; returns them.

    Raises ``ValueError`` (or ``CheckpointError``) for an unusable player, before any game.
    """
    from envs.spec import GameSpec
    from arena.bots.players import make_player
    from arena.io.runs import new_run_dir, write_config, write_json

    board = GameSpec.for_board(cmd.game, size=cmd.size, komi=cmd.komi)
    config = board.options
    game = board.make()
    names = display_names(cmd.players)
    if any(spec.split(":")[0] == "gnugo" for spec in cmd.players):
        raise ValueError("gnugo plays one game at a time: use `arena match <player> gnugo[:level] --game go`")
    if cmd.opening < 0:
        raise ValueError(f"--opening must be >= 0 random moves, got {cmd.opening}")
    anchor = cmd.anchor if cmd.anchor is not None else ("random" if "random" in names else None)
    if anchor is not None and anchor not in names:
        raise ValueError(f"--anchor {anchor!r} is not one of the players: {', '.join(names)}")
    bots = {name: player_bot(make_player(spec, game, simulations=cmd.simulations, seed=cmd.seed + k,
                                         device=cmd.device))
            for k, (name, spec) in enumerate(zip(names, cmd.players))}
    pairs = len(names) * (len(names) - 1) // 2
    print(f"{cmd.game}: {len(names)} players, {pairs} pairs x {cmd.games} games")
    result = round_robin(game, bots, cmd.games, cmd.device, anchor, cmd.opening, cmd.seed, progress="games")
    print(format_tables(result))
    run = new_run_dir(f"tournament-{cmd.game}", cmd.run_dir)
    write_config(run, dataclasses.asdict(cmd))
    write_json(run / "results.json", {"game": cmd.game, "config": config, "games_per_pair": cmd.games,
                                      "specs": list(cmd.players), **result.to_json()})
    if cmd.save_replays:
        for m, record in zip(result.matches, result.records):
            write_replays(run / "replays", game, config, (m.player, m.opponent), record)
    if cmd.plot:
        plot_ratings(run / "elo.png", result, f"{cmd.game} round robin, {cmd.games} games per pair")
    print(f"results written to {run}")
    return result
