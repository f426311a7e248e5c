"""SGF (FF[4], the record format of every Go tool) to and from our JSON replays, via sgfmill.

Export writes ``FF[4] GM[1] CA[UTF-8] AP SZ KM RU PB PW RE`` in the root, then one ``B``/``W``
node per move; a pass is written as sgfmill writes it (``tt`` on boards up to 19x19, which
Sabaki, GoGui and KGS read as a pass). ``RU`` is ``Chinese``: area scoring, the nearest
common name for our Tromp-Taylor rules with positional superko.

Import reads the main line of the game tree and replays it through our rules (checked steps,
no move cap: a game of any length imports), so the imported replay is legal by construction.
Results: ``RE[B+3.5]``, ``RE[W+R]`` (also ``Resign``, ``T``/``Time``, ``F``/``Forfeit``) are
kept as ``B+3.5``/``W+R``...; ``RE[0]``, ``RE[Draw]`` become ``draw``; ``RE[Void]``,
``RE[?]`` or no ``RE`` mean no result.

Refused, each with a ``ValueError`` that says why (never another exception, whatever the
bytes): anything that is not SGF, ``GM`` other than 1 (Go), board sizes outside 5..19,
non-square boards, a komi that is not a finite number of sensible size, setup stones
(``AB``/``AW``/``AE``: handicap and problem positions; our games start on an empty board),
white to play first (``PL[W]`` or a first ``W`` move), two moves by one colour in a row,
coordinates off the board, illegal moves (an occupied point, suicide, superko: the error
names the move number), moves after the game ended, an unknown ``RE``, files over 10 MB.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from arena.go.coords import from_sgfmill, to_sgfmill
from arena.io.replays import Replay

MAX_BYTES = 10_000_000
RULES = "Chinese"
_RESULT = re.compile(r"^([BW])\+(\d{1,4}(?:\.\d{1,2})?|R|Resign|T|Time|F|Forfeit)?$", re.IGNORECASE)
_WINS_BY = {"resign": "R", "time": "T", "forfeit": "F"}


def replay_to_sgf(replay: Replay) -> bytes:
    """The SGF record of a Go replay (UTF-8 bytes).

    Raises:
        ValueError: the replay is not Go, or its moves are not all actions of its board.
    """
    from sgfmill import sgf

    if replay.game != "go":  # a name branch on purpose: SGF's GM[1] records Go, the one game it writes
        raise ValueError(f"SGF records Go games; this replay is {replay.game!r}")
    size, komi = _go_config(replay.config)
    record = sgf.Sgf_game(size=size)
    root = record.get_root()
    root.set("AP", ("arena", "1"))
    root.set("KM", komi)
    root.set("RU", RULES)
    root.set("PB", replay.players[0])
    root.set("PW", replay.players[1])
    result = _result_to_sgf(replay.result)
    if result is not None:
        root.set("RE", result)
    for i, action in enumerate(replay.moves):
        if not 0 <= action <= size * size:
            raise ValueError(f"move {i + 1} is action {action}, not a point or pass of a {size}x{size} board")
        node = record.extend_main_sequence()
        node.set_move("bw"[i % 2], to_sgfmill(action, size))
    return record.serialise()


def sgf_to_replay(data: bytes, source: str = "SGF") -> Replay:
    """A Go replay from SGF bytes, checked by replaying every move through our rules.

    ``source`` names the input in error messages. Raises ``ValueError`` (and only that) for
    anything unusable: see the module docstring.
    """
    try:
        return _parse(data, source)
    except ValueError:
        raise
    except Exception as e:  # a hostile file must never escape as another exception type
        raise ValueError(f"{source}: not a readable SGF Go record ({type(e).__name__}: {e})") from e


def export_sgf(replay_path: str | Path, out: str | Path | None = None) -> Path:
    """Write the replay file ``replay_path`` as SGF to ``out`` (default: beside it, ``.sgf``)."""
    from arena.io.replays import load_replay

    replay_path = Path(replay_path)
    replay = _read_replay(replay_path, load_replay)
    target = Path(out) if out is not None else replay_path.with_suffix(".sgf")
    data = replay_to_sgf(replay)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def import_sgf(sgf_path: str | Path, out: str | Path | None = None) -> Path:
    """Read an SGF file and write it as a JSON replay to ``out`` (default: beside it, ``.json``)."""
    from arena.io.replays import save_replay

    sgf_path = Path(sgf_path)
    try:
        if sgf_path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{sgf_path}: {sgf_path.stat().st_size} bytes; SGF files over {MAX_BYTES} are refused")
        data = sgf_path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {sgf_path}: {e.strerror or e}") from e
    replay = sgf_to_replay(data, str(sgf_path))
    return save_replay(replay, Path(out) if out is not None else sgf_path.with_suffix(".json"))


# ----- private helpers -----------------------------------------------------------------------


def _parse(data: bytes, source: str) -> Replay:
    """The work of :func:`sgf_to_replay`; may raise anything on hostile input."""
    from sgfmill import sgf

    if len(data) > MAX_BYTES:
        raise ValueError(f"{source}: {len(data)} bytes; SGF files over {MAX_BYTES} are refused")
    try:
        record = sgf.Sgf_game.from_bytes(data)
    except ValueError as e:
        raise ValueError(f"{source}: not an SGF file ({e or 'unreadable'})") from e
    root = record.get_root()
    game = root.get("GM") if root.has_property("GM") else 1
    if game != 1:
        raise ValueError(f"{source}: GM[{game}] is not Go (GM[1]); only Go records import")
    raw_size = root.get_raw("SZ") if root.has_property("SZ") else b"19"
    if b":" in raw_size:
        raise ValueError(f"{source}: non-square board SZ[{raw_size.decode(errors='replace')}] is not supported")
    size = record.get_size()
    if not 5 <= size <= 19:
        raise ValueError(f"{source}: board size {size} is not supported (5..19)")
    komi = _komi(root, size, source)
    nodes = record.get_main_sequence()
    for node in nodes:
        for prop in ("AB", "AW", "AE"):
            if node.has_property(prop):
                raise ValueError(f"{source}: setup stones ({prop}) are not supported: our games start on an empty "
                                 "board (handicap games and problems cannot be imported)")
    if root.has_property("PL") and root.get("PL") == "w":
        raise ValueError(f"{source}: PL[W] (white to play first) is not supported: black moves first")
    moves = _moves(nodes, size, source)
    players = (_name(root, "PB", "black"), _name(root, "PW", "white"))
    result = _result_from_sgf(root.get("RE") if root.has_property("RE") else None, source)
    replay = Replay("go", {"size": size, "komi": komi}, players, tuple(moves), result)
    _check_legal(replay, source)
    return replay


def _moves(nodes: list[Any], size: int, source: str) -> list[int]:
    """Action ids of the main line's moves, checked to alternate black, white, ..."""
    moves: list[int] = []
    for node in nodes:
        number = len(moves) + 1
        if node.has_property("B") and node.has_property("W"):
            raise ValueError(f"{source}: move {number}: a node with both B and W moves")
        try:
            colour, point = node.get_move()
        except ValueError as e:
            prop = "B" if node.has_property("B") else "W"
            raw = node.get_raw(prop).decode("utf-8", errors="replace")[:20]
            raise ValueError(f"{source}: move {number} {prop}[{raw}] is not a point of a {size}x{size} board") from e
        if colour is None:
            continue
        expected = "bw"[len(moves) % 2]
        if colour != expected:
            raise ValueError(f"{source}: move {number} is {colour.upper()} but {expected.upper()} is to play "
                             "(moves must alternate, black first)")
        moves.append(from_sgfmill(point, size))
    return moves


