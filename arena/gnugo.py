"""Matches against GNU Go (or any GTP engine) driven as a subprocess.

:class:`GtpClient` speaks GTP to an engine process: one command out, one answer back (read
until its blank line, with a timeout), a clear :class:`GtpError` for a ``?`` answer and
:class:`GtpEngineError` for an engine that died, hung or could not start.

:func:`play_gnugo` plays full games of one of our players against GNU Go, alternating
colours: our moves go to GNU Go with ``play``, its moves come from ``genmove``. A game ends
after two consecutive passes or a resignation, or at the game's move cap if it has one (as
:meth:`Go.step` decides: ``arena match`` plays the uncapped game, training logs may pass
their capped one). It is scored by OUR rules (Tromp-Taylor area with komi, the terminal
state's ``score``); GNU Go's own ``final_score`` is kept beside it for reference. GNU Go is
started with ``--chinese-rules --positional-superko`` (area scoring, and our ko rule) so
both sides agree on what is legal.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from arena.gtp import GtpError
from arena.match import MatchResult

SEARCH_PATHS = "/usr/games:/usr/local/games"  # Debian/Ubuntu put gnugo here, often off PATH


class GtpEngineError(GtpError):
    """The engine process could not start, died, or did not answer in time."""


def find_gnugo() -> str | None:
    """Path of the ``gnugo`` executable: on PATH, or in /usr/games (Debian's place); else None."""
    return shutil.which("gnugo") or shutil.which("gnugo", path=SEARCH_PATHS)


def gnugo_command(size: int, komi: float, level: int = 1, path: str | None = None, seed: int = 0) -> list[str]:
    """The command line of a GNU Go GTP engine playing by our rules (area scoring, superko)."""
    exe = path or find_gnugo()
    if exe is None:
        raise GtpEngineError("GNU Go not found: install it (apt install gnugo) or pass its path")
    return [exe, "--mode", "gtp", "--level", str(level), "--boardsize", str(size), "--komi", str(komi),
            "--chinese-rules", "--positional-superko", "--capture-all-dead", "--seed", str(seed)]


class GtpClient:
    """A GTP engine subprocess. Use as a context manager (or call :meth:`close`)."""

    def __init__(self, argv: Sequence[str], timeout: float = 60.0):
        self.argv = list(argv)
        self.timeout = timeout
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, encoding="utf-8", errors="replace", bufsize=1,
            )
        except OSError as e:
            raise GtpEngineError(f"cannot start GTP engine {self.argv[0]!r}: {e}") from None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False  # its output reached end of file
        # A reader thread turns the blocking pipe into a queue we can wait on with a timeout.
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, command: str, timeout: float | None = None) -> str:
        """Send one command; its answer without the ``= `` (lines joined by newlines).

        Raises :class:`GtpError` when the engine answers ``?`` and :class:`GtpEngineError`
        when it is dead or silent for ``timeout`` seconds (default: the client's).
        """
        if "\n" in command:
            raise ValueError(f"one GTP command per call, got {command!r}")
        if self._ended or self.process.poll() is not None:
            raise GtpEngineError(f"{self.argv[0]} has exited (code {self.process.poll()}); cannot send {command!r}")
        try:
            self.process.stdin.write(command + "\n")  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as e:
            raise GtpEngineError(f"{self.argv[0]} closed its input while sending {command!r}: {e}") from None
        lines = self._answer(command, self.timeout if timeout is None else timeout)
        head, text = lines[0][:1], "\n".join([lines[0][1:].lstrip("0123456789")[1:]] + lines[1:])
        if head != "=":
            raise GtpError(f"{self.argv[0]} refused {command!r}: {text}")
        return text

    def close(self) -> None:
        """Ask the engine to quit, then make sure the process is gone."""
        if self.process.poll() is None:
            try:
                self.send("quit", timeout=5)
            except GtpError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, command: str, timeout: float) -> list[str]:
        """The answer's lines: from the first line starting with = or ? to the blank line."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise GtpEngineError(f"{self.argv[0]} did not answer {command!r} within {timeout:g} s") from None
            if line is None:
                self._ended = True
                raise GtpEngineError(f"{self.argv[0]} exited while answering {command!r}")
            line = line.rstrip("\r\n")
            if not lines and not line.startswith(("=", "?")):
                continue  # stray output before an answer
            if lines and not line.strip():
                return lines
            lines.append(line)

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            self._lines.put(line)
        self._lines.put(None)


@dataclass(frozen=True)
class GnuGoGame:
    """One game against GNU Go."""

    our_colour: str
    """"black" or "white"."""
    moves: tuple[int, ...]
    """Actions in order, black first (``game.action_to_string`` gives GTP vertices)."""
    score: float
    """Black area - white area - komi of the final position (our rules)."""
    result: str
    """How it ended by our rules: "B+3.5", "W+R" (resignation), or "0"."""
    ended_by: str
    """"passes", "move cap" or "resignation"."""
    gnugo_score: str | None
    """GNU Go's own ``final_score`` for reference (None if it would not say)."""
    outcome: int
    """+1 we won, 0 draw, -1 we lost."""


