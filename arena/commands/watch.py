"""``arena watch``: step through a saved game in a window, or follow a training run's self-play
games as they are written. The window (:mod:`arena.viewer.watch`) is imported only when the
command runs, so reading this config (``arena --help``) loads no pygame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro


@dataclass(frozen=True)
class WatchCommand:
    """Step through a saved game in a window (Left/Right, Home/End, Space autoplay, slider,
    H heat map), or follow a training run's self-play games with --live."""

    path: Annotated[Path, tyro.conf.Positional]
    """A replay file (.json), or a folder of replays / a training run folder (its newest game)."""
    live: bool = False
    """Keep watching the folder (a run's replays/): autoplay each newer game as it is written."""
    autoplay: bool = False
    """Start playing the moves at once (always on with --live)."""
    delay: float = 0.7
    """Seconds per move when autoplaying (+/- change it in the window)."""


def replay_folder(path: Path) -> Path:
    """The folder whose replays to show: ``<run>/replays`` for a run folder, else ``path``."""
    return path / "replays" if (path / "replays").is_dir() or (path / "config.json").exists() else path


def run_watch(cmd: WatchCommand) -> None:
    """Open the watch window until it is closed. Raises ``ValueError`` (before any window
    opens) for a missing path, an unusable replay, or a folder without replays (not --live)."""
    from arena.commands.play import check_display
    from arena.viewer.watch import ReplayFeed, WatchSession, WatchWindow, run_game

    check_display()
    path = cmd.path
    if not path.exists():
        raise ValueError(f"{path} does not exist: give a replay file (.json), a folder of replays or a run folder")
    if path.is_file():
        if cmd.live:
            raise ValueError("--live follows a folder (a training run or its replays/), not one file")
        session = WatchSession(path, autoplay=cmd.autoplay, delay=cmd.delay)
    else:
        folder = replay_folder(path)
        feed = ReplayFeed(folder)
        if cmd.live:
            game = run_game(folder.parent if folder.name == "replays" else folder)
            session = WatchSession(feed=feed, game=game, autoplay=True, delay=cmd.delay)
            print(f"watching {folder} for new games (close the window to stop)")
        else:
            newest = feed.newest()
            if newest is None:
                raise ValueError(f"no replays (*.json) in {folder}; use --live to wait for a running training")
            print(f"showing {newest}")
            session = WatchSession(newest, autoplay=cmd.autoplay, delay=cmd.delay)
    window = WatchWindow(session)
    try:
        window.run()
    finally:
        import pygame

        pygame.display.quit()