def _check_legal(replay: Replay, source: str) -> None:
    """Step every move through the rules; name the first illegal one."""
    import torch

    from envs.core import GameFinishedError, IllegalActionError

    game = replay.spec.uncapped().make()
    state = game.init(1)
    for i, action in enumerate(replay.moves):
        try:
            state = game.step(state, torch.tensor([action]))
        except GameFinishedError as e:
            raise ValueError(f"{source}: move {i + 1} ({'BW'[i % 2]} {game.action_to_string(action)}) comes after the "
                             "game ended (two passes)") from e
        except IllegalActionError as e:
            board = int(state.board[0, action]) if action < game.num_points else 0
            why = "the point is occupied" if board != 0 else "suicide or a superko repetition"
            raise ValueError(f"{source}: move {i + 1} ({'BW'[i % 2]} {game.action_to_string(action)}) is illegal: "
                             f"{why}") from e


def _komi(root: Any, size: int, source: str) -> float:
    """KM as a finite float no larger than the board (0 when absent)."""
    if not root.has_property("KM"):
        return 0.0
    try:
        komi = float(root.get("KM"))
    except ValueError as e:
        raw = root.get_raw("KM").decode("utf-8", errors="replace")[:20]
        raise ValueError(f"{source}: komi KM[{raw}] is not a number") from e
    if not math.isfinite(komi) or abs(komi) > size * size:
        raise ValueError(f"{source}: komi {komi:g} is out of range for a {size}x{size} board")
    return komi


def _name(root: Any, prop: str, default: str) -> str:
    """A player name (first 100 characters; ``default`` when absent or empty)."""
    if not root.has_property(prop):
        return default
    name = str(root.get(prop)).strip()[:100]
    return name or default


def _result_to_sgf(result: str | None) -> str | None:
    """Our result text as SGF ``RE``: ``B+3.5``/``W+R`` as they are, ``draw`` as ``0``, the
    self-play ``first/second player wins`` as ``B+``/``W+``; ``None`` when unknown."""
    if result is None:
        return None
    text = result.strip()
    if text.lower() == "draw":
        return "0"
    if text == "first player wins":
        return "B+"
    if text == "second player wins":
        return "W+"
    return text if _RESULT.match(text) else None


def _result_from_sgf(result: str | None, source: str) -> str | None:
    """SGF ``RE`` as our result text (see the module docstring)."""
    if result is None:
        return None
    text = result.strip()
    if text in ("", "?") or text.lower() == "void":
        return None
    if text in ("0", "0.0") or text.lower() in ("draw", "d", "jigo"):
        return "draw"
    m = _RESULT.match(text)
    if m is None:
        raise ValueError(f"{source}: result RE[{text[:30]}] is not understood (use e.g. B+3.5, W+R, 0 or Draw)")
    winner, by = m.group(1).upper(), m.group(2) or ""
    by = _WINS_BY.get(by.lower(), by.upper() if by.isalpha() else by)
    return f"{winner}+{by}"


def _go_config(config: dict[str, Any]) -> tuple[int, float]:
    """``(size, komi)`` of a Go replay's config, checked."""
    try:
        size, komi = int(config.get("size", 9)), float(config.get("komi", 7.5))
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad Go config {config!r}: {e}") from e
    if not 5 <= size <= 19 or not math.isfinite(komi):
        raise ValueError(f"bad Go config {config!r}: size 5..19 and a finite komi are needed")
    return size, komi


def _read_replay(path: Path, load: Any) -> Replay:
    """A replay file, with every failure as a ``ValueError`` naming the file."""
    try:
        return load(path)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not an arena replay ({type(e).__name__}: {e})") from e
