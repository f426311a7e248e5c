"""A game's identity: which game, built with which keyword arguments, as one small frozen value.

``GameSpec("go", (("komi", 7.5), ("size", 9)))`` names the 9x9 game with komi 7.5; ``spec.make()``
builds it, every game built by :func:`envs.make` answers ``game.spec`` with the spec that builds
it again, and ``to_dict``/``from_dict`` carry it through JSON (run configs, replays). The
registry below is the one place that knows which class plays which id: each game's module
adds itself with :func:`register`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


REGISTRY: dict[str, Callable[..., Any]] = {}
"""Game id -> the constructor of its rules; each game's module registers itself (the package
``envs`` imports them all)."""
BOARD_OPTIONS: dict[str, tuple[str, ...]] = {}
"""The options of each game that a command line sets (Go: ``--size``, ``--komi``)."""


SOLVERS: dict[str, Any] = {}
"""Game id -> its exact solver (an :class:`envs.core.Solver`), for games small enough to solve."""


def register(game_id: str, constructor: Callable[..., Any], board_options: tuple[str, ...] = ()) -> None:
    """Make ``game_id`` buildable by :meth:`GameSpec.make` (one line at the end of a game's module)."""
    REGISTRY[game_id] = constructor
    BOARD_OPTIONS[game_id] = board_options


def register_solver(game_id: str, solver: Any) -> None:
    """Give ``game_id`` exact play (the solver's module, which imports the rules, calls it)."""
    SOLVERS[game_id] = solver


@dataclass(frozen=True)
class GameSpec:
    """Which game (``id``, a key of :data:`REGISTRY`) and the keyword arguments that build it,
    sorted by name so that equal games have equal specs."""

    id: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, game_id: str, **kwargs: Any) -> GameSpec:
        """``GameSpec.of("go", size=9, komi=7.5)``; raises ValueError for an unknown id."""
        if game_id not in REGISTRY:
            raise ValueError(f"unknown game {game_id!r}; choose one of: {', '.join(REGISTRY)}")
        return cls(game_id, tuple(sorted(kwargs.items())))

    @classmethod
    def for_board(cls, game_id: str, **options: Any) -> GameSpec:
        """The game a command names: of ``options`` (e.g. ``size``, ``komi``) the ones this
        game takes (:data:`BOARD_OPTIONS`; tic-tac-toe takes none), so callers need not ask
        which game it is."""
        if game_id not in REGISTRY:
            raise ValueError(f"unknown game {game_id!r}; choose one of: {', '.join(REGISTRY)}")
        return cls.of(game_id, **{k: v for k, v in options.items() if k in BOARD_OPTIONS[game_id]})

    @property
    def options(self) -> dict[str, Any]:
        """The board options (:data:`BOARD_OPTIONS`) of this spec, as replays store them."""
        return {k: v for k, v in self.kwargs if k in BOARD_OPTIONS[self.id]}

    @property
    def rules(self) -> Callable[..., Any]:
        """The registered constructor (the game's class: its facts, e.g. ``board_sizes``,
        ``has_pass``, are readable without building it)."""
        return REGISTRY[self.id]

    @property
    def solver(self) -> Any:
        """The game's exact solver (:class:`envs.core.Solver`: ``actions``, ``judge``), or None:
        a solved game gets the perfect ``minimax`` opponent and optimal-move judgements."""
        return SOLVERS.get(self.id)

    @property
    def label(self) -> str:
        """A short name for files and folders: the id, plus the size for a game built in
        several sizes (``go9``, ``tictactoe``): run folders, ``arena/weights/<label>``."""
        size = dict(self.kwargs).get("size")
        return self.id + (str(size) if size is not None and "size" in BOARD_OPTIONS[self.id] else "")

    def make(self) -> Any:
        """The game's rules."""
        return REGISTRY[self.id](**dict(self.kwargs))

    def replace(self, **kwargs: Any) -> GameSpec:
        """This spec with some keyword arguments set (or changed)."""
        return GameSpec.of(self.id, **{**dict(self.kwargs), **kwargs})

    def uncapped(self) -> GameSpec:
        """The game as people play it, by its rules alone: a game with a self-play move cap
        (Go's ``max_moves``) without it."""
        capped = "max_moves" in inspect.signature(self.rules).parameters
        return self.replace(max_moves=0) if capped and "max_moves" not in dict(self.kwargs) else self

    def to_dict(self) -> dict[str, Any]:
        """``{"game": id, **kwargs}``, for JSON."""
        return {"game": self.id, **dict(self.kwargs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GameSpec:
        """Inverse of :meth:`to_dict`; raises ValueError naming what is wrong."""
        if not isinstance(data, dict) or not isinstance(data.get("game"), str):
            raise ValueError(f"a game spec is an object with a 'game' name, got {data!r}")
        return cls.of(data["game"], **{k: v for k, v in data.items() if k != "game"})
