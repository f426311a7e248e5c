"""``arena replay export|import``: converting saved games between arena's JSON replays and SGF
(arena/go/sgf.py, imported only when the command runs, as is sgfmill). ``arena watch``
(arena/commands/watch.py) shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import tyro


@dataclass(frozen=True)
class ReplayCommand:
    """Convert games: `export <replay.json> --sgf` writes SGF for Sabaki/GoGui/KGS;
    `import <game.sgf>` writes an arena JSON replay (Go only; see arena/go/sgf.py for what is refused)."""

    action: Annotated[Literal["export", "import"], tyro.conf.Positional]
    """export: JSON replay -> SGF; import: SGF -> JSON replay."""
    file: Annotated[Path, tyro.conf.Positional]
    """The file to convert."""
    sgf: bool = True
    """Export as SGF (FF[4]), the only export format so far."""
    out: Path | None = None
    """Where to write (default: beside the input, with the .sgf / .json suffix)."""


def run_replay(cmd: ReplayCommand) -> Path:
    """Convert ``cmd.file``; prints and returns the written path. Every problem with the
    input is a ``ValueError`` with a clear message."""
    from arena.go.sgf import export_sgf, import_sgf

    if cmd.action == "export":
        if not cmd.sgf:
            raise ValueError("SGF is the only export format so far: drop --no-sgf")
        written = export_sgf(cmd.file, cmd.out)
    else:
        written = import_sgf(cmd.file, cmd.out)
    print(f"wrote {written}")
    return written