@dataclass(frozen=True)
class GnuGoResult:
    """A match against GNU Go, from our player's point of view."""

    wins: int
    draws: int
    losses: int
    records: tuple[GnuGoGame, ...]

    @property
    def match(self) -> MatchResult:
        return MatchResult(self.wins, self.draws, self.losses)

    @property
    def games(self) -> int:
        return self.match.games

    @property
    def score(self) -> float:
        """Wins plus half the draws, per game."""
        return self.match.score


def play_gnugo(player: Any, game: Any, games: int, level: int = 1, gnugo: str | None = None,
               seed: int = 0, timeout: float = 60.0) -> GnuGoResult:
    """Play ``games`` games of ``player`` (an :class:`arena.players.Player`, or a bot
    ``bot(game, state) -> long [1]``) against GNU Go at ``level`` on ``game`` (a Go instance:
    its size, komi and move cap). Our player is black in even-numbered games (0, 2, ...).

    One GNU Go process serves the match (``clear_board`` between games). Raises
    :class:`GtpEngineError` if GNU Go is missing or fails, and :class:`GtpError` if either
    side's move is refused by the other's rules (which would be a rules mismatch, not a result).
    """
    act = _act_function(player)
    records = []
    with GtpClient(gnugo_command(game.board_size, game.komi, level, gnugo, seed), timeout=timeout) as client:
        client.send(f"boardsize {game.board_size}")
        client.send(f"komi {game.komi:g}")
        for g in range(games):
            client.send("clear_board")
            records.append(_play_one(client, game, act, our_seat=g % 2))
    outcomes = [r.outcome for r in records]
    return GnuGoResult(outcomes.count(1), outcomes.count(0), outcomes.count(-1), tuple(records))


def gnugo_win_rate(player: Any, game: Any, games: int = 10, level: int = 1) -> dict[str, float]:
    """Evaluation metrics against GNU Go for training logs: ``{"gnugo_score", "gnugo_wins", ...}``."""
    r = play_gnugo(player, game, games, level)
    return {"gnugo_score": r.score, "gnugo_wins": float(r.wins), "gnugo_draws": float(r.draws),
            "gnugo_losses": float(r.losses), "gnugo_level": float(level)}


def _play_one(client: GtpClient, game: Any, act: Any, our_seat: int) -> GnuGoGame:
    """One game from the empty board; our player moves as ``our_seat`` (0 black)."""
    colours = ("black", "white")
    state, moves, ended_by = game.init(1), [], "passes"
    while not bool(state.terminated[0]):
        to_move = int(state.current_player[0])
        if to_move == our_seat:
            action = act(game, state)
            client.send(f"play {colours[to_move]} {game.action_to_string(action)}")
        else:
            reply = client.send(f"genmove {colours[to_move]}").strip()
            if reply.lower() == "resign":
                ended_by = "resignation"
                break
            action = game.string_to_action(reply)
        state = _step(game, state, action, reply_from="GNU Go" if to_move != our_seat else "our player")
        moves.append(action)
    if ended_by != "resignation" and int(state.passes[0]) < 2:  # only a capped game ends any other way
        ended_by = "move cap"
    score = float(game.score_now(state)[0])
    try:
        gnugo_score: str | None = client.send("final_score")
    except GtpError:
        gnugo_score = None
    if ended_by == "resignation":
        loser = int(state.current_player[0])
        outcome = 1 if loser != our_seat else -1
        result = f"{'BW'[1 - loser]}+R"
    else:
        black_result = (score > 0) - (score < 0)
        outcome = black_result if our_seat == 0 else -black_result
        result = "0" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}"
    return GnuGoGame(colours[our_seat], tuple(moves), score, result, ended_by, gnugo_score, outcome)


def _step(game: Any, state: Any, action: int, reply_from: str) -> Any:
    from envs.core import IllegalActionError

    try:
        return game.step(state, torch.tensor([action]))
    except IllegalActionError as e:
        raise GtpError(f"{reply_from} played {game.action_to_string(action)}, illegal by our rules:\n{e}") from None


def _act_function(player: Any) -> Any:
    """``act(game, state) -> int`` from a Player (``.act``) or a bot (a callable)."""
    if hasattr(player, "act"):
        return lambda game, state: int(player.act(game, state)[0])
    return lambda game, state: int(player(game, state)[0])
