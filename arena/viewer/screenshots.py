"""The README pictures of ``arena play``, drawn headless: ``python -m arena.viewer.screenshots``.

Plays a few scripted clicks in each game through the real window code (an off-screen
surface, no display needed) and saves ``docs/screenshots/play-tictactoe.png`` and
``docs/screenshots/play-go.png``. Tic-tac-toe faces the exact solver dressed up to show
thinking (a uniform policy over its optimal moves and the solved value; the ``minimax``
opponent of ``arena play`` shows none), so the picture has a heat map; Go faces the shipped 9x9
network (arena/weights/go9, with its territory estimate drawn) when there is one, else ``mcts``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from arena.bots.players import Player, Thinking, make_player

OUT_DIR = Path("docs/screenshots")
TICTACTOE_CLICKS = ("B2",)
GO_CLICKS = ("C3", "G7", "C7", "G3", "E5", "D4", "E3", "F4", "E7")


class SolverPlayer:
    """Perfect tic-tac-toe that shows its thinking: uniform over the optimal moves, with the
    solved value (+1 win, 0 draw, -1 loss) for the side to move."""

    name = "solver"

    def act(self, game: Any, state: Any) -> tuple[int, Thinking | None]:
        from envs import tictactoe_solver

        board = [int(v) for v in state.board[0].tolist()]
        best = sorted(tictactoe_solver.optimal_actions(board))
        policy = tuple(1 / len(best) if a in best else 0.0 for a in range(game.num_actions))
        return best[0], Thinking(policy, float(tictactoe_solver.value(board)))


def make_screenshots(out_dir: str | Path = OUT_DIR, simulations: int = 64) -> list[Path]:
    """Draw both pictures into ``out_dir`` (Go against the shipped 9x9 network, or ``mcts``
    without one, searching ``simulations`` per move); returns their paths."""
    from envs.spec import GameSpec
    from arena.bots.players import shipped_network

    go = GameSpec.of("go", size=9, komi=7.5).uncapped().make()
    network = shipped_network("go", 9)
    go_opponent: Player = make_player("mcts" if network is None else str(network), go, simulations=simulations)
    out = Path(out_dir)
    return [
        _shoot(GameSpec.of("tictactoe").make(), SolverPlayer(), TICTACTOE_CLICKS, out / "play-tictactoe.png"),
        _shoot(go, go_opponent, GO_CLICKS, out / "play-go.png", territory=network is not None),
    ]


def main() -> int:
    for path in make_screenshots():
        print(f"wrote {path}")
    return 0


# ----- private helpers -----------------------------------------------------------------------


def _shoot(game: Any, opponent: Player, clicks: tuple[str, ...], path: Path, territory: bool = False) -> Path:
    """Click the listed points in order (skipping any that are taken), then save the window
    (with the territory overlay on when ``territory``)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from arena.viewer.board import WINDOW_SIZE
    from arena.viewer.session import PlaySession
    from arena.viewer.window import PlayWindow, click_event

    session = PlaySession(game, opponent, human_seat=0, replay_dir=None)
    window = PlayWindow(session, surface=pygame.Surface(WINDOW_SIZE), fps=0)
    for vertex in clicks:
        session.wait_for_agent()
        point = game.string_to_action(vertex)
        if session.over:
            break
        if bool(session.state.legal_action_mask[0, point]):
            window.run(events=[click_event(window.layout.center(point))])
    session.wait_for_agent()
    if territory:
        window.command("territory")
    window.frame()
    return window.screenshot(path)


if __name__ == "__main__":
    sys.exit(main())
