"""``arena watch``: step through a saved game, or follow a training run's self-play live.

:class:`WatchSession` holds the replayed positions and where we are (no pygame, testable
alone); :class:`WatchWindow` draws it with the play window's board drawing
(:func:`arena.viewer.board.draw_board`) and turns keys, buttons and the slider into session
calls. At position ``k`` (after ``k`` moves) the heat map shows the thinking recorded for
move ``k``, the move whose stone carries the last-move mark: as in ``arena play``, the
search that chose the move just played, and its value for the player who played it. The
territory overlay (O, Go) shows the ownership of the latest thinking recorded up to there.

Live mode (:class:`ReplayFeed`): every second the folder of replays is listed; when a newer
game than the one shown has appeared, it is loaded once the current one has autoplayed to
its end (right away when nothing is shown), so a running ``arena train`` can be watched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pygame

from arena.bots.players import Thinking
from arena.io.replays import Replay, load_replay
from arena.viewer.window import run_loop, save_surface
from arena.viewer.board import (
    BAR, BAR_TOP, HEAT, INK, MESSAGE, WINDOW_SIZE, button_at, buttons_for, draw_board, draw_button, draw_text,
    go_counts, layout_for, territory_estimate,
)

POLL_SECONDS = 1.0  # live mode: how often the replay folder is listed
END_HOLD = 2.0  # live mode: autoplay delays (this many) shown on a finished game before the next
SLIDER = pygame.Rect(16, BAR_TOP + 56, WINDOW_SIZE[0] - 32, 14)
SLIDER_HIT = SLIDER.inflate(16, 16)  # clicks this close to the slider count as on it
WATCH_BUTTONS = (("|< Home", "first"), ("< Left", "back"), ("Play Space", "autoplay"), ("Right >", "forward"),
                 ("End >|", "last"), ("Heat H", "thinking"))
KEYS = {pygame.K_LEFT: "back", pygame.K_RIGHT: "forward", pygame.K_HOME: "first", pygame.K_END: "last",
        pygame.K_SPACE: "autoplay", pygame.K_h: "thinking", pygame.K_o: "territory", pygame.K_PLUS: "faster",
        pygame.K_EQUALS: "faster", pygame.K_MINUS: "slower", pygame.K_ESCAPE: "quit", pygame.K_q: "quit"}


def open_replay(path: str | Path) -> tuple[Replay, Any, list[Any]]:
    """``(replay, game, positions)`` of a replay file, every position rebuilt by a checked step.

    Raises:
        ValueError: the file cannot be read, is not an arena replay, names an unknown game or
            config, records thinking that does not fit the board, or holds an illegal move
            (named by its number). Nothing else escapes, whatever the file holds.
    """
    import torch

    path = Path(path)
    try:
        replay = load_replay(path)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: not an arena replay ({type(e).__name__}: {e})") from e
    try:
        game = replay.spec.uncapped().make()
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: unknown game or config {replay.game!r} {replay.config} ({e})") from e
    for i, t in enumerate(replay.thinking):
        if t is not None and len(t.policy) != game.num_actions:
            raise ValueError(f"{path}: the thinking of move {i + 1} has {len(t.policy)} weights, "
                             f"not one per action ({game.num_actions})")
        if t is not None and t.ownership is not None and len(t.ownership) != game.board_size ** 2:
            raise ValueError(f"{path}: the thinking of move {i + 1} has {len(t.ownership)} ownership "
                             f"values, not one per point ({game.board_size ** 2})")
    states = [game.init(1)]
    for i, action in enumerate(replay.moves):
        try:
            states.append(game.step(states[-1], torch.tensor([action])))
        except (ValueError, IndexError, RuntimeError) as e:
            raise ValueError(f"{path}: move {i + 1} ({action}) cannot be played: {str(e).splitlines()[0]}") from e
    return replay, game, states


class ReplayFeed:
    """The replays of a folder (``<run>/replays`` or any), newest last by modification time."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def newest(self, skip: Iterable[Path] = ()) -> Path | None:
        """The most recently written ``*.json`` (temporary files of atomic writes excluded)."""
        skipped = set(skip)
        try:
            files = [p for p in self.folder.glob("*.json") if not p.name.startswith(".") and p not in skipped]
            stamped = [(p.stat().st_mtime_ns, p.name, p) for p in files]
        except OSError:  # the folder is not there yet, or a file vanished while listed
            return None
        return max(stamped)[2] if stamped else None


