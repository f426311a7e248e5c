"""A slow, plain-Python tic-tac-toe: the scalar reference the batched game is checked against.

Written independently of envs/tictactoe.py on purpose (lists and loops, no torch), so a
bug in one is unlikely to be repeated in the other. Cells are ``row * 3 + col``; X (player
0, mark +1) moves first; O is player 1, mark -1.
"""

from __future__ import annotations

WIN_LINES = [
    [0, 1, 2], [3, 4, 5], [6, 7, 8],
    [0, 3, 6], [1, 4, 7], [2, 5, 8],
    [0, 4, 8], [2, 4, 6],
]


class ReferenceTicTacToe:
    """One game of tic-tac-toe, mutated in place by :meth:`play`."""

    def __init__(self, board: list[int] | None = None) -> None:
        self.board = list(board) if board is not None else [0] * 9
        self.winner = -1  # 0 X, 1 O, -1 nobody (yet)
        self.rewards = [0.0, 0.0]  # reward of the last move, per player
        for player, mark in ((0, 1), (1, -1)):
            if self._has_line(mark):
                self.winner = player

    @property
    def current_player(self) -> int:
        xs = self.board.count(1)
        os = self.board.count(-1)
        return 0 if xs == os else 1

    @property
    def terminated(self) -> bool:
        return self.winner != -1 or 0 not in self.board

    def legal_moves(self) -> list[int]:
        """Empty cells, or nothing once the game is over."""
        if self.terminated:
            return []
        return [i for i in range(9) if self.board[i] == 0]

    def mask(self) -> list[bool]:
        legal = self.legal_moves()
        return [i in legal for i in range(9)]

    def play(self, move: int) -> None:
        """Put the mover's mark on ``move``; set rewards and the winner."""
        if move not in self.legal_moves():
            raise ValueError(f"illegal move {move} on {self.board}")
        player = self.current_player
        mark = 1 if player == 0 else -1
        self.board[move] = mark
        self.rewards = [0.0, 0.0]
        if self._has_line(mark):
            self.winner = player
            self.rewards[player] = 1.0
            self.rewards[1 - player] = -1.0

    def _has_line(self, mark: int) -> bool:
        for line in WIN_LINES:
            if all(self.board[i] == mark for i in line):
                return True
        return False


def all_positions() -> set[tuple[int, ...]]:
    """Every board reachable from the empty board by legal play (breadth-first)."""
    seen = {tuple([0] * 9)}
    frontier = [ReferenceTicTacToe()]
    while frontier:
        nxt = []
        for game in frontier:
            for move in game.legal_moves():
                child = ReferenceTicTacToe(game.board)
                child.play(move)
                key = tuple(child.board)
                if key not in seen:
                    seen.add(key)
                    nxt.append(child)
        frontier = nxt
    return seen
