"""Matches against GNU Go (or any GTP engine) driven as a subprocess.

:class:`GtpClient` speaks GTP to an engine process: one command out, one answer back (read
until its blank line, with a timeout), a clear :class:`GtpError` for a ``?`` answer and
:class:`GtpEngineError` for an engine that died, hung or could not start. ``ask`` and
``answer`` split a command in two, so several engines can think at once.

:func:`play_gnugo_batched` plays full games of a batched bot against GNU Go, many at once:
one GNU Go process per game (``processes`` at a time; more games are played in waves that
reuse them), our moves for every game waiting on us from ONE call of the bot on those rows of
a batched state, and GNU Go's ``genmove`` sent to every waiting engine before any answer is
read (and before our bot runs), so the engines think in parallel while we search.
:func:`play_gnugo` is the same loop for one player one game at a time (one process).

Colours alternate (we are black in even-numbered games); our moves go to GNU Go with
``play``, its moves come from ``genmove``. Game ``g`` is played with GNU Go's random seed
``seed + g`` (``set_random_seed``), so a game does not depend on how many run at once. A game
ends after two consecutive passes or a resignation, or at the game's move cap if it has one
(as :meth:`Go.step` decides: ``arena match`` plays the uncapped game, training logs may pass
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
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import torch

from arena.bots.match import MatchResult
from arena.go.gtp import GtpError
from envs.core import Game, put_rows, state_rows

SEARCH_PATHS = "/usr/games:/usr/local/games"  # Debian/Ubuntu put gnugo here, often off PATH


class GtpEngineError(GtpError):
    """The engine process could not start, died, or did not answer in time."""


def gnugo_plays(game_id: str) -> bool:
    """Whether GNU Go can play (or teach) this game: only Go, the one game a Go engine knows."""
    return game_id == "go"  # a name branch on purpose: GNU Go is a program for one game


def find_gnugo() -> str | None:
    """Path of the ``gnugo`` executable: on PATH, or in /usr/games (Debian's place); else None."""
    return shutil.which("gnugo") or shutil.which("gnugo", path=SEARCH_PATHS)


def gnugo_command(size: int, komi: float, level: int = 1, path: str | None = None, seed: int = 0) -> list[str]:
    """The command line of a GNU Go GTP engine playing by our rules (area scoring, superko)."""
    exe = path or find_gnugo()
    if exe is None:
        raise GtpEngineError("GNU Go not found: install it (apt-get install gnugo) or pass its path")
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
        self.ask(command)
        return self.answer(command, timeout)

    def ask(self, command: str) -> None:
        """Send one command without waiting: read its answer with :meth:`answer` (one answer
        per command, in order), so several engines can work at once."""
        if "\n" in command:
            raise ValueError(f"one GTP command per call, got {command!r}")
        if self._ended or self.process.poll() is not None:
            raise GtpEngineError(f"{self.argv[0]} has exited (code {self.process.poll()}); cannot send {command!r}")
        try:
            self.process.stdin.write(command + "\n")  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError) as e:
            raise GtpEngineError(f"{self.argv[0]} closed its input while sending {command!r}: {e}") from None

    def answer(self, command: str, timeout: float | None = None) -> str:
        """The answer to the oldest command asked and not yet answered (``command`` names it in
        errors); raises as :meth:`send` does."""
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


def play_gnugo(player: Any, game: Game, games: int, level: int = 1, gnugo: str | None = None,
               seed: int = 0, timeout: float = 60.0) -> GnuGoResult:
    """Play ``games`` games of ``player`` (an :class:`arena.bots.players.Player`, or a bot
    ``bot(game, state) -> long [1]``) against GNU Go at ``level`` on ``game`` (a Go instance:
    its size, komi and move cap), one after another. Our player is black in even-numbered
    games (0, 2, ...).

    One GNU Go process serves the match (``clear_board`` between games): this is
    :func:`play_gnugo_batched` with one process, the player asked one game (B = 1) at a time.
    Raises as :func:`play_gnugo_batched` does.
    """
    act = _act_function(player)
    return play_gnugo_batched(lambda g, state: torch.tensor([act(g, state)]), game, games, level, gnugo, seed,
                              timeout, processes=1)


