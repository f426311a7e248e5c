"""The ``arena`` command: one subcommand per thing a person does.

Only this module parses command lines (STYLE.md rule 7): every subcommand is a frozen
config dataclass read by tyro, dispatched to a small function that does the work. Both live
in the subcommand's module, ``arena/commands/<name>.py`` (``arena supervised`` in
arena/supervised/).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
import tyro

from envs.core import IllegalActionError


def _commands() -> dict[str, tuple[type, Callable[[Any], Any]]]:
    """Subcommand name -> (config dataclass, the function that runs it). The command modules
    keep their heavy imports (pygame, sklearn, ray) inside their functions, so this stays fast."""
    from arena.commands.bandits import BanditsCommand, run_bandits
    from arena.commands.demo import Demo, run_demo
    from arena.commands.eval import EvalCommand, run_eval
    from arena.commands.gtp import GtpCommand, run_gtp
    from arena.commands.match import MatchCommand, run_match
    from arena.commands.play import PlayCommand, run_play
    from arena.commands.replay import ReplayCommand, run_replay
    from arena.commands.tournament import TournamentCommand, run_tournament
    from arena.commands.train import Train, run_train
    from arena.commands.watch import WatchCommand, run_watch
    from arena.supervised import Supervised, run as run_supervised

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
    from arena.go.gtp import GtpError
    from arena.io.checkpoint import CheckpointError

    run = {config: runner for config, runner in commands.values()}[type(cfg)]
    try:
        run(cfg)
    except (IllegalActionError, CheckpointError, GtpError, ValueError) as e:
        print(f"arena: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
