"""A slow, readable scalar Go: the reference the batched ``envs/go.py`` is checked against.

Plain Python over a flat list of ``N * N`` points (``row * N + col``, row 0 the top row),
with flood fills and loops; it imports nothing from ``envs`` so the two cannot share a bug.
Board values: +1 black, -1 white, 0 empty. Player 0 is black and moves first; action
``N * N`` is pass.

Rules (the same as the batched engine's):

- a stone is placed, then opponent chains without liberties are removed;
- suicide (the mover's own chain left without liberties) is illegal;
- positional superko: a board move may not recreate any earlier whole-board position of
  the game (the start position included). Passes are always legal and, since they leave the
  board as it is, add nothing to the history. ``ko_rule="simple"`` instead only forbids
  recreating the position before the previous move (used to show what superko adds);
- two consecutive passes, or ``max_moves`` moves (passes count; ``0``: no cap), end the game;
- Tromp-Taylor area scoring: stones plus empty regions reaching only one colour;
  ``score = black - white - komi``, the winner gets +1 and the loser -1, a draw 0.
"""

from __future__ import annotations

import random

BLACK, WHITE, EMPTY = 1, -1, 0
COLUMNS = "ABCDEFGHJKLMNOPQRST"  # GTP letters, no I
MARKS = {BLACK: "X", WHITE: "O", EMPTY: "."}


class IllegalMove(ValueError):
    """A move the reference rules forbid (or any move after the game ended)."""


# ----- board functions ----------------------------------------------------------------------


def neighbors(point: int, size: int) -> list[int]:
    """The up to 4 on-board neighbours of ``point``."""
    r, c = divmod(point, size)
    out = []
    if r > 0:
        out.append(point - size)
    if r < size - 1:
        out.append(point + size)
    if c > 0:
        out.append(point - 1)
    if c < size - 1:
        out.append(point + 1)
    return out


def flood(board: list[int], size: int, start: int) -> tuple[set[int], set[int]]:
    """The connected points of ``start``'s value (a chain, or an empty region) and the
    points bordering them (of any other value)."""
    value = board[start]
    inside, border, todo = {start}, set(), [start]
    while todo:
        p = todo.pop()
        for q in neighbors(p, size):
            if board[q] == value and q not in inside:
                inside.add(q)
                todo.append(q)
            elif board[q] != value:
                border.add(q)
    return inside, border


def chain_at(board: list[int], size: int, point: int) -> tuple[set[int], set[int]]:
    """Flood fill from a stone: (stones of its chain, empty points beside the chain)."""
    stones, border = flood(board, size, point)
    return stones, {q for q in border if board[q] == EMPTY}


def all_chains(board: list[int], size: int) -> list[tuple[int, set[int], set[int]]]:
    """Every chain on the board as (colour, stones, liberties)."""
    seen: set[int] = set()
    chains = []
    for p, v in enumerate(board):
        if v != EMPTY and p not in seen:
            stones, libs = chain_at(board, size, p)
            seen |= stones
            chains.append((v, stones, libs))
    return chains


def place_stone(board: list[int], size: int, point: int, colour: int) -> tuple[list[int], int] | None:
    """The board after ``colour`` plays on empty ``point``, and the number of stones it
    captured; ``None`` when the point is occupied or the move is suicide (ko not checked)."""
    if board[point] != EMPTY:
        return None
    new = list(board)
    new[point] = colour
    captured = 0
    for q in neighbors(point, size):
        if new[q] == -colour:
            stones, libs = chain_at(new, size, q)
            if not libs:
                for s in stones:
                    new[s] = EMPTY
                captured += len(stones)
    _, own_libs = chain_at(new, size, point)
    if not own_libs:
        return None
    return new, captured


def regions(board: list[int], size: int) -> list[tuple[set[int], set[int]]]:
    """Each empty region as (its points, the colours of the stones it touches)."""
    seen: set[int] = set()
    out = []
    for p, v in enumerate(board):
        if v == EMPTY and p not in seen:
            points, border = flood(board, size, p)
            touches = {board[q] for q in border}
            seen |= points
            out.append((points, touches))
    return out