def play_gnugo_batched(bot: Any, game: Game, games: int, level: int = 1, gnugo: str | None = None, seed: int = 0,
                       timeout: float = 60.0, processes: int = 40, device: str | torch.device = "cpu") -> GnuGoResult:
    """Play ``games`` games of a batched ``bot`` against GNU Go at ``level``, many at once.

    Up to ``processes`` GNU Go engines are started together, one game each; more games than
    that are played in waves that reuse the engines (``clear_board``). In every round each
    unfinished game makes one move: ``genmove`` goes to every engine on move first, then
    ``bot(game, rows) -> long [K]`` is called ONCE on the K games where it is our turn (rows
    of the batched state, :func:`envs.core.state_rows`; none finished), our moves go out as
    ``play``, and only then are GNU Go's answers read. Rules, colours (ours black in
    even-numbered games), scoring and records are those of :func:`play_gnugo`.

    Args:
        bot: ``bot(game, state) -> long [K]``, e.g. :func:`arena.selfplay.alphazero.search_bot`.
        game: a Go instance (size, komi, move cap); states live on ``device`` (the bot's).
        games: games to play; ``records[g]`` is game ``g``, GNU Go seeded with ``seed + g``.
        processes: the most GNU Go processes alive at once.
        timeout: seconds any one engine may take to answer.

    Raises:
        GtpEngineError: GNU Go is missing (``apt-get install gnugo``), dies or hangs.
        GtpError: a move of either side refused by the other's rules (a rules mismatch, not a
            result). Every engine is shut down on any error.
    """
    if processes < 1:
        raise ValueError(f"need at least one GNU Go process, got processes={processes}")
    argv = gnugo_command(game.board_size, game.komi, level, gnugo, seed)
    records: list[GnuGoGame] = []
    with ExitStack() as stack:
        engines = [stack.enter_context(GtpClient(argv, timeout=timeout)) for _ in range(min(games, processes))]
        _send_all(engines, [f"boardsize {game.board_size}"] * len(engines))
        _send_all(engines, [f"komi {game.komi:g}"] * len(engines))
        for start in range(0, games, max(len(engines), 1)):
            numbers = range(start, min(start + len(engines), games))
            records += _play_wave(bot, game, engines[:len(numbers)], numbers, seed, device)
    outcomes = [r.outcome for r in records]
    return GnuGoResult(outcomes.count(1), outcomes.count(0), outcomes.count(-1), tuple(records))


def gnugo_win_rate(player: Any, game: Game, games: int = 10, level: int = 1) -> dict[str, float]:
    """Evaluation metrics against GNU Go for training logs: ``{"gnugo_score", "gnugo_wins", ...}``."""
    r = play_gnugo(player, game, games, level)
    return {"gnugo_score": r.score, "gnugo_wins": float(r.wins), "gnugo_draws": float(r.draws),
            "gnugo_losses": float(r.losses), "gnugo_level": float(level)}


COLOURS = ("black", "white")


@dataclass
class _Table:
    """One game in progress on one engine: its number, our seat (0 black), the moves so far."""

    number: int
    our_seat: int
    moves: list[int] = field(default_factory=list)
    resigned: bool = False
    """GNU Go resigned (it was on move: the state's ``current_player`` is the loser)."""


def _play_wave(bot: Any, game: Game, engines: list[GtpClient], numbers: range, seed: int,
               device: str | torch.device) -> list[GnuGoGame]:
    """Games ``numbers`` at once, game ``numbers[k]`` on ``engines[k]`` and row k of one state."""
    tables = [_Table(n, n % 2) for n in numbers]
    _send_all(engines, ["clear_board"] * len(engines))
    _send_all(engines, [f"set_random_seed {seed + n}" for n in numbers])
    state = game.init(len(engines), device)
    records: dict[int, GnuGoGame] = {}
    live = list(range(len(engines)))
    while live:
        state = _play_round(bot, game, engines, tables, state, live)
        terminated = state.terminated.tolist()
        done = [k for k in live if tables[k].resigned or terminated[k]]
        scores = _send_all([engines[k] for k in done], ["final_score"] * len(done), refusals=True)
        for k, gnugo_score in zip(done, scores):
            records[k] = _record(game, state_rows(state, torch.tensor([k], device=state.terminated.device)),
                                 tables[k], gnugo_score)
        live = [k for k in live if k not in records]
    return [records[k] for k in range(len(engines))]


