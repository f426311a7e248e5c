"""JSON replays: a finished (or abandoned) game as the moves that replay it.

A replay never stores positions, only the game id, its config and the actions; reading one
back means stepping the game again (DESIGN.md: "replayed by stepping the game"), so a replay
can never disagree with the rules. The file format, version 1::

    {"format": "arena-replay", "version": 1, "game": "go", "config": {"size": 9, "komi": 7.5},
     "players": ["human", "mcts"], "moves": [40, 30, ...], "result": "B+3.5" | null,
     "thinking": [null, {"policy": [...], "value": 0.1, "ownership": [...]}, ...]}

``players[p]`` played seat ``p`` (0 moves first: X, black); ``thinking[i]`` is what the
player of move ``i`` showed before playing it (``null`` for people and plain bots). Its
``ownership`` (one per point, +1 black; the territory overlay of the viewer) is written only
by Go networks that have one; it is optional, so files without it read as before and the
version stays 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.bots.thinking import Thinking
from arena.io.files import stamped_path, write_text_atomic
from envs.spec import GameSpec

FORMAT = "arena-replay"
VERSION = 1
REPLAYS_ROOT = Path("replays")


@dataclass(frozen=True)
class Replay:
    """One game as it is written to disk (see the module docstring for the JSON)."""

    game: str
    """Game id (:data:`envs.spec.REGISTRY`): ``tictactoe`` or ``go``."""
    config: dict[str, Any]
    """The board options of its :class:`~envs.spec.GameSpec` (Go: ``size`` and ``komi``;
    tic-tac-toe: none)."""
    players: tuple[str, str]
    """Name of the player in seat 0 (moves first) and seat 1."""
    moves: tuple[int, ...]
    """Every action in order, passes included."""
    result: str | None = None
    """``B+3.5``, ``W+R``, ``X wins``, ``draw``...; ``None`` for a game left unfinished."""
    thinking: tuple[Thinking | None, ...] = field(default=())
    """One entry per move (empty: none recorded)."""

    @property
    def spec(self) -> GameSpec:
        """The game this replay was played in (ValueError for an unknown game)."""
        return GameSpec.of(self.game, **self.config)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the file format."""
        thinking = list(self.thinking) + [None] * (len(self.moves) - len(self.thinking))
        return {
            "format": FORMAT, "version": VERSION, "game": self.game, "config": dict(self.config),
            "players": list(self.players), "moves": [int(a) for a in self.moves], "result": self.result,
            "thinking": [None if t is None else _thinking_json(t) for t in thinking],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Replay:
        """Parse the JSON object; raises ``ValueError`` naming what is wrong."""
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"not an {FORMAT} version {VERSION} file "
                             f"(format={data.get('format')!r}, version={data.get('version')!r})")
        thinking = tuple(None if t is None else _thinking_from_json(t) for t in data.get("thinking", []))
        players = tuple(data["players"])
        if len(players) != 2:
            raise ValueError(f"a replay names 2 players, got {players}")
        return cls(data["game"], dict(data.get("config", {})), (players[0], players[1]),
                   tuple(int(a) for a in data["moves"]), data.get("result"), thinking)


def new_replay_path(game: str, directory: str | Path = REPLAYS_ROOT) -> Path:
    """``<directory>/<game>-<YYYYmmdd-HHMMSS>.json``, with ``-2``, ``-3``... if taken."""
    return stamped_path(directory, game, ".json")


def save_replay(replay: Replay, path: str | Path) -> Path:
    """Write ``replay`` to ``path`` atomically (a temporary file in the same folder, then
    ``os.replace``), so a crash never leaves half a file; creates the folder. Returns ``path``."""
    return write_text_atomic(path, json.dumps(replay.to_json()) + "\n")


def load_replay(path: str | Path) -> Replay:
    """Read a replay file (``ValueError`` for anything that is not one)."""
    return Replay.from_json(json.loads(Path(path).read_text()))


def replay_states(replay: Replay) -> tuple[Any, list[Any]]:
    """The game of ``replay`` and every position of it (B=1): the start, then one per move.

    Steps are checked, so a corrupt replay raises ``envs.core.IllegalActionError``. The game
    has no move cap (``envs.make_uncapped``): a game of any length replays, and one that
    self-play cut short at its cap simply ends unfinished, its ``result`` as recorded.
    """
    import torch

    game = replay.spec.uncapped().make()
    states = [game.init(1)]
    for action in replay.moves:
        states.append(game.step(states[-1], torch.tensor([action])))
    return game, states


# ----- private helpers -----------------------------------------------------------------------


def _thinking_json(thinking: Thinking) -> dict[str, Any]:
    """One entry of ``thinking``: policy and value, and the ownership only when there is one
    (older readers and files without it stay valid)."""
    entry: dict[str, Any] = {"policy": list(thinking.policy), "value": thinking.value}
    if thinking.ownership is not None:
        entry["ownership"] = list(thinking.ownership)
    return entry


def _thinking_from_json(entry: dict[str, Any]) -> Thinking:
    """The :class:`Thinking` of one entry; a missing or null ``ownership`` is ``None``."""
    ownership = entry.get("ownership")
    return Thinking(tuple(entry["policy"]), float(entry["value"]),
                    None if ownership is None else tuple(float(o) for o in ownership))
