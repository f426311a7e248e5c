"""Go on N x N boards (5..19, default 9), batched over B games in torch tensors.

Rules (one implementation for every caller: search, self-play, envs, viewer, GTP):

- Points are numbered ``row * N + col`` with row 0 the top row as drawn; action ``N * N``
  is pass. Player 0 is black and moves first; the board holds +1 black, -1 white, 0 empty.
- A stone is placed, then opponent chains left without liberties are removed. Suicide
  (a move whose own chain is left without liberties) is illegal, for one stone or a group.
- Positional superko: a board move that recreates any earlier whole-board position of the
  game is illegal. Passes are always legal and do not change the position.
- The game ends after two consecutive passes. That is the only rule; ``max_moves`` adds a
  self-play truncation chosen by the trainer: the game also ends, and is scored like any
  other, at that many moves (passes count; default ``2 * N * N``, the same cap as Pgx: 162
  on 9x9, 722 on 19x19). ``max_moves=0`` is no cap, the game people play (GTP, the window,
  replays, SGF, matches: ``envs.make_uncapped``), however long it lasts.
- Tromp-Taylor area scoring: a player's area is their stones plus the empty points that
  reach only their stones. ``score = black area - white area - komi``; > 0 black wins,
  < 0 white wins, 0 (integer komi) is a draw. Rewards are +1/-1 on the final move.

How the batch steps without per-stone Python loops (the Pgx approach): every stone carries
the id of its chain (the index of one of its stones), and liberties are counted per chain
id with one ``scatter_add`` over the empty points, each empty point counting once for each
distinct chain beside it. Placing a stone relabels the merged chains with one comparison
over the board; a capture removes whole chains the same way. Superko uses a Zobrist hash:
each stone adds a random 54-bit number (so sums never overflow int64), a candidate move's
hash is the current hash plus its stone minus the hashes of the chains it captures, and it
is looked up in the game's sorted history of hashes with ``searchsorted``. A capped game's
history has one slot per position the cap allows; an uncapped game's starts at ``4 N^2 + 1``
slots and checked steps double it whenever it is more than half full (:meth:`Go.make_room`),
so every legal move of a played game is accepted. Unchecked steps never reshape a state
(search trees and CUDA graphs hold fixed shapes); an unchecked line that fills the history
ends there and is scored, like a capped one, so superko stays exact. Those kernels
(chain labels, liberties, legality, hashes, area scoring) are pure functions in
:mod:`envs.go_board`; this module holds the state and the game around them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from envs import core, go_board
from envs.spec import GameSpec, register

GTP_COLUMNS = "ABCDEFGHJKLMNOPQRST"  # GTP skips the letter I
SENTINEL = torch.iinfo(torch.int64).max  # empty slot in the sorted hash history


@dataclass(frozen=True)
class GoState:
    """A batch of B Go games. ``P = N * N`` points; chain ids equal ``P`` on empty points."""

    board: torch.Tensor  # int8 [B, P]: +1 black, -1 white, 0 empty
    chain: torch.Tensor  # long [B, P]: id of the chain on each point, P where empty
    liberties: torch.Tensor  # long [B, P]: liberty count of the chain with that id
    current_player: torch.Tensor  # long [B]: 0 black, 1 white
    legal_action_mask: torch.Tensor  # bool [B, P + 1]; last is pass
    rewards: torch.Tensor  # float [B, 2]
    terminated: torch.Tensor  # bool [B]
    winner: torch.Tensor  # long [B]: 0 black, 1 white, -1 draw or unfinished
    score: torch.Tensor  # float [B]: black area - white area - komi, set at the end
    passes: torch.Tensor  # long [B]: consecutive passes just played
    move_count: torch.Tensor  # long [B]
    captures: torch.Tensor  # long [B, 2]: stones captured by black, by white
    hash: torch.Tensor  # long [B]: Zobrist hash of the board
    hash_history: torch.Tensor  # long [B, K]: sorted, SENTINEL-padded; K = max_moves + 1, or grown uncapped
    previous: torch.Tensor  # int8 [B, history - 1, P]: earlier boards, newest first

    @property
    def batch_size(self) -> int:
        return self.board.shape[0]


class Go:
    """Batched Go rules. ``history`` boards (the current one included) feed ``observe``.

    ``max_moves`` is the self-play truncation (see the module docstring): ``None`` (default)
    for ``2 * N * N``, a positive int for that many moves, ``0`` for no cap. The attribute
    ``max_moves`` holds the cap in force, ``None`` when there is none.
    """

    name = "go"
    num_players = 2
    seat_names = ("black", "white")
    has_pass = True
    board_style = "points"
    has_territory = True
    board_sizes = tuple(range(5, 20))

    def __init__(self, size: int = 9, komi: float = 7.5, max_moves: int | None = None, history: int = 4):
        if size not in self.board_sizes:
            raise ValueError(f"board size must be 5..19, got {size}")
        if history < 1:
            raise ValueError(f"history must be >= 1 board, got {history}")
        if max_moves is not None and int(max_moves) < 0:
            raise ValueError(f"max_moves must be a positive cap, or 0 for none; got {max_moves}")
        self.board_size = size
        self.komi = float(komi)
        self.max_moves: int | None = 2 * size * size if max_moves is None else (int(max_moves) or None)
        self.history = history
        self.num_points = size * size
        self.num_actions = self.num_points + 1
        self.pass_action = self.num_points
        self._tables: dict[torch.device, go_board.Tables] = {}
        self._empty: dict[torch.device, GoState] = {}

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        return (2 * self.history + 1, self.board_size, self.board_size)

    @property
    def spec(self) -> GameSpec:
        """What builds this game again: size and komi, plus the move cap and history when they
        are not the defaults (``max_moves=0``: uncapped)."""
        kwargs: dict[str, Any] = {"size": self.board_size, "komi": self.komi}
        if self.max_moves != 2 * self.num_points:
            kwargs["max_moves"] = self.max_moves or 0
        if self.history != 4:
            kwargs["history"] = self.history
        return GameSpec.of("go", **kwargs)

    def resigned_text(self, winner: int) -> str:
        """The result when the other seat resigns: ``B+R``, ``W+R`` (SGF's form)."""
        return f"{'BW'[winner]}+R"

    def result_text(self, state: GoState, index: int = 0) -> str | None:
        """Game ``index``'s result as replays and SGF write it: ``B+3.5``, ``W+0.5`` (the area
        score with komi), ``draw``; None while it goes on."""
        if not bool(state.terminated[index]):
            return None
        s = float(state.score[index])
        return "draw" if s == 0 else f"{'B' if s > 0 else 'W'}+{abs(s):g}"

    # ----- the batched rules ------------------------------------------------------------

    def init(
        self, batch: int = 1, device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> GoState:
        """``batch`` empty boards with black to move. ``generator`` is unused (no chance)."""
        device = core.resolve_device(device)
        if device not in self._empty:  # the empty position is the same for every game: build it once
            board = torch.zeros(1, self.num_points, dtype=torch.int8, device=device)
            self._empty[device] = self.from_board(board, torch.zeros(1, dtype=torch.long, device=device))
        empty = self._empty[device]
        return GoState(**{f.name: getattr(empty, f.name).expand(batch, *getattr(empty, f.name).shape[1:]).clone()
                          for f in fields(GoState)})

    def pass_turn(self, state: GoState) -> GoState:
        """The other side to move in every game, by a pass that does not count toward the two
        consecutive passes that end a game (out-of-turn moves and handicap set-up in GTP).
        It is a real pass otherwise: it enters the move count and the superko history."""
        state = replace(state, passes=torch.zeros_like(state.passes))
        return self.step(state, torch.full_like(state.current_player, self.pass_action))

    def step(self, state: GoState, action: torch.Tensor | int, checked: bool = True) -> GoState:
        """Play ``action`` [B] (a point or pass) in every game; see :mod:`envs.core`."""
        action = core.as_actions(action, state.batch_size, state.board.device)
        if checked:
            core.check_actions(self, state, action)
            state = self.make_room(state)  # a played game never runs out of superko history
        t = self._tables_for(state.board.device)
        P = self.num_points
        play = (action != P) & ~state.terminated  # [B] a stone is placed
        point = action.clamp(max=P - 1)
        colour = (1 - 2 * state.current_player).to(torch.int8)  # +1 black, -1 white

        # Chains beside the new stone: the opponent's in atari die, our own merge into it.
        around = t.neighbors[point]  # (B, 4)
        around_colour = go_board.pad(state.board, go_board.OFF_BOARD).gather(1, around)
        around_chain = go_board.pad(state.chain, P).gather(1, around)
        around_libs = go_board.pad(state.liberties, 0).gather(1, around_chain)
        dies = play[:, None] & (around_colour == -colour[:, None]) & (around_libs == 1)
        joins = play[:, None] & (around_colour == colour[:, None])
        captured = go_board.member(state.chain, torch.where(dies, around_chain, -1))  # (B, P)
        placed = play[:, None] & (torch.arange(P, device=action.device) == point[:, None])
        merged = placed | go_board.member(state.chain, torch.where(joins, around_chain, -1))

        board = torch.where(placed, colour[:, None], torch.where(captured, 0, state.board).to(torch.int8))
        chain = torch.where(merged, point[:, None], torch.where(captured, P, state.chain))
        taken = captured.sum(dim=1)
        mover = state.current_player
        captures = state.captures + torch.stack([taken * (mover == 0), taken * (mover == 1)], dim=1)

        passes = torch.where(play, 0, state.passes + 1)
        move_count = state.move_count + 1
        new_hash = go_board.board_hash(board, t.zobrist)
        history = go_board.history_insert(state.hash_history, torch.where(play, new_hash, SENTINEL))
        terminated = (passes >= 2) | self._truncated(move_count, history)
        previous = torch.cat([state.board[:, None], state.previous[:, :-1]], dim=1)
        after = self._finish(
            board, chain, 1 - mover, terminated, passes, move_count, captures, new_hash, history, previous,
            newly_ended=terminated & ~state.terminated,
        )
        return after if checked else core.freeze_finished(state, after)

    def make_room(self, state: GoState) -> GoState:
        """``state`` with at most half of every game's superko history in use: an uncapped
        game's history doubles in width when it is fuller (a capped one always fits).

        Checked steps call it first, so played games never run out. A caller stepping real
        games of an uncapped batch unchecked calls it between moves; it reads one boolean
        back from the device, and the widened state no longer mixes with narrower ones (one
        batch, one width: keep a cap for batched auto-reset).
        """
        history = state.hash_history
        width = history.shape[1]
        if self.max_moves is not None or not bool((history[:, width // 2] != SENTINEL).any()):
            return state
        return replace(state, hash_history=torch.cat([history, torch.full_like(history, SENTINEL)], dim=1))

    def from_board(self, board: torch.Tensor, current_player: torch.Tensor) -> GoState:
        """A fresh game state from any boards int8 [B, P] (its history is that position only).

        Chains are labelled by min-label propagation; used by ``init``, fixtures and GTP.
        """
        board = board.to(torch.int8)
        B = board.shape[0]
        device = board.device
        if board.shape[1] != self.num_points:
            raise ValueError(f"expected boards of {self.num_points} points, got {board.shape[1]}")
        t = self._tables_for(device)
        chain = go_board.label_chains(board, t.neighbors)
        h = go_board.board_hash(board, t.zobrist)
        history = torch.full((B, self._history_slots()), SENTINEL, dtype=torch.long, device=device)
        history[:, 0] = h
        zeros = torch.zeros(B, dtype=torch.long, device=device)
        return self._finish(
            board, chain, current_player.long().to(device), torch.zeros(B, dtype=torch.bool, device=device),
            zeros, zeros, torch.zeros(B, 2, dtype=torch.long, device=device), h, history,
            torch.zeros(B, self.history - 1, self.num_points, dtype=torch.int8, device=device),
            newly_ended=None,
        )

    def from_ascii(self, text: str, to_play: int = 0) -> GoState:
        """One game (B=1) from rows of ``X`` (black), ``O`` (white) and ``.``, top row first."""
        rows = [r.replace(" ", "") for r in text.strip().splitlines() if r.strip()]
        N = self.board_size
        if len(rows) != N or any(len(r) != N for r in rows):
            raise ValueError(f"expected {N} rows of {N} points, got {[len(r) for r in rows]}")
        values = {"X": 1, "O": -1, ".": 0, "+": 0}
        try:
            cells = [values[ch] for r in rows for ch in r.upper()]
        except KeyError as e:
            raise ValueError(f"unknown point {e.args[0]!r}; use X, O or .") from None
        board = torch.tensor([cells], dtype=torch.int8)
        return self.from_board(board, torch.tensor([to_play]))

    def areas(self, state: GoState) -> torch.Tensor:
        """Tromp-Taylor areas ``[B, 2]`` (black, white) of the current boards."""
        return go_board.areas(state.board, self._tables_for(state.board.device).neighbors)

    def ownership(self, state: GoState) -> torch.Tensor:
        """int8 ``[B, N * N]``: the owner of each point of the current boards under area
        scoring (+1 black, -1 white, 0 neither): the ownership head's training target."""
        return go_board.ownership(state.board, self._tables_for(state.board.device).neighbors)

    def score_now(self, state: GoState) -> torch.Tensor:
        """``black area - white area - komi`` of the current boards, float ``[B]``."""
        a = self.areas(state)
        return (a[:, 0] - a[:, 1]).float() - self.komi

    def observe(self, state: GoState) -> torch.Tensor:
        """Float ``[B, 2H + 1, N, N]`` from the side to move: for the current board and the
        ``H - 1`` before it (newest first), a plane of own stones and one of the opponent's;
        then a plane of ones when black is to move (komi favours white)."""
        B, N = state.batch_size, self.board_size
        boards = torch.cat([state.board[:, None], state.previous], dim=1)  # (B, H, P)
        me = (1 - 2 * state.current_player).to(torch.int8)[:, None, None]
        own = boards == me
        opp = boards == -me
        planes = torch.stack([own, opp], dim=2).view(B, 2 * self.history, N, N)
        side = (state.current_player == 0).view(B, 1, 1, 1).expand(B, 1, N, N)
        return torch.cat([planes, side], dim=1).float()

    def symmetries(self, planes: torch.Tensor, policy: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The 8 symmetric copies of observations ``[B, C, N, N]`` and policies ``[B, P + 1]``."""
        return core.symmetries(planes, policy, self.board_size)

    # ----- text ---------------------------------------------------------------------------

    def render(self, state: GoState, index: int = 0) -> str:
        """ASCII board of game ``index`` with GTP coordinates, captures and the result."""
        N = self.board_size
        cells = state.board[index].tolist()
        letters = GTP_COLUMNS[:N]
        lines = ["   " + " ".join(letters)]
        for r in range(N):
            row = " ".join({1: "X", -1: "O", 0: "."}[cells[r * N + c]] for c in range(N))
            lines.append(f"{N - r:>2} {row} {N - r:<2}")
        lines.append("   " + " ".join(letters))
        caps = state.captures[index].tolist()
        lines.append(f"captures: black {caps[0]}, white {caps[1]}; move {int(state.move_count[index])}")
        if bool(state.terminated[index]):
            lines.append(f"result: {self.result_text(state, index)}")
        else:
            lines.append(f"{('black (X)', 'white (O)')[int(state.current_player[index])]} to move")
        return "\n".join(lines)

    def action_to_string(self, action: int) -> str:
        """GTP vertex like ``D4`` (column letter without I, row 1 at the bottom) or ``pass``."""
        N = self.board_size
        if action == self.pass_action:
            return "pass"
        if not 0 <= action < self.num_points:
            raise ValueError(f"Go {N}x{N} actions are 0..{self.num_points} (pass), got {action}")
        r, c = divmod(action, N)
        return f"{GTP_COLUMNS[c]}{N - r}"

    def string_to_action(self, text: str) -> int:
        """Inverse of :meth:`action_to_string` (case-insensitive); raises ValueError on junk."""
        t = text.strip().upper()
        N = self.board_size
        if t == "PASS":
            return self.pass_action
        if len(t) >= 2 and t[0] in GTP_COLUMNS[:N] and t[1:].isascii() and t[1:].isdecimal():
            row = int(t[1:])
            if 1 <= row <= N:
                return (N - row) * N + GTP_COLUMNS.index(t[0])
        raise ValueError(f"not a point on a {N}x{N} board: {text!r} (use e.g. D4 or pass)")

    # ----- internals ----------------------------------------------------------------------

    def _finish(
        self, board: torch.Tensor, chain: torch.Tensor, to_play: torch.Tensor, terminated: torch.Tensor,
        passes: torch.Tensor, move_count: torch.Tensor, captures: torch.Tensor, h: torch.Tensor,
        history: torch.Tensor, previous: torch.Tensor, newly_ended: torch.Tensor | None,
    ) -> GoState:
        """Liberties, the legal moves of the side to move, and the result of ended games."""
        t = self._tables_for(board.device)
        B, P = board.shape
        liberties, around_chain, first = go_board.count_liberties(board, chain, t.neighbors)
        legal = go_board.legal_points(board, chain, liberties, around_chain, first, to_play, h, history, t)
        mask = torch.cat([legal, torch.ones(B, 1, dtype=torch.bool, device=board.device)], dim=1)
        mask &= ~terminated[:, None]
        score = torch.zeros(B, device=board.device)
        if newly_ended is not None and core.capturing():  # no host sync inside a CUDA graph
            a = go_board.areas_closure(board, t.neighbors)
            score = torch.where(newly_ended, (a[:, 0] - a[:, 1]).float() - self.komi, score)
        elif newly_ended is not None and bool(newly_ended.any()):  # flood-fill only the ended games
            ended_rows = newly_ended.nonzero()[:, 0]
            a = go_board.areas(board[ended_rows], t.neighbors)
            score = score.index_put((ended_rows,), (a[:, 0] - a[:, 1]).float() - self.komi)
        ended = newly_ended if newly_ended is not None else torch.zeros_like(terminated)
        black = torch.sign(score) * ended.float()
        return GoState(
            board=board, chain=chain, liberties=liberties, current_player=to_play, legal_action_mask=mask,
            rewards=torch.stack([black, -black], dim=1), terminated=terminated,
            winner=torch.where(ended & (score != 0), (score < 0).long(), -1), score=score, passes=passes,
            move_count=move_count, captures=captures, hash=h, hash_history=history, previous=previous,
        )

    def _history_slots(self) -> int:
        """Width of a new game's hash history: every position the cap allows, or a start of
        ``4 N^2 + 1`` when uncapped (past the longest real games; grown by :meth:`make_room`)."""
        return self.max_moves + 1 if self.max_moves is not None else 4 * self.num_points + 1

    def _truncated(self, move_count: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """bool [B]: games cut short by the self-play cap; uncapped, by a full hash history,
        which only unchecked lines reach (checked steps make room first)."""
        if self.max_moves is None:
            return history[:, -1] != SENTINEL
        return move_count >= self.max_moves

    def _tables_for(self, device: torch.device) -> go_board.Tables:
        if device not in self._tables:
            self._tables[device] = go_board.make_tables(self.board_size, device)
        return self._tables[device]


register("go", Go, board_options=("size", "komi"))