def areas(board: list[int], size: int) -> tuple[int, int, int]:
    """Tromp-Taylor (black area, white area, neutral empty points); they sum to ``N * N``."""
    black = sum(1 for v in board if v == BLACK)
    white = sum(1 for v in board if v == WHITE)
    neutral = 0
    for points, touches in regions(board, size):
        if touches == {BLACK}:
            black += len(points)
        elif touches == {WHITE}:
            white += len(points)
        else:
            neutral += len(points)
    return black, white, neutral


def parse_ascii(text: str) -> tuple[int, list[int]]:
    """(size, board) from rows of ``X``, ``O`` and ``.`` (top row first, spaces ignored)."""
    rows = [r.replace(" ", "") for r in text.strip().splitlines() if r.strip()]
    size = len(rows)
    if any(len(r) != size for r in rows):
        raise ValueError(f"board is not square: row lengths {[len(r) for r in rows]}")
    values = {"X": BLACK, "O": WHITE, ".": EMPTY}
    return size, [values[ch] for r in rows for ch in r]


def to_ascii(board: list[int], size: int) -> str:
    """Rows of ``X``, ``O`` and ``.`` separated by spaces, top row first."""
    return "\n".join(" ".join(MARKS[board[r * size + c]] for c in range(size)) for r in range(size))


def vertex(action: int, size: int) -> str:
    """GTP name of an action: ``D4`` or ``pass``."""
    if action == size * size:
        return "pass"
    r, c = divmod(action, size)
    return f"{COLUMNS[c]}{size - r}"


def parse_vertex(text: str, size: int) -> int:
    """Action of a GTP vertex like ``D4`` (or ``pass``) on a ``size`` board."""
    t = text.strip().upper()
    if t == "PASS":
        return size * size
    col, row = COLUMNS.index(t[0]), int(t[1:])
    if not (col < size and 1 <= row <= size):
        raise ValueError(f"{text!r} is not on a {size}x{size} board")
    return (size - row) * size + col


# ----- one game -------------------------------------------------------------------------------


class GoReference:
    """One game of Go, mutated in place by :meth:`play`."""

    def __init__(
        self, size: int = 9, komi: float = 7.5, max_moves: int | None = None,
        board: list[int] | None = None, to_play: int = 0, ko_rule: str = "positional",
    ):
        if ko_rule not in ("positional", "simple"):
            raise ValueError(f"ko_rule must be 'positional' or 'simple', got {ko_rule!r}")
        self.size = size
        self.komi = float(komi)
        self.max_moves = 2 * size * size if max_moves is None else max_moves
        self.ko_rule = ko_rule
        self.board = [EMPTY] * (size * size) if board is None else list(board)
        assert len(self.board) == size * size
        self.to_play = to_play
        self.history = {tuple(self.board)}  # every whole-board position of the game so far
        self.before_last = list(self.board)  # the board before the last action (simple ko)
        self.passes = 0
        self.move_count = 0
        self.captures = [0, 0]  # stones captured by black, by white
        self.terminated = False
        self.winner = -1
        self.score: float | None = None
        self.rewards = [0.0, 0.0]

    @classmethod
    def from_ascii(cls, text: str, to_play: int = 0, **kwargs) -> GoReference:
        size, board = parse_ascii(text)
        return cls(size=size, board=board, to_play=to_play, **kwargs)

    @property
    def pass_action(self) -> int:
        return self.size * self.size

    @property
    def colour(self) -> int:
        """+1 when black is to move, -1 for white."""
        return BLACK if self.to_play == 0 else WHITE

    def outcome(self, action: int) -> tuple[list[int], int] | None:
        """(board after ``action``, stones captured), or ``None`` if it is illegal."""
        if self.terminated or not 0 <= action <= self.pass_action:
            return None
        if action == self.pass_action:
            return list(self.board), 0
        result = place_stone(self.board, self.size, action, self.colour)
        if result is None:
            return None
        if self.ko_rule == "positional" and tuple(result[0]) in self.history:
            return None
        if self.ko_rule == "simple" and result[0] == self.before_last:
            return None
        return result

    def is_legal(self, action: int) -> bool:
        return self.outcome(action) is not None

    def legal_moves(self) -> list[bool]:
        """Legal mask of length ``N * N + 1`` (last = pass); all False once the game ended."""
        return [self.is_legal(a) for a in range(self.pass_action + 1)]

    def play(self, action: int) -> None:
        """Play ``action`` for the side to move; raise :class:`IllegalMove` if it is illegal."""
        result = self.outcome(action)
        if result is None:
            why = "the game is over" if self.terminated else "illegal"
            raise IllegalMove(f"{vertex(action, self.size)}: {why}\n{to_ascii(self.board, self.size)}")
        board, captured = result
        self.before_last = self.board
        self.board = board
        self.captures[self.to_play] += captured
        if action == self.pass_action:
            self.passes += 1
        else:
            self.passes = 0
            self.history.add(tuple(board))
        self.move_count += 1
        self.to_play = 1 - self.to_play
        self.rewards = [0.0, 0.0]
        if self.passes >= 2 or (self.max_moves and self.move_count >= self.max_moves):
            self._end()

    def skip(self) -> None:
        """A batch step this finished game takes no part in: it stays frozen, rewards zero."""
        assert self.terminated, "only finished games are skipped"
        self.rewards = [0.0, 0.0]

    def areas(self) -> tuple[int, int, int]:
        return areas(self.board, self.size)

    def score_now(self) -> float:
        black, white, _ = self.areas()
        return black - white - self.komi

    def _end(self) -> None:
        self.terminated = True
        self.score = self.score_now()
        if self.score > 0:
            self.winner, self.rewards = 0, [1.0, -1.0]
        elif self.score < 0:
            self.winner, self.rewards = 1, [-1.0, 1.0]
        else:
            self.winner, self.rewards = -1, [0.0, 0.0]

    def __str__(self) -> str:
        return to_ascii(self.board, self.size)


