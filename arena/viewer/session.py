"""One person against one player: the game, its history, undo, and the agent's thread.

:class:`PlaySession` knows nothing about pixels or pygame: the window turns clicks and keys
into its methods (``play``, ``pass_move``, ``resign``, ``undo``, ``new_game``, ``swap``, and the
overlay toggles ``toggle_thinking`` and ``toggle_territory``) and draws what it holds, so the
rules of the window are testable without a display.

The opponent thinks in a daemon thread so the window keeps drawing; its answer is picked up
by :meth:`PlaySession.poll`, called once a frame. Every action that changes the game bumps a
generation counter, and an answer computed for an older generation is thrown away: undo, new
game and swap never wait for a slow search.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from arena.bots.players import Player, Thinking
from arena.io.replays import Replay, new_replay_path, save_replay
from envs.core import IllegalActionError

HUMAN = "human"
TERRITORY_HINT = "a 7x7/9x9 `arena train go` network has one"  # who shows a territory estimate


@dataclass(frozen=True)
class _Answer:
    """What the agent's thread hands back."""

    generation: int
    action: int
    thinking: Thinking | None
    error: str | None = None


class PlaySession:
    """A game between a person (seat ``human_seat``) and ``opponent``, one move at a time (B=1).

    Attributes read by the drawing code: ``game``, ``state`` (the current position), ``moves``,
    ``thinking`` (one entry per move), ``message`` (the last notice, e.g. an illegal click),
    ``result`` (text once the game is over), ``show_thinking`` (the heat map), ``show_territory``
    (Go: the ownership estimate, off at first) and :attr:`shown_thinking`.
    """

    def __init__(self, game: Any, opponent: Player, human_seat: int = 0, config: dict[str, Any] | None = None,
                 replay_dir: str | Path | None = "replays"):
        """``config`` is what ``envs.make`` needs to rebuild ``game`` (written into replays);
        ``replay_dir=None`` writes no replays."""
        self.game, self.opponent, self.human_seat = game, opponent, human_seat
        self.config = dict(config or {})
        self.replay_dir = None if replay_dir is None else Path(replay_dir)
        self.show_thinking = True
        self.show_territory = False
        self.replay_path: Path | None = None
        self._answers: queue.Queue[_Answer] = queue.Queue()
        self._generation = 0
        self._thinking_since: float | None = None  # set while the agent's thread runs
        self._agent_failed = False  # its last try raised: do not retry until the game changes
        self._reset()

    # ----- what the window shows ------------------------------------------------------------

    @property
    def to_move(self) -> int:
        """Seat to move now (0 first: X, black)."""
        return int(self.state.current_player[0])

    @property
    def over(self) -> bool:
        """The game has ended (by the rules or by resignation)."""
        return self.result is not None

    @property
    def agent_busy(self) -> bool:
        """The opponent's thread is computing a move; the person cannot move meanwhile."""
        return self._thinking_since is not None

    @property
    def human_to_move(self) -> bool:
        return not self.over and not self.agent_busy and self.to_move == self.human_seat

    @property
    def last_move(self) -> int | None:
        return self.moves[-1] if self.moves else None

    @property
    def shown_thinking(self) -> Thinking | None:
        """The opponent's thinking for its latest move (or ``None``), for the heat map."""
        for thinking in reversed(self.thinking):
            if thinking is not None:
                return thinking
        return None

    def seat_name(self, seat: int) -> str:
        """``X``/``O`` or ``black``/``white``."""
        return self.game.seat_names[seat]

    def player_names(self) -> tuple[str, str]:
        """Who sits in seat 0 and seat 1."""
        names = [self.opponent.name, self.opponent.name]
        names[self.human_seat] = HUMAN
        return names[0], names[1]

    def status(self) -> str:
        """One line: the result, whose turn it is, or that the agent is thinking."""
        if self.over:
            return f"Game over: {self.result}. N: new game, U: undo."
        if self.agent_busy:
            dots = "." * (1 + int(time.monotonic() - (self._thinking_since or 0.0)) % 3)
            return f"{self.opponent.name} ({self.seat_name(self.to_move)}) is thinking{dots}"
        if self.to_move == self.human_seat:
            return f"Your move ({self.seat_name(self.human_seat)})."
        return f"{self.opponent.name} ({self.seat_name(self.to_move)}) to move."

    # ----- what the person does -------------------------------------------------------------

    def play(self, action: int) -> bool:
        """The person plays ``action``; refused with a :attr:`message` (never an exception)
        when it is not their turn or the move is illegal. Returns whether it was played."""
        if not self._may_move():
            return False
        try:
            self._apply(action, None)
        except IllegalActionError:
            self.message = f"Illegal move: {self.game.action_to_string(action)}. Try another."
            return False
        self.message = "You passed." if self.game.has_pass and action == self.game.pass_action else ""
        self._after_move()
        return True

    def pass_move(self) -> bool:
        """The person passes (Go; a game without ``has_pass`` says so)."""
        if not self.game.has_pass:
            self.message = f"There is no pass in {self.game.name}."
            return False
        return self.play(self.game.pass_action)

    def resign(self) -> None:
        """The person resigns: the opponent wins; the replay is written."""
        if self.over:
            self.message = "The game is already over."
            return
        self._cancel_agent()
        winner = 1 - self.human_seat
        self.result = self.game.resigned_text(winner)
        self.message = "You resigned."
        self.save()

    def undo(self) -> bool:
        """Take back the person's last move and everything after it (the agent's reply), even
        while the agent is still thinking about that reply. Returns whether anything changed."""
        seats = [int(s.current_player[0]) for s in self.history[:-1]]  # seat of each move
        mine = [i for i, seat in enumerate(seats) if seat == self.human_seat]
        if not mine:
            self.message = "Nothing to undo."
            return False
        self._cancel_agent()
        keep = mine[-1]
        del self.history[keep + 1:], self.moves[keep:], self.thinking[keep:]
        self.state, self.result = self.history[-1], None
        self.message = "Move taken back."
        return True

    def new_game(self) -> None:
        """Save the current game (if it has moves) and start again with the same seats."""
        self.save()
        self._cancel_agent()
        self._reset()
        self.message = "New game."

    def swap(self) -> None:
        """The person takes the other colour (the agent then moves if it is its turn)."""
        self._cancel_agent()
        self.human_seat = 1 - self.human_seat
        self.message = f"You now play {self.seat_name(self.human_seat)}."

    def toggle_thinking(self) -> None:
        """Show or hide the agent's heat map and value."""
        self.show_thinking = not self.show_thinking
        if self.show_thinking and self.shown_thinking is None:
            self.message = f"{self.opponent.name} shows no thinking (try --opponent mcts or a checkpoint)."

    def toggle_territory(self) -> None:
        """Show or hide the territory estimate (Go: ``has_territory``): where the agent's network
        expects each point to end up, from the ownership of its latest thinking."""
        if not self.game.has_territory:
            self.message = f"{self.game.name} has no territory."
            return
        self.show_territory = not self.show_territory
        thinking = self.shown_thinking
        if self.show_territory and (thinking is None or thinking.ownership is None):
            self.message = f"{self.opponent.name} shows no territory estimate ({TERRITORY_HINT})."

    def close(self) -> Path | None:
        """The window closes: stop listening to the agent and save the game (if any move)."""
        self._cancel_agent()
        return self.save()

    # ----- the agent's side -----------------------------------------------------------------

    def poll(self) -> bool:
        """Once a frame: apply the agent's finished move, and start it thinking when it is its
        turn. Returns whether the position changed."""
        changed = False
        while not self._answers.empty():
            changed |= self._receive(self._answers.get_nowait())
        if not self.over and not self.agent_busy and not self._agent_failed and self.to_move != self.human_seat:
            self._start_agent()
        return changed

    def wait_for_agent(self, timeout: float = 30.0) -> None:
        """Block until the agent has answered and its move is applied (tests, scripts)."""
        deadline = time.monotonic() + timeout
        self.poll()
        while self.agent_busy:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.opponent.name} did not move within {timeout} s")
            try:
                self._receive(self._answers.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pass

    def replay(self) -> Replay:
        """The game so far as a :class:`arena.io.replays.Replay`."""
        return Replay(self.game.name, self.config, self.player_names(), tuple(self.moves), self.result,
                      tuple(self.thinking))

    def save(self) -> Path | None:
        """Write the replay (atomically, to the same file for the whole game); ``None`` when
        there is nothing to save or replays are off."""
        if self.replay_dir is None or not self.moves:
            return None
        if self.replay_path is None:
            self.replay_path = new_replay_path(self.game.name, self.replay_dir)
        return save_replay(self.replay(), self.replay_path)

    # ----- private helpers ------------------------------------------------------------------

    def _reset(self) -> None:
        """A fresh game (seats unchanged)."""
        self.state = self.game.init(1)
        self.history: list[Any] = [self.state]  # history[i] = position before move i
        self.moves: list[int] = []
        self.thinking: list[Thinking | None] = []
        self.result: str | None = None
        self.message = ""
        self.replay_path = None

    def _may_move(self) -> bool:
        """Whether the person may move now; otherwise say why in :attr:`message`."""
        if self.over:
            self.message = "The game is over: N for a new game, U to undo."
        elif self._agent_failed and self.to_move != self.human_seat:
            self.message = f"{self.opponent.name} failed to move; U: undo, N: new game, S: swap."
        elif self.agent_busy or self.to_move != self.human_seat:
            self.message = f"Wait: {self.opponent.name} is thinking."
        else:
            return True
        return False

    def _apply(self, action: int, thinking: Thinking | None) -> None:
        """Play ``action`` (checked: raises IllegalActionError) and record it."""
        self.state = self.game.step(self.state, torch.tensor([action]))
        self.history.append(self.state)
        self.moves.append(int(action))
        self.thinking.append(thinking)

    def _after_move(self) -> None:
        """Note the result and save the replay when the game has just ended."""
        if bool(self.state.terminated[0]):
            self.result = self.game.result_text(self.state, 0)
            self.save()

    def _start_agent(self) -> None:
        """Run ``opponent.act`` on the current position in a daemon thread."""
        generation, state = self._generation, self.state
        self._thinking_since = time.monotonic()

        def think() -> None:
            try:
                action, thinking = self.opponent.act(self.game, state)
                self._answers.put(_Answer(generation, int(action), thinking))
            except Exception as e:  # shown in the window; the person can undo or start again
                self._answers.put(_Answer(generation, -1, None, f"{type(e).__name__}: {e}"))

        threading.Thread(target=think, name="arena-opponent", daemon=True).start()

    def _receive(self, answer: _Answer) -> bool:
        """Apply one answer of the agent, unless it belongs to an older generation."""
        if answer.generation != self._generation:
            return False
        self._thinking_since = None
        error = answer.error
        if error is None:
            try:
                self._apply(answer.action, answer.thinking)
            except (IllegalActionError, ValueError):
                error = f"it chose the illegal move {answer.action}"
        if error is not None:
            self._agent_failed = True
            self.message = f"{self.opponent.name} failed ({error}); U: undo, N: new game, S: swap."
            return False
        if self.game.has_pass and answer.action == self.game.pass_action:
            self.message = f"{self.opponent.name} passed."
        self._after_move()
        return True

    def _cancel_agent(self) -> None:
        """Forget any answer being computed (the thread finishes, its answer is ignored)."""
        self._generation += 1
        self._thinking_since = None
        self._agent_failed = False