def _play_round(bot: Any, game: Game, engines: list[GtpClient], tables: list[_Table], state: Any,
                live: list[int]) -> Any:
    """Every game of ``live`` makes one move (or GNU Go resigns it); the new state."""
    state = game.make_room(state)  # widen the superko history of the whole batch, so rows stay alike
    seats = state.current_player.tolist()
    ours = [k for k in live if seats[k] == tables[k].our_seat]
    theirs = [k for k in live if seats[k] != tables[k].our_seat]
    for k in theirs:  # GNU Go thinks while we search
        engines[k].ask(f"genmove {COLOURS[seats[k]]}")
    actions: dict[int, int] = {}
    if ours:
        chosen = bot(game, state_rows(state, _rows(ours, state))).tolist()
        actions.update(zip(ours, chosen))
        _check_legal(game, state, tables, {k: actions[k] for k in ours}, "our player")
        _send_all([engines[k] for k in ours],
                  [f"play {COLOURS[seats[k]]} {game.action_to_string(actions[k])}" for k in ours])
    for k in theirs:
        reply = engines[k].answer(f"genmove {COLOURS[seats[k]]}").strip()
        if reply.lower() == "resign":
            tables[k].resigned = True
        else:
            actions[k] = game.string_to_action(reply)
    _check_legal(game, state, tables, {k: actions[k] for k in theirs if k in actions}, "GNU Go")
    moved = sorted(actions)
    if moved:
        rows = _rows(moved, state)
        played = torch.tensor([actions[k] for k in moved], device=rows.device)
        state = put_rows(state, rows, game.step(state_rows(state, rows), played))
    for k in moved:
        tables[k].moves.append(actions[k])
    return state


def _record(game: Game, state: Any, table: _Table, gnugo_score: str | None) -> GnuGoGame:
    """The finished game ``table`` whose final position is ``state`` (B = 1)."""
    if table.resigned:
        ended_by = "resignation"
    else:  # only a capped game ends any other way than by two passes
        ended_by = "passes" if int(state.passes[0]) >= 2 else "move cap"
    score = float(game.score_now(state)[0])
    if table.resigned:
        loser = int(state.current_player[0])
        outcome = 1 if loser != table.our_seat else -1
        result = f"{'BW'[1 - loser]}+R"
    else:
        black_result = (score > 0) - (score < 0)
        outcome = black_result if table.our_seat == 0 else -black_result
        result = "0" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}"
    return GnuGoGame(COLOURS[table.our_seat], tuple(table.moves), score, result, ended_by, gnugo_score, outcome)


def _send_all(engines: list[GtpClient], commands: list[str], refusals: bool = False) -> list[Any]:
    """Ask every engine its command, then read every answer (they work at once). With
    ``refusals``, an engine that refuses (``?``) answers None instead of raising."""
    for engine, command in zip(engines, commands):
        engine.ask(command)
    answers: list[str | None] = []
    for engine, command in zip(engines, commands):
        try:
            answers.append(engine.answer(command))
        except GtpEngineError:
            raise
        except GtpError:
            if not refusals:
                raise
            answers.append(None)
    return answers


def _check_legal(game: Game, state: Any, tables: list[_Table], actions: dict[int, int], who: str) -> None:
    """Raise :class:`GtpError` showing the board if a move of ``actions`` (row: action) is
    illegal by our rules (superko included)."""
    if not actions:
        return
    rows = _rows(list(actions), state)
    legal = state.legal_action_mask[rows, torch.tensor(list(actions.values()), device=rows.device)].tolist()
    for (k, action), ok in zip(actions.items(), legal):
        if not ok:
            raise GtpError(f"{who} played {game.action_to_string(action)} in game {tables[k].number}, "
                           f"illegal by our rules:\n{game.render(state, k)}")


def _rows(rows: list[int], state: Any) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long, device=state.terminated.device)


def _act_function(player: Any) -> Any:
    """``act(game, state) -> int`` from a Player (``.act``) or a bot (a callable)."""
    if hasattr(player, "act"):
        return lambda game, state: int(player.act(game, state)[0])
    return lambda game, state: int(player(game, state)[0])
