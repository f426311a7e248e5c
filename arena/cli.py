"""The ``arena`` command: one subcommand per thing a person does.

Only this module parses command lines (STYLE.md rule 7): every subcommand is a frozen
config dataclass read by tyro, dispatched to a small function that does the work.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import tyro

from envs import GameId
from envs.core import IllegalActionError


@dataclass(frozen=True)
class Demo:
    """Play two bots against each other and print every board (minimax vs random by default)."""

    game: GameId = "tictactoe"
    """Which game to play."""
    first: Literal["minimax", "random"] = "minimax"
    """Bot moving first (X in tic-tac-toe, black in Go); minimax is tic-tac-toe only."""
    second: Literal["minimax", "random"] = "random"
    """Bot moving second."""
    games: int = 3
    """Number of games; the players swap seats after every game."""
    size: int = 9
    """Go board size (5..19)."""
    komi: float = 7.5
    """Go komi."""
    seed: int = 0
    """Random seed: the same seed replays the same games."""
    quiet: bool = False
    """Print only the results, not every board."""


def run_demo(cfg: Demo) -> dict[str, int]:
    """Play ``cfg.games`` games, printing boards; returns the win/draw tally by bot name."""
    from arena.bots.match import make_bot, play_game
    from envs.spec import GameSpec

    game = GameSpec.for_board(cfg.game, size=cfg.size, komi=cfg.komi).uncapped().make()
    names = [cfg.first, cfg.second]
    bots = [make_bot(n, game, cfg.seed + i) for i, n in enumerate(names)]
    tally = {f"{names[0]} (bot 1) wins": 0, f"{names[1]} (bot 2) wins": 0, "draws": 0}
    for g in range(cfg.games):
        seats = (0, 1) if g % 2 == 0 else (1, 0)  # seats[p] = which bot plays player p
        print(f"\n=== game {g + 1}: {names[seats[0]]} moves first, {names[seats[1]]} second ===")
        for state, action in play_game(game, (bots[seats[0]], bots[seats[1]])):
            if not cfg.quiet and action is not None:
                print(f"\n{game.action_to_string(action)}\n{game.render(state)}")
        returns = state.rewards[0].tolist()
        if returns[0] == returns[1]:
            tally["draws"] += 1
            print("result: draw")
        else:
            winner_player = 0 if returns[0] > returns[1] else 1
            bot = seats[winner_player]
            tally[f"{names[bot]} (bot {bot + 1}) wins"] += 1
            print(f"result: {names[bot]} (bot {bot + 1}) wins as player {winner_player + 1}")
    print("\n" + ", ".join(f"{k}: {v}" for k, v in tally.items()))
    return tally


def _commands() -> dict[str, tuple[type, Callable[[Any], Any]]]:
    """Subcommand name -> (config dataclass, the function that runs it). The command modules
    keep their heavy imports (pygame, sklearn, ray) inside their functions, so this stays fast."""
    from arena.bandits import BanditsCommand, run_bandits
    from arena.eval_cmd import EvalCommand, run_eval
    from arena.gtp import GtpCommand, run_gtp
    from arena.match_cmd import MatchCommand, run_match
    from arena.play import PlayCommand, run_play
    from arena.replay_cmd import ReplayCommand, WatchCommand, run_replay, run_watch
    from arena.supervised import Supervised, run as run_supervised
    from arena.tournament import TournamentCommand, run_tournament
    from arena.train import Train, run_train

    return {
        "train": (Train, run_train), "eval": (EvalCommand, run_eval), "play": (PlayCommand, run_play),
        "watch": (WatchCommand, run_watch), "replay": (ReplayCommand, run_replay), "match": (MatchCommand, run_match),
        "tournament": (TournamentCommand, run_tournament), "gtp": (GtpCommand, run_gtp), "demo": (Demo, run_demo),
        "supervised": (Supervised, run_supervised), "bandits": (BanditsCommand, run_bandits),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``arena`` console script."""
    torch.set_num_threads(1)  # small tensors: one thread is fastest on small CPUs (see README)
    commands = _commands()
    cfg = tyro.extras.subcommand_cli_from_dict(
        {name: config for name, (config, _) in commands.items()}, args=argv, prog="arena",
        description="Arena: batched games, AlphaZero, DQN, policy gradients and bandits.",
        config=(tyro.conf.OmitSubcommandPrefixes,),
    )
    from arena.io.checkpoint import CheckpointError
    from arena.gtp import GtpError

    run = {config: runner for config, runner in commands.values()}[type(cfg)]
    try:
        run(cfg)
    except (IllegalActionError, CheckpointError, GtpError, ValueError) as e:
        print(f"arena: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