class WatchSession:
    """A replayed game and the position shown; autoplay and live following.

    Attributes read by the drawing code: ``game``, ``replay``, ``states``, ``index`` (moves
    played in the shown position), ``autoplay``, ``show_thinking``, ``show_territory``, ``message``.
    """

    def __init__(self, path: str | Path | None = None, feed: ReplayFeed | None = None, game: Any = None,
                 autoplay: bool = False, delay: float = 0.7):
        """Show the replay at ``path``, or follow ``feed`` (``game`` draws the empty board
        until its first replay arrives). Raises ``ValueError`` for an unusable ``path``."""
        from envs.spec import GameSpec

        self.feed, self.autoplay, self.delay = feed, autoplay, delay
        self.show_thinking = True
        self.show_territory = False
        self.message = ""
        self.path: Path | None = None
        self.replay: Replay | None = None
        self.game = game if game is not None else GameSpec.of("tictactoe").make()
        self.states: list[Any] = [self.game.init(1)]
        self.index = 0
        self._last_step = self._last_poll = float("-inf")
        self._bad: set[Path] = set()  # live: files that failed to load, not retried
        if path is not None:
            self.load(path)

    # ----- what the window shows ------------------------------------------------------------

    @property
    def moves(self) -> tuple[int, ...]:
        return () if self.replay is None else self.replay.moves

    @property
    def state(self) -> Any:
        return self.states[self.index]

    @property
    def at_end(self) -> bool:
        return self.index == len(self.moves)

    @property
    def last_move(self) -> int | None:
        return self.moves[self.index - 1] if self.index > 0 else None

    @property
    def shown_thinking(self) -> Thinking | None:
        """The thinking recorded for the last move played (``None``: none recorded)."""
        thinking = () if self.replay is None else self.replay.thinking
        return thinking[self.index - 1] if 0 < self.index <= len(thinking) else None

    @property
    def shown_ownership(self) -> tuple[float, ...] | None:
        """The ownership of the latest thinking recorded up to the shown position (``None``:
        that thinking has none). The latest rather than the last move's, so a person's moves,
        which record nothing, do not blank the territory of a game against an agent."""
        thinking = () if self.replay is None else self.replay.thinking[: self.index]
        latest = next((t for t in reversed(thinking) if t is not None), None)
        return None if latest is None else latest.ownership

    def seat_name(self, seat: int) -> str:
        return self.game.seat_names[seat]

    def status(self) -> str:
        """One line: where we are in the game, the last move, and the result at the end."""
        if self.replay is None:
            return f"Waiting for a game in {self.feed.folder if self.feed else 'nowhere'}..."
        n = len(self.moves)
        if self.index == 0:
            text = f"Start ({n} moves)"
        else:
            seat = int(self.states[self.index - 1].current_player[0])
            text = f"Move {self.index}/{n}: {self.seat_name(seat)} {self.game.action_to_string(self.last_move)}"
        if self.at_end:
            text += f" | {self.replay.result or 'unfinished'}"
        return text + (" | playing" if self.autoplay else "")

    def info(self) -> str:
        """Who plays which colour, the Go counts and territory estimate, and the recorded
        thinking's value."""
        if self.replay is None:
            return self.message
        parts = [f"{self.seat_name(s)}: {self.replay.players[s]}" for s in (0, 1)]
        if self.game.has_territory:
            parts += go_counts(self.game, self.state, self.at_end)
            if self.show_territory:
                ownership = self.shown_ownership
                parts.append("no territory recorded" if ownership is None else territory_estimate(self.game, ownership))
        thinking = self.shown_thinking
        if thinking is not None and self.show_thinking:
            seat = int(self.states[self.index - 1].current_player[0])
            parts.append(f"{self.seat_name(seat)}'s value {thinking.value:+.2f}")  # for the player who moved
            if self.game.has_pass:
                parts.append(f"pass {100 * thinking.policy[self.game.pass_action]:.0f}%")
        if self.message:
            parts.append(self.message)
        return " | ".join(parts)

    # ----- what the person does -------------------------------------------------------------

    def seek(self, index: int) -> None:
        """Show the position after ``index`` moves (clipped to the game)."""
        self.index = max(0, min(len(self.moves), int(index)))

    def forward(self) -> None:
        self.seek(self.index + 1)

    def back(self) -> None:
        self.seek(self.index - 1)

    def first(self) -> None:
        self.seek(0)

    def last(self) -> None:
        self.seek(len(self.moves))

    def toggle_autoplay(self) -> None:
        """Start or stop playing the moves; starting at the end starts over."""
        self.autoplay = not self.autoplay
        if self.autoplay and self.at_end and self.feed is None:
            self.first()
        self._last_step = float("-inf")

    def toggle_thinking(self) -> None:
        self.show_thinking = not self.show_thinking

    def toggle_territory(self) -> None:
        """The territory overlay on/off (drawn for Go replays whose thinking has ownership)."""
        self.show_territory = not self.show_territory

    def faster(self) -> None:
        self.delay = max(0.05, self.delay / 1.5)

    def slower(self) -> None:
        self.delay = min(10.0, self.delay * 1.5)

    def load(self, path: str | Path) -> None:
        """Show the replay at ``path`` from its start (``ValueError`` if unusable)."""
        self.replay, self.game, self.states = open_replay(path)
        self.path, self.index = Path(path), 0
        self.message = _run_note(self.feed.folder) if self.feed else ""  # live: the run's progress

    # ----- time -----------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> bool:
        """Once a frame: autoplay one move when its delay has passed, and in live mode switch
        to a newer game. Returns whether the shown position changed."""
        now = time.monotonic() if now is None else now
        if self.feed is not None and now - self._last_poll >= POLL_SECONDS:
            self._last_poll = now
            if self._follow(now):
                return True
        if self.autoplay and not self.at_end and now - self._last_step >= self.delay:
            self._last_step = now
            self.forward()
            return True
        return False

    def _follow(self, now: float) -> bool:
        """Live: load the newest replay if it is new and the shown game is done playing."""
        newest = self.feed.newest(skip=self._bad) if self.feed else None
        if newest is None or newest == self.path:
            return False
        done = self.replay is None or (self.autoplay and self.at_end and now - self._last_step >= END_HOLD * self.delay)
        if not done:
            return False
        try:
            self.load(newest)
        except ValueError as e:
            self._bad.add(newest)
            self.message = f"skipped {newest.name}: {e}"[:120]
            return False
        self._last_step = now
        return True


