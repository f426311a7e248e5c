"""An exact minimax solver for tic-tac-toe: the perfect opponent and the judge of optimal play.

Every position reachable from the empty board (5,478 of them, 4,520 with the game still
running) is enumerated once, by a memoized depth-first search over board tuples, and
solved exactly. The table is built lazily on the first call and cached for the process.

A board is a tuple of 9 ints, ``+1`` for X, ``-1`` for O and ``0`` for empty, indexed
``row * 3 + col`` exactly like :class:`envs.tictactoe.TicTacToeState`'s ``board`` row. The
side to move follows from the counts: X moves first, so X is to move when both sides have
the same number of marks.

Values are from the point of view of the side to move, with perfect play by both sides:
``+1`` a forced win, ``0`` a draw, ``-1`` a forced loss. An action is *optimal* when it
keeps that value; the solver does not prefer faster wins (every value-keeping move still
wins, because the game is finite).
"""

from __future__ import annotations

import functools
import random
import types
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch

from envs.core import Solver
from envs.spec import register_solver
from envs.tictactoe import LINES, NUM_CELLS, TicTacToeState

Board = tuple[int, ...]
EMPTY_BOARD: Board = (0,) * NUM_CELLS


class Solution(NamedTuple):
    """The solved facts about one position."""

    value: int  # +1 / 0 / -1 for the side to move, with perfect play
    optimal_actions: frozenset[int]  # value-keeping moves; empty when the game is over
    terminal: bool  # the game is over (a line of three, or a full board)


def solve() -> Mapping[Board, Solution]:
    """The solved table of every reachable position (built on the first call, then cached).

    Returns:
        A read-only mapping from each of the 5,478 reachable boards (terminal ones included)
        to its :class:`Solution`.
    """
    return _table()


def value(board: Sequence[int]) -> int:
    """Minimax value (+1 win, 0 draw, -1 loss) of ``board`` for the side to move.

    A finished game is worth ``-1`` to the side to move when the other side has just
    completed a line, and ``0`` for a full board without a line.

    Raises:
        ValueError: ``board`` is not a position reachable from the empty board.
    """
    return _lookup(board).value


def optimal_actions(board: Sequence[int]) -> frozenset[int]:
    """Every move that keeps the minimax value of ``board``; empty when the game is over.

    Raises:
        ValueError: ``board`` is not a position reachable from the empty board.
    """
    return _lookup(board).optimal_actions


def best_action(board: Sequence[int], rng: random.Random | torch.Generator | None = None) -> int:
    """One optimal move of ``board``, uniformly at random among the optimal ones.

    Args:
        board: 9 cells in ``{1, -1, 0}``.
        rng: a ``random.Random`` or ``torch.Generator`` for the tie-break; ``None`` uses the
            global ``random`` module.

    Raises:
        ValueError: the board is unreachable or the game is already over.
    """
    return _choose(_optimal_sorted(board), rng)


def reachable_positions() -> frozenset[Board]:
    """All 5,478 positions reachable from the empty board, terminal ones included."""
    return frozenset(_table())


def nonterminal_positions() -> frozenset[Board]:
    """The 4,520 reachable positions in which the game is still running."""
    return frozenset(b for b, s in _table().items() if not s.terminal)


def minimax_actions(
    state: TicTacToeState, generator: torch.Generator | random.Random | None = None,
) -> torch.Tensor:
    """An optimal move for every game of a batched state (the minimax opponent).

    Ties between optimal moves are broken uniformly at random with ``generator``. Finished
    games get action 0, which unchecked ``step`` ignores (like :func:`envs.core.random_actions`).

    Args:
        state: a batch of B games.
        generator: a ``torch.Generator`` (CPU) or ``random.Random`` for the tie-breaks;
            ``None`` uses the global ``random`` module.

    Returns:
        long ``[B]`` on the state's device. This walks the batch in Python (one host sync),
        which is fine for an opponent: tic-tac-toe has only 4,520 positions.
    """
    boards = state.board.tolist()
    finished = state.terminated.tolist()
    actions = [0 if done else _choose(_optimal_sorted(b), generator) for b, done in zip(boards, finished)]
    return torch.tensor(actions, dtype=torch.long, device=state.board.device)


def side_to_move(board: Sequence[int]) -> int:
    """0 when X is to move, 1 when O is (from the counts of marks; no validity check)."""
    return 0 if sum(board) == 0 else 1


# ----- private helpers -------------------------------------------------------------------


def _winner_mark(board: Board) -> int:
    """+1 or -1 for the mark that owns a full line, 0 when there is none."""
    for a, b, c in LINES:
        if board[a] != 0 and board[a] == board[b] == board[c]:
            return board[a]
    return 0


