"""``arena gtp``: speak GTP version 2 on stdin/stdout, so our agents play in GoGui/Sabaki and
against GNU Go. The protocol and the engine's handlers are in arena/go/gtp.py; this module is
the command: its options and the loop over input lines."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal, TextIO

from arena.go.gtp import GtpEngine
from envs import GameId


@dataclass(frozen=True)
class GtpCommand:
    """Speak GTP version 2 on stdin/stdout (for GoGui, Sabaki, or a match against GNU Go)."""

    game: GameId = "go"
    """Which game: Go, or tic-tac-toe on a 3x3 board (columns A-C, rows 1-3)."""
    size: int = 9
    """Go board size at start (5..19; GTP's boardsize can change it)."""
    komi: float = 7.5
    """Go komi at start (GTP's komi can change it)."""
    agent: Literal["shipped", "mcts", "random", "minimax"] = "shipped"
    """Who answers genmove: shipped (the network shipped for the board size, arena/weights/go<N>;
    mcts on sizes without one), mcts (tree search, random playouts), random, minimax (tic-tac-toe)."""
    checkpoint: str | None = None
    """An AlphaZero checkpoint (.safetensors) or training run folder; overrides --agent."""
    simulations: int | None = None
    """Search budget per move for mcts and checkpoints (default: the agent's own)."""
    seed: int = 0
    """Random seed of the agent."""
    device: str = "cpu"
    """torch device for a network."""


def run_gtp(cmd: GtpCommand, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Answer GTP commands from ``stdin`` on ``stdout`` until ``quit`` or the end of input.

    By default reads the process's stdin as UTF-8 (undecodable bytes replaced, only ``\\n``
    ends a line) and flushes each answer, as a controller waits for it.
    Raises ``ValueError`` (or ``CheckpointError``) before reading anything if the agent
    cannot be built.
    """
    engine = GtpEngine.from_command(cmd)
    if stdin is None:
        import io

        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    out = sys.stdout if stdout is None else stdout
    for line in stdin:
        answer = engine.handle_line(line)
        if answer is not None:
            out.write(answer)
            out.flush()
        if engine.quit:
            break
