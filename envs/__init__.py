"""Games and tasks: batched tic-tac-toe, Go and bandits, and their Gymnasium/PettingZoo faces.

``envs`` imports nothing from ``nets``, ``agents`` or ``arena`` (see tests/test_layers.py).
"""

from __future__ import annotations

from typing import Any, Literal

from envs import go, tictactoe, tictactoe_solver  # noqa: F401 (each registers with envs.spec: add a game here)
from envs.spec import REGISTRY, GameSpec

GameId = Literal[tuple(REGISTRY)]  # type: ignore[valid-type]
"""The registered games' ids (``tictactoe``, ``go``, ...), as a Literal so commands list them."""


def make(game_id: GameId, **kwargs: Any) -> Any:
    """Build a batched game by id: ``make("go", size=9, komi=7.5)``, ``make("tictactoe")``
    (through its :class:`~envs.spec.GameSpec`; ``game.spec`` builds it again)."""
    return GameSpec.of(game_id, **kwargs).make()


def make_uncapped(game_id: GameId, **kwargs: Any) -> Any:
    """The game as people play it, by its rules alone: Go without the self-play move cap
    (``max_moves=0`` unless ``kwargs`` sets one), any other game as :func:`make` builds it.

    GTP, the play and watch windows, replays, SGF and matches use it, so every legal move is
    accepted however long the game (DESIGN.md: a move cap is a self-play truncation chosen by
    the trainer, not a rule); training keeps :func:`make` and its default cap.
    """
    return GameSpec.of(game_id, **kwargs).uncapped().make()


# Gymnasium ids (arena/TicTacToe-v0, arena/Go-v0, arena/Bandit-v0); entry points are strings,
# so the envs themselves load only when made. Registering twice is a no-op.
from envs.gym import register_envs as _register_envs  # noqa: E402

_register_envs()