def long_game(size: int, moves: int, seed: int) -> tuple[list[int], GoReference]:
    """Up to ``moves`` actions of one uncapped game, each a point picked at random among the
    legal ones (a pass only when there is none): without passes the board fills, is captured
    and fills again, so the game runs far past ``2 * N * N`` (400 moves on 5x5 are typical).
    Returns the actions and the reference after them."""
    rng = random.Random(seed)
    ref = GoReference(size=size, max_moves=0)
    actions: list[int] = []
    while len(actions) < moves and not ref.terminated:
        points = [a for a, ok in enumerate(ref.legal_moves()[:-1]) if ok]
        actions.append(rng.choice(points) if points else ref.pass_action)
        ref.play(actions[-1])
    return actions, ref


# ----- comparing a batched state with references ------------------------------------------


def assert_state_matches(state, refs: list[GoReference], games: list[int] | None = None, where: str = "") -> None:
    """Assert that games ``games`` of a batched Go state (any object with the documented
    tensor fields) equal the references ``refs`` (one per listed game) in every rule field."""
    games = list(range(len(refs))) if games is None else games
    fields = {
        name: getattr(state, name).tolist()
        for name in ("board", "current_player", "legal_action_mask", "terminated", "rewards",
                     "winner", "passes", "move_count", "captures", "score")
    }
    for i, ref in zip(games, refs):
        got = {name: values[i] for name, values in fields.items()}
        want = {
            "board": ref.board, "current_player": ref.to_play, "legal_action_mask": ref.legal_moves(),
            "terminated": ref.terminated, "rewards": ref.rewards, "winner": ref.winner,
            "passes": ref.passes, "move_count": ref.move_count, "captures": ref.captures,
        }
        if ref.terminated:
            want["score"] = ref.score
        for name, value in want.items():
            if got[name] != value:
                detail = ""
                if name == "legal_action_mask":
                    diff = [vertex(a, ref.size) for a, (x, y) in enumerate(zip(got[name], value)) if x != y]
                    detail = f" (differs at {diff})"
                raise AssertionError(
                    f"{where} game {i}: {name} is {got[name]}, reference {value}{detail}\n"
                    f"reference board ({'XO'[ref.to_play]} to move, move {ref.move_count}):\n{ref}"
                )
