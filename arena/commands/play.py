"""``arena play``: play tic-tac-toe or Go against an agent in a pygame window.

The window (:mod:`arena.viewer`) is imported only when the command runs, so reading this
config (``arena --help``) does not load pygame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from envs import GameId


@dataclass(frozen=True)
class PlayCommand:
    """Play against an agent in a window: click to move; P pass, R resign, U undo, N new game,
    S swap colours, H heat map of the agent's thinking. Closing saves a replay in replays/."""

    game: Annotated[GameId, tyro.conf.Positional] = "tictactoe"
    """Which game to play."""
    size: int = 9
    """Go board size (5..19)."""
    komi: float = 7.5
    """Go komi (points given to white)."""
    opponent: str | None = None
    """random, minimax (tic-tac-toe), mcts, or a checkpoint (.safetensors) or training run folder
    (default: your newest `arena train` run of this game in runs/, else the network shipped for
    this board (Go 5x5, 9x9), else minimax for a solved game (tic-tac-toe) and random for the rest)."""
    color: Literal["black", "white", "random"] = "black"
    """Your colour: black moves first (X in tic-tac-toe)."""
    simulations: int | None = None
    """Search budget per move of mcts/checkpoint opponents (default: the agent's own)."""
    seed: int = 0
    """Random seed of the opponent (and of --color random)."""
    device: str = "cpu"
    """torch device for a network opponent."""
    replay_dir: Path = Path("replays")
    """Folder for the JSON replays written when a game ends or the window closes."""


def make_session(cmd: PlayCommand) -> Any:
    """The game, the opponent and the seats of ``cmd`` as a :class:`arena.viewer.session.PlaySession`.

    Raises ``ValueError`` (or ``CheckpointError``) for an unusable opponent, before any window opens.
    """
    from arena.bots.players import make_player
    from arena.viewer.session import PlaySession
    from envs.spec import GameSpec

    board = GameSpec.for_board(cmd.game, size=cmd.size, komi=cmd.komi)
    config = board.options
    game = board.uncapped().make()  # no move cap: people play every legal move
    spec = cmd.opponent or default_opponent(cmd.game, cmd.size)
    opponent = make_player(spec, game, simulations=cmd.simulations, seed=cmd.seed, device=cmd.device)
    print(f"opponent: {spec}")
    color = cmd.color if cmd.color != "random" else random.Random(cmd.seed).choice(["black", "white"])
    human_seat = 0 if color == "black" else 1
    return PlaySession(game, opponent, human_seat, config=config, replay_dir=cmd.replay_dir)


def default_opponent(game: str, size: int, runs: Path = Path("runs")) -> str:
    """The newest finished-or-running AlphaZero run of this game (and Go size) under ``runs``,
    so ``arena train tictactoe`` followed by ``arena play tictactoe`` plays what was trained;
    else a network shipped with the package for that Go size (5x5, 9x9), else minimax
    (tic-tac-toe) or random (Go)."""
    import json

    from envs.spec import GameSpec

    name = f"alphazero-{GameSpec.for_board(game, size=size).label}"
    candidates = []
    for run in runs.glob(f"{name}-*"):
        best = run / "checkpoints" / "best.json"
        if best.exists():
            try:
                if json.loads(best.read_text()).get("config", {}).get("game") == game:
                    candidates.append((best.stat().st_mtime, run))
            except (OSError, json.JSONDecodeError):
                continue
    if candidates:
        return str(max(candidates)[1])
    from arena.bots.players import shipped_network

    shipped = shipped_network(game, size)
    if shipped is not None:
        return str(shipped)
    return "minimax" if GameSpec.of(game).solver is not None else "random"


def check_display() -> None:
    """Refuse clearly, instead of playing in an invisible window, when there is no screen:
    SDL falls back to an off-screen driver on a machine without a display (SSH, CI). Setting
    ``SDL_VIDEODRIVER`` yourself (``dummy`` for scripted runs) skips the check."""
    import os
    import sys

    if os.environ.get("SDL_VIDEODRIVER") or sys.platform in ("win32", "darwin"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ValueError("no display to open a window on (DISPLAY is not set): run arena play on a desktop, "
                         "or over ssh -X; arena demo and arena gtp work without a window")


def run_play(cmd: PlayCommand) -> None:
    """Open the window and play until it is closed; prints where the replay went."""
    check_display()
    session = make_session(cmd)
    from arena.viewer.window import PlayWindow

    window = PlayWindow(session)
    try:
        window.run()
    finally:
        window.close()  # also on Ctrl+C: the game is saved
        import pygame

        pygame.display.quit()  # only the window: fonts stay loaded for another session
    saved = window.saved_to or session.replay_path
    if saved is not None:
        print(f"replay saved to {saved}")