@functools.lru_cache(maxsize=1)
def _table() -> Mapping[Board, Solution]:
    """Solve every position reachable from the empty board (depth-first, memoized)."""
    table: dict[Board, Solution] = {}
    _solve_into(EMPTY_BOARD, table)
    return types.MappingProxyType(table)


def _solve_into(board: Board, table: dict[Board, Solution]) -> int:
    """Value of ``board`` for the side to move; records it and every descendant in ``table``.

    Depth is at most 9, so the recursion is shallow.
    """
    if board in table:
        return table[board].value
    if _winner_mark(board) != 0:  # the side that just moved completed a line
        table[board] = Solution(-1, frozenset(), True)
        return -1
    empty = [i for i, v in enumerate(board) if v == 0]
    if not empty:
        table[board] = Solution(0, frozenset(), True)
        return 0
    mark = 1 if sum(board) == 0 else -1
    child_values = {}
    for a in empty:
        child = board[:a] + (mark,) + board[a + 1:]
        child_values[a] = -_solve_into(child, table)
    best = max(child_values.values())
    table[board] = Solution(best, frozenset(a for a, v in child_values.items() if v == best), False)
    return best


def _lookup(board: Sequence[int]) -> Solution:
    """The table entry of ``board``, or a ValueError that says what is wrong with it."""
    key = tuple(int(v) for v in board)
    solution = _table().get(key)
    if solution is not None:
        return solution
    if len(key) != NUM_CELLS or any(v not in (-1, 0, 1) for v in key):
        raise ValueError(f"a tic-tac-toe board is 9 cells in {{1 (X), -1 (O), 0}}, got {key}")
    raise ValueError(
        f"tic-tac-toe board {key} is not reachable from the empty board (X moves first, so X "
        f"has as many marks as O or one more, and nobody moves after a line of three)\n"
        f"{_ascii(key)}"
    )


@functools.lru_cache(maxsize=None)
def _sorted_optimal(key: Board) -> tuple[int, ...]:
    """Cached sorted optimal moves of a board tuple."""
    return tuple(sorted(_lookup(key).optimal_actions))


def _optimal_sorted(board: Sequence[int]) -> tuple[int, ...]:
    """Optimal moves of ``board`` in increasing order (a fixed order makes seeding exact)."""
    key = tuple(int(v) for v in board)
    moves = _sorted_optimal(key)  # raises for an unreachable board (errors are not cached)
    if not moves:
        raise ValueError(f"the game is already over, there is no move to choose\n{_ascii(key)}")
    return moves


def _choose(moves: tuple[int, ...], rng: random.Random | torch.Generator | None) -> int:
    """One of ``moves`` uniformly at random (no draw at all when there is a single choice)."""
    if len(moves) == 1:
        return moves[0]
    if isinstance(rng, torch.Generator):
        return moves[int(torch.randint(len(moves), (1,), generator=rng))]
    return (rng or random).choice(moves)


def _ascii(board: Board) -> str:
    """Three rows of ``X``/``O``/``.`` for error messages."""
    marks = {1: "X", -1: "O", 0: "."}
    return "\n".join(" ".join(marks.get(v, "?") for v in board[r * 3:r * 3 + 3]) for r in range(3))


class Judge(NamedTuple):
    """Every reachable non-terminal position as one batched state, with its optimal moves."""

    state: TicTacToeState  # B = 4,520 games, in a fixed (sorted) order
    optimal: torch.Tensor  # bool [4520, 9]: the value-keeping moves of each position


def judge_positions(device: torch.device | str | None = None) -> Judge:
    """The 4,520 non-terminal positions as a batch, for judging an agent's moves in one call
    (``optimal.gather(1, actions[:, None])`` says which of its moves keep the value)."""
    boards = sorted(nonterminal_positions())
    board = torch.tensor(boards, dtype=torch.int8, device=device)
    marks = (board != 0).sum(dim=1)
    optimal = torch.zeros(len(boards), NUM_CELLS, dtype=torch.bool)
    for i, b in enumerate(boards):
        optimal[i, list(_lookup(b).optimal_actions)] = True
    state = TicTacToeState(
        board=board,
        current_player=(marks % 2).long(),
        legal_action_mask=board == 0,
        rewards=torch.zeros(len(boards), 2, device=board.device),
        terminated=torch.zeros(len(boards), dtype=torch.bool, device=board.device),
        winner=torch.full((len(boards),), -1, dtype=torch.long, device=board.device),
        move_count=marks.long(),
    )
    return Judge(state, optimal.to(board.device))


register_solver("tictactoe", Solver(minimax_actions, judge_positions))
