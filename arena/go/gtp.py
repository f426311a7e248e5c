"""The GTP version 2 engine behind ``arena gtp`` (arena/commands/gtp.py), so our Go agents play in
GoGui/Sabaki and against GNU Go.

Two halves, kept apart (STYLE.md rule 12, Minigo's engine/handler split):

- the protocol (:func:`clean_line`, :func:`parse_line`, :func:`format_response`): GTP v2
  section 2/3 preprocessing (control characters removed except tab and newline, ``#``
  comments cut, tabs made spaces, empty lines ignored), an optional numeric id echoed in the
  answer, ``=`` or ``?`` answers each followed by one blank line and never holding one;
- :class:`GtpEngine`, one ``cmd_<name>`` handler per command, which raise :class:`GtpError`
  to answer ``? <message>``. Any other exception a handler raises is answered as
  ``? internal error: ...``, so no input line can stop the engine; only ``quit`` or the end
  of input does.

The position is the list of moves played through GTP, replayed by stepping the game, so
``undo`` and a ``komi`` change rebuild it exactly (captures and superko history included).

Moving out of turn (``play black X`` when white is to move, as GoGui does to set up
positions and handicap stones): in Go the side to move is taken to pass first, and that
inserted pass never ends the game (the consecutive-pass counter is reset before it), so
superko history stays exact and the rules code alone decides what is legal. Tic-tac-toe has
no pass; its legal moves do not depend on whose turn it is, so the turn is simply handed over.
The engine plays Go without the self-play move cap (``envs.make_uncapped``): every legal
move is accepted however long the game. A game that has ended (two passes) accepts no more
moves: ``play`` answers ``? illegal move``, ``genmove`` answers ``pass``; ``clear_board`` or
``undo`` go on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

import torch

from envs.core import Game, IllegalActionError
from envs.spec import BOARD_OPTIONS, GameSpec

PROTOCOL_VERSION = "2"
ENGINE_NAME = "Arena"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but HT and LF
_ID = re.compile(r"[0-9]+", re.ASCII)
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_VERTEX = re.compile(r"[A-Za-z][0-9]{1,2}|pass", re.ASCII | re.IGNORECASE)
_COLOURS = {"b": 0, "black": 0, "w": 1, "white": 1}


class GtpError(Exception):
    """A command that failed; the engine answers ``? <message>``."""


class Command(NamedTuple):
    """One parsed GTP command line."""

    id: str | None
    """The numeric id, as sent (echoed in the answer), or None."""
    name: str
    args: tuple[str, ...]


# ----- the protocol ---------------------------------------------------------------------


def clean_line(line: str) -> str:
    """GTP preprocessing of one line: controls removed (but tab), comment cut, tabs to spaces,
    outer whitespace stripped. An empty result means the line is ignored."""
    line = _CONTROL.sub("", line.replace("\n", ""))
    return line.split("#", 1)[0].replace("\t", " ").strip(" ")  # GTP's whitespace: space and tab


def parse_line(line: str) -> Command | None:
    """The command on a raw input line, or None for an empty or comment-only line.

    A first word made of digits is the id; the command is then empty if nothing follows it.
    """
    words = clean_line(line).split(" ")
    words = [w for w in words if w]
    if not words:
        return None
    command_id = None
    if _ID.fullmatch(words[0]):
        command_id, words = words[0], words[1:]
    if not words:
        return Command(command_id, "", ())
    return Command(command_id, words[0], tuple(words[1:]))


def format_response(command_id: str | None, ok: bool, text: str) -> str:
    """``=id text`` or ``?id text``, ending with one blank line; blank lines inside are dropped
    (a blank line ends a response) and control characters removed."""
    lines = [_CONTROL.sub("", line).replace("\t", " ").rstrip() for line in text.split("\n")]
    body = "\n".join([lines[0]] + [line for line in lines[1:] if line.strip()])
    return f"{'=' if ok else '?'}{command_id or ''} {body}\n\n"


# ----- the engine -----------------------------------------------------------------------


PlayerFactory = Callable[[Any], Any]  # game -> a player (arena.bots.players.Player)


class EngineChoice(Protocol):
    """What :meth:`GtpEngine.from_command` reads: the fields of ``arena gtp``'s
    :class:`arena.commands.gtp.GtpCommand` (documented there)."""

    game: str
    size: int
    komi: float
    agent: str
    checkpoint: str | None
    simulations: int | None
    seed: int
    device: str


class GtpEngine:
    """The game, the moves played through GTP, and one handler per command.

    ``game_id`` is a registered game (``go``, ``tictactoe``, ...); ``make_player(game)`` builds the agent answering
    ``genmove``. It is called again when the board size or komi change; a factory that raises
    makes that size unacceptable (e.g. a checkpoint trained on another size).
    """

    def __init__(self, game_id: str, size: int, komi: float, make_player: PlayerFactory):
        self.game_id = game_id
        self.make_player = make_player
        self.size, self.komi = size, komi
        self.game = self._make_game(size, komi)
        self.player = make_player(self.game)
        self.moves: list[tuple[int, int]] = []  # (colour, action) as played through GTP
        self.state = self.game.init(1)
        self.quit = False

    @classmethod
    def from_command(cls, cmd: EngineChoice) -> GtpEngine:
        """The engine ``arena gtp`` runs: the game and the agent that ``cmd`` chooses."""
        from arena.bots.players import make_player

        from arena.bots.players import shipped_network

        def spec(game: Game) -> str:  # per board: GTP's boardsize may change it
            if cmd.checkpoint or cmd.agent != "shipped":
                return cmd.checkpoint or cmd.agent
            shipped = shipped_network(game.name, game.board_size)
            return "mcts" if shipped is None else str(shipped)

        sizes = GameSpec.of(cmd.game).rules.board_sizes
        size = cmd.size if len(sizes) > 1 else sizes[0]  # --size is for games built in several sizes
        return cls(cmd.game, size, cmd.komi,
                   lambda game: make_player(spec(game), game, cmd.simulations, cmd.seed, cmd.device))

    @property
    def commands(self) -> list[str]:
        return sorted(name[4:] for name in dir(self) if name.startswith("cmd_"))

    def handle_line(self, line: str) -> str | None:
        """The full answer to one input line (None for a line GTP ignores)."""
        command = parse_line(line)
        if command is None:
            return None
        try:
            return format_response(command.id, True, self.handle(command))
        except GtpError as e:
            return format_response(command.id, False, str(e).split("\n")[0] or "failed")
        except Exception as e:  # a bug must cost one answer, not the engine (GTP controllers hang)
            return format_response(command.id, False, f"internal error: {type(e).__name__}: {e}".split("\n")[0])

    def handle(self, command: Command) -> str:
        if not command.name:
            raise GtpError("missing command")
        handler = getattr(self, f"cmd_{command.name}", None) if command.name.isascii() else None
        if handler is None:
            raise GtpError("unknown command")
        return handler(*command.args)

    # ----- administrative commands -------------------------------------------------

    def cmd_protocol_version(self, *args: str) -> str:
        return PROTOCOL_VERSION

    def cmd_name(self, *args: str) -> str:
        return ENGINE_NAME

    def cmd_version(self, *args: str) -> str:
        from arena import __version__

        return __version__

    def cmd_known_command(self, *args: str) -> str:
        return "true" if args and args[0] in self.commands else "false"

    def cmd_list_commands(self, *args: str) -> str:
        return "\n".join(self.commands)

    def cmd_quit(self, *args: str) -> str:
        self.quit = True
        return ""

    # ----- setup -------------------------------------------------------------------

    def cmd_boardsize(self, *args: str) -> str:
        size = _integer(args)
        if size not in self.game.board_sizes:
            raise GtpError("unacceptable size")
        try:
            game = self._make_game(size, self.komi)
            player = self.make_player(game)
        except Exception:  # e.g. a checkpoint trained on another size
            raise GtpError("unacceptable size") from None
        self.size, self.game, self.player = size, game, player
        return self.cmd_clear_board()

    def cmd_clear_board(self, *args: str) -> str:
        self.moves = []
        self.state = self.game.init(1)
        return ""

    def cmd_komi(self, *args: str) -> str:
        if len(args) < 1:
            raise GtpError("syntax error")
        try:
            komi = float(args[0]) if len(args[0]) <= 30 else math.nan
        except ValueError:
            raise GtpError("syntax error") from None
        if not math.isfinite(komi) or abs(komi) > 1000:
            raise GtpError("syntax error")
        if "komi" in BOARD_OPTIONS[self.game_id] and komi != self.komi:  # it lives in the game: rebuild, replay
            game = self._make_game(self.size, komi)
            self.player = self.make_player(game)
            self.game, self.komi = game, komi
            self.state = self._replay(self.moves)
        return ""

    def cmd_time_settings(self, *args: str) -> str:
        return ""  # accepted; agents think by simulations, not by the clock

    def cmd_time_left(self, *args: str) -> str:
        return ""

    # ----- play ----------------------------------------------------------------------

    def cmd_play(self, *args: str) -> str:
        if len(args) < 2:
            raise GtpError("syntax error")
        colour, action = _colour(args[0]), self._vertex(args[1])
        self.state = self._apply(self.state, colour, action)
        self.moves.append((colour, action))
        return ""

    def cmd_genmove(self, *args: str) -> str:
        if len(args) < 1:
            raise GtpError("syntax error")
        colour = _colour(args[0])
        if bool(self.state.terminated[0]):
            return "pass"
        before = _give_turn(self.game, self.state, colour)
        if bool(before.terminated[0]):  # the inserted pass reached the move cap
            return "pass"
        action, _ = self.player.act(self.game, before)
        self.state = self._apply(self.state, colour, int(action))
        self.moves.append((colour, int(action)))
        return self.game.action_to_string(int(action))

    def cmd_undo(self, *args: str) -> str:
        if not self.moves:
            raise GtpError("cannot undo")
        self.moves.pop()
        self.state = self._replay(self.moves)
        return ""

    # ----- reading the position ------------------------------------------------------

    def cmd_showboard(self, *args: str) -> str:
        return "\n" + self.game.render(self.state)

    def cmd_list_stones(self, *args: str) -> str:
        if len(args) < 1:
            raise GtpError("syntax error")
        sign = 1 - 2 * _colour(args[0])
        points = (self.state.board[0] == sign).nonzero()[:, 0].tolist()
        return " ".join(self.game.action_to_string(p) for p in points)

    def cmd_final_score(self, *args: str) -> str:
        """Tromp-Taylor area score of the current position with komi (Go), or the result of a
        finished tic-tac-toe game as ``B+1``/``W+1``/``0`` (X is black)."""
        if self.game.has_territory:
            score = float(self.game.score_now(self.state)[0])
        elif bool(self.state.terminated[0]):
            score = {0: 1.0, 1: -1.0}.get(int(self.state.winner[0]), 0.0)
        else:
            raise GtpError("cannot score")
        return "0" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}"

    # ----- helpers -------------------------------------------------------------------

    def _make_game(self, size: int, komi: float) -> Any:
        return GameSpec.for_board(self.game_id, size=size, komi=komi).uncapped().make()

    def _vertex(self, text: str) -> int:
        if not _VERTEX.fullmatch(text) or (text.lower() == "pass" and not hasattr(self.game, "pass_action")):
            raise GtpError("syntax error")
        try:
            return self.game.string_to_action(text)
        except ValueError:
            raise GtpError("syntax error") from None  # well formed, but not on this board

    def _apply(self, state: Any, colour: int, action: int) -> Any:
        if bool(state.terminated[0]):
            raise GtpError("illegal move")
        try:
            return self.game.step(_give_turn(self.game, state, colour), torch.tensor([action]))
        except IllegalActionError:
            raise GtpError("illegal move") from None

    def _replay(self, moves: Iterable[tuple[int, int]]) -> Any:
        state = self.game.init(1)
        for colour, action in moves:
            state = self._apply(state, colour, action)
        return state


def _give_turn(game: Game, state: Any, colour: int) -> Any:
    """``state`` with ``colour`` to move (the game's ``pass_turn``; see the module doc)."""
    if int(state.current_player[0]) == colour or bool(state.terminated[0]):
        return state
    return game.pass_turn(state)


def _colour(text: str) -> int:
    colour = _COLOURS.get(text.lower()) if text.isascii() else None
    if colour is None:
        raise GtpError("syntax error")
    return colour


def _integer(args: tuple[str, ...]) -> int:
    """The first argument as an int; huge values (past int()'s digit limit) come back as -1."""
    if not args or not _INT.fullmatch(args[0]):
        raise GtpError("syntax error")
    return int(args[0]) if len(args[0]) <= 9 else -1