class WatchWindow:
    """A pygame window (or any surface) showing a :class:`WatchSession`.

    Keys: Left/Right a move, Home/End, Space autoplay, +/- speed, H heat map, O territory
    (Go), Esc/Q quit.
    Buttons do the same; clicking or dragging on the slider jumps to that move.
    """

    def __init__(self, session: WatchSession, surface: pygame.Surface | None = None, fps: int = 30):
        pygame.display.init()
        pygame.font.init()
        if surface is None:
            surface = pygame.display.set_mode(WINDOW_SIZE)
            pygame.display.set_caption("Arena: watch")
        self.session, self.surface, self.fps = session, surface, fps
        self.open = True

    @property
    def layout(self) -> Any:
        return layout_for(self.session.game)  # live games may change size: computed each time

    @property
    def buttons(self) -> list[Any]:
        return buttons_for(self.session.game, WATCH_BUTTONS)

    def handle_event(self, event: pygame.event.Event) -> None:
        """Apply one pygame event (QUIT closes the window)."""
        if event.type == pygame.QUIT:
            self.open = False
        elif event.type == pygame.KEYDOWN and event.key in KEYS:
            self.command(KEYS[event.key])
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.click(event.pos)
        elif event.type == pygame.MOUSEMOTION and event.buttons[0] and SLIDER_HIT.collidepoint(event.pos):
            self.click(event.pos)

    def click(self, pos: tuple[int, int]) -> None:
        """A button's command, or a jump along the slider."""
        command = button_at(self.buttons, pos)
        if command is not None:
            self.command(command)
        elif SLIDER_HIT.collidepoint(pos) and self.session.moves:
            share = (pos[0] - SLIDER.left) / SLIDER.width
            self.session.seek(round(share * len(self.session.moves)))

    def command(self, name: str) -> None:
        """Run a named command (the keys' and buttons' vocabulary)."""
        s = self.session
        actions = {"back": s.back, "forward": s.forward, "first": s.first, "last": s.last,
                   "autoplay": s.toggle_autoplay, "thinking": s.toggle_thinking, "territory": s.toggle_territory,
                   "faster": s.faster, "slower": s.slower, "quit": self.close}
        actions[name]()

    def close(self) -> None:
        self.open = False

    def frame(self, now: float | None = None) -> None:
        """Advance autoplay/live by the clock (``now`` for tests), draw, and show the frame."""
        self.session.tick(now)
        self.draw()
        if self.surface is pygame.display.get_surface():
            pygame.display.flip()

    def draw(self) -> None:
        """The board with the heat map and territory, then the bar: status, info, slider, buttons."""
        s = self.session
        self.surface.fill(BAR)
        heat = s.shown_thinking if s.show_thinking else None
        draw_board(self.surface, s.game, s.state, self.layout, s.last_move, None if heat is None else heat.policy,
                   s.shown_ownership if s.show_territory else None)
        draw_text(self.surface, s.status(), 28, INK, topleft=(12, BAR_TOP + 8))
        info = s.info()
        draw_text(self.surface, info, 20, MESSAGE if s.replay is None else INK, topleft=(12, BAR_TOP + 34))
        pygame.draw.line(self.surface, INK, SLIDER.midleft, SLIDER.midright, 3)
        if s.moves:
            x = SLIDER.left + SLIDER.width * s.index / len(s.moves)
            pygame.draw.circle(self.surface, HEAT, (round(x), SLIDER.centery), SLIDER.height // 2 + 2)
        for button in self.buttons:
            draw_button(self.surface, button, button.command != "thinking" or s.shown_thinking is not None)

    def run(self, max_frames: int | None = None, events: Iterable[pygame.event.Event] | None = None) -> None:
        """The loop, until the window closes or ``max_frames`` frames. Scripted ``events``
        (tests) are fed one per frame; the loop then ends when they are used up."""
        run_loop(self, max_frames, events)

    def screenshot(self, path: str | Path) -> Path:
        """Save the current surface as a PNG."""
        return save_surface(self.surface, path)


def run_game(run: Path) -> Any:
    """The game of a training run folder, from its ``config.json`` (``None`` if unknown)."""
    from envs.spec import GameSpec

    try:
        cfg = json.loads((run / "config.json").read_text()).get("alphazero", {})
        return GameSpec.for_board(cfg["game"], size=int(cfg["size"]), komi=float(cfg["komi"])).uncapped().make()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _run_note(folder: Path) -> str:
    """``step S, elo E`` from the last line of the run's metrics.jsonl (``""`` if none)."""
    metrics = (folder.parent if folder.name == "replays" else folder) / "metrics.jsonl"
    try:
        lines = metrics.read_text().strip().splitlines()
        row = json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return ""
    parts = [f"{key} {row[key]:.0f}" for key in ("step", "elo") if isinstance(row.get(key), (int, float))]
    return ", ".join(parts)
