"""Tic-tac-toe, batched over B games in torch tensors.

Cells are numbered ``row * 3 + col`` from the top-left, so the action space is 0..8.
Player 0 is X and moves first; player 1 is O. The board holds +1 for X, -1 for O and
0 for empty. A win gives the winner +1 and the loser -1; a full board is a draw (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from envs import core
from envs.spec import GameSpec, register

SIZE = 3
NUM_CELLS = SIZE * SIZE
LINES = (
    (0, 1, 2), (3, 4, 5), (6, 7, 8),  # rows
    (0, 3, 6), (1, 4, 7), (2, 5, 8),  # columns
    (0, 4, 8), (2, 4, 6),  # diagonals
)
MARKS = {1: "X", -1: "O", 0: "."}


@dataclass(frozen=True)
class TicTacToeState:
    """A batch of B tic-tac-toe games."""

    board: torch.Tensor  # int8 [B, 9]: +1 X, -1 O, 0 empty
    current_player: torch.Tensor  # long [B]: 0 (X) or 1 (O)
    legal_action_mask: torch.Tensor  # bool [B, 9]
    rewards: torch.Tensor  # float [B, 2]: reward of the last move, per player
    terminated: torch.Tensor  # bool [B]
    winner: torch.Tensor  # long [B]: 0 or 1, or -1 for a draw or an unfinished game
    move_count: torch.Tensor  # long [B]

    @property
    def batch_size(self) -> int:
        return self.board.shape[0]


class TicTacToe:
    """The batched rules; one instance serves every caller (search, envs, viewer, GTP)."""

    name = "tictactoe"
    num_actions = NUM_CELLS
    num_players = 2
    board_size = SIZE
    seat_names = ("X", "O")
    has_pass = False
    board_style = "cells"
    has_territory = False
    board_sizes = (SIZE,)

    @property
    def spec(self) -> GameSpec:
        """What builds this game again (it takes no arguments)."""
        return GameSpec.of("tictactoe")

    def resigned_text(self, winner: int) -> str:
        """The result when the other seat resigns: ``X wins (resignation)``."""
        return f"{'XO'[winner]} wins (resignation)"

    def result_text(self, state: TicTacToeState, index: int = 0) -> str | None:
        """Game ``index``'s result as replays write it: ``X wins``, ``O wins``, ``draw``; None
        while it goes on."""
        if not bool(state.terminated[index]):
            return None
        w = int(state.winner[index])
        return "draw" if w < 0 else f"{'XO'[w]} wins"

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (3, SIZE, SIZE)

    def init(
        self, batch: int = 1, device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> TicTacToeState:
        """``batch`` empty boards with X to move. ``generator`` is unused (no chance)."""
        device = core.resolve_device(device)
        return TicTacToeState(
            board=torch.zeros(batch, NUM_CELLS, dtype=torch.int8, device=device),
            current_player=torch.zeros(batch, dtype=torch.long, device=device),
            legal_action_mask=torch.ones(batch, NUM_CELLS, dtype=torch.bool, device=device),
            rewards=torch.zeros(batch, 2, device=device),
            terminated=torch.zeros(batch, dtype=torch.bool, device=device),
            winner=torch.full((batch,), -1, dtype=torch.long, device=device),
            move_count=torch.zeros(batch, dtype=torch.long, device=device),
        )

    def pass_turn(self, state: TicTacToeState) -> TicTacToeState:
        """The other side to move in every game, the board unchanged (tic-tac-toe has no pass;
        out-of-turn moves in GTP). Legal moves do not depend on whose turn it is."""
        return replace(state, current_player=1 - state.current_player)

    def step(self, state: TicTacToeState, action: torch.Tensor | int, checked: bool = True) -> TicTacToeState:
        """Play ``action`` [B] in every game. See :mod:`envs.core` for checked/unchecked."""
        action = core.as_actions(action, state.batch_size, state.board.device)
        if checked:
            core.check_actions(self, state, action)
        sign = (1 - 2 * state.current_player).to(torch.int8)  # +1 X, -1 O
        board = state.board.scatter(1, action[:, None], sign[:, None])
        lines = _lines(board.device)
        won = (board[:, lines] == sign[:, None, None]).all(dim=2).any(dim=1)
        full = (board != 0).all(dim=1)
        terminated = won | full
        mover = state.current_player
        reward_mover = won.float()
        rewards = torch.stack([reward_mover, -reward_mover], dim=1)
        rewards = torch.where(mover[:, None] == 0, rewards, rewards.flip(1))
        after = TicTacToeState(
            board=board,
            current_player=1 - mover,
            legal_action_mask=(board == 0) & ~terminated[:, None],
            rewards=rewards,
            terminated=terminated,
            winner=torch.where(won, mover, -1),
            move_count=state.move_count + 1,
        )
        return after if checked else core.freeze_finished(state, after)

    def observe(self, state: TicTacToeState) -> torch.Tensor:
        """Float ``[B, 3, 3, 3]``: own marks, opponent marks, and a plane of ones when X moves."""
        sign = (1 - 2 * state.current_player).to(torch.int8)[:, None]
        own = (state.board == sign).float()
        opp = (state.board == -sign).float()
        side = (state.current_player == 0).float()[:, None].expand_as(own)
        return torch.stack([own, opp, side], dim=1).view(-1, 3, SIZE, SIZE)

    def render(self, state: TicTacToeState, index: int = 0) -> str:
        """ASCII board of game ``index``, with column letters and row numbers (GTP style)."""
        cells = state.board[index].tolist()
        rows = ["   A B C"]
        for r in range(SIZE):
            marks = " ".join(MARKS[cells[r * SIZE + c]] for c in range(SIZE))
            rows.append(f"{SIZE - r}  {marks}")
        if bool(state.terminated[index]):
            rows.append(self.result_text(state, index))
        else:
            rows.append(f"{'XO'[int(state.current_player[index])]} to move")
        return "\n".join(rows)

    def action_to_string(self, action: int) -> str:
        """Cell name like ``B2`` (columns A-C left to right, rows 3..1 top to bottom)."""
        if not 0 <= action < NUM_CELLS:
            raise ValueError(f"tic-tac-toe actions are 0..8, got {action}")
        r, c = divmod(action, SIZE)
        return f"{'ABC'[c]}{SIZE - r}"

    def string_to_action(self, text: str) -> int:
        """Inverse of :meth:`action_to_string`; also accepts a bare cell number ``0``..``8``."""
        t = text.strip().upper()
        if t.isascii() and t.isdecimal() and 0 <= int(t) < NUM_CELLS:
            return int(t)
        if len(t) == 2 and t[0] in "ABC" and t[1] in "123":
            return (SIZE - int(t[1])) * SIZE + "ABC".index(t[0])
        raise ValueError(f"not a tic-tac-toe cell: {text!r} (use A1..C3 or 0..8)")

    def symmetries(self, planes: torch.Tensor, policy: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The 8 symmetric copies of observations ``[B, C, 3, 3]`` and policies ``[B, 9]``."""
        return core.symmetries(planes, policy, SIZE)


_LINES_CACHE: dict[torch.device, torch.Tensor] = {}


def _lines(device: torch.device) -> torch.Tensor:
    """The 8 winning lines as long ``[8, 3]`` on ``device`` (cached per device)."""
    if device not in _LINES_CACHE:
        _LINES_CACHE[device] = torch.tensor(LINES, dtype=torch.long, device=device)
    return _LINES_CACHE[device]


register("tictactoe", TicTacToe)
