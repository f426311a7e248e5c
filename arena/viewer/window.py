"""The event loop: pygame events become :class:`PlaySession` calls, then a redraw.

Mouse: click a point to move, click a button. Keys: P pass (Go), R resign, U undo, N new
game, S swap colours, H heat map on/off, O territory estimate on/off (Go), Esc or Q close.
Closing the window saves the game as a replay. Each frame polls the session, so the
opponent's move appears as soon as its thread answers while the window keeps redrawing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pygame

from arena.viewer.board import WINDOW_SIZE, button_at, buttons_for, draw, layout_for
from arena.viewer.session import PlaySession

KEYS = {pygame.K_p: "pass", pygame.K_r: "resign", pygame.K_u: "undo", pygame.K_n: "new",
        pygame.K_s: "swap", pygame.K_h: "thinking", pygame.K_o: "territory", pygame.K_ESCAPE: "quit",
        pygame.K_q: "quit"}


class PlayWindow:
    """A pygame window (or any surface) showing ``session`` and taking the person's input.

    Args:
        session: the game being played.
        surface: where to draw; ``None`` opens the display window (headless under
            ``SDL_VIDEODRIVER=dummy``).
        fps: frames per second of :meth:`run` (``0``: as fast as possible, for tests).
    """

    def __init__(self, session: PlaySession, surface: pygame.Surface | None = None, fps: int = 30):
        pygame.display.init()  # not pygame.init(): no audio is needed (and none may exist)
        pygame.font.init()
        if surface is None:
            surface = pygame.display.set_mode(WINDOW_SIZE)
            pygame.display.set_caption(f"Arena: {session.game.name} vs {session.opponent.name}")
        self.session, self.surface, self.fps = session, surface, fps
        self.layout = layout_for(session.game)
        self.buttons = buttons_for(session.game)
        self.open = True
        self.saved_to: Path | None = None  # where closing wrote the replay

    def handle_event(self, event: pygame.event.Event) -> None:
        """Apply one pygame event to the session (QUIT closes and saves the replay)."""
        if event.type == pygame.QUIT:
            self.close()
        elif event.type == pygame.KEYDOWN and event.key in KEYS:
            self.command(KEYS[event.key])
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.click(event.pos)

    def click(self, pos: tuple[int, int]) -> None:
        """A left click: a button's command, or a move on the board."""
        command = button_at(self.buttons, pos)
        if command is not None:
            self.command(command)
            return
        point = self.layout.point_at(pos)
        if point is not None:
            self.session.play(point)

    def command(self, name: str) -> None:
        """Run a named command (the buttons' and keys' vocabulary)."""
        s = self.session
        actions = {"pass": s.pass_move, "resign": s.resign, "undo": s.undo, "new": s.new_game,
                   "swap": s.swap, "thinking": s.toggle_thinking, "territory": s.toggle_territory,
                   "quit": self.close}
        actions[name]()

    def close(self) -> None:
        """Stop the loop and save the game (if it has moves)."""
        if self.open:
            self.open = False
            self.saved_to = self.session.close()

    def frame(self) -> None:
        """Pick up the agent's move, draw, and show the frame."""
        self.session.poll()
        draw(self.surface, self.session, self.layout, self.buttons)
        if self.surface is pygame.display.get_surface():
            pygame.display.flip()

    def run(self, max_frames: int | None = None, events: Iterable[pygame.event.Event] | None = None) -> None:
        """The loop: until the window closes, or ``max_frames`` frames.

        ``events=None`` reads pygame's queue. Scripted ``events`` (tests, screenshots) are fed
        one per frame, each once the agent has answered, as a patient person would; the loop
        then ends when they are used up (or earlier at ``max_frames``), after a last frame.
        """
        run_loop(self, max_frames, events, before_scripted=self.session.wait_for_agent)

    def screenshot(self, path: str | Path) -> Path:
        """Save the current surface as a PNG."""
        return save_surface(self.surface, path)


def click_event(pos: tuple[int, int]) -> pygame.event.Event:
    """A left mouse click at ``pos`` (for scripted input)."""
    return pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1)


def key_event(key: int) -> pygame.event.Event:
    """A key press (for scripted input)."""
    return pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="")


def run_loop(window: Any, max_frames: int | None, events: Iterable[pygame.event.Event] | None,
             before_scripted: Callable[[], None] | None = None) -> None:
    """The event loop every Arena window shares (``window`` has ``open``, ``fps``,
    ``handle_event`` and ``frame``): pygame's queue, or scripted ``events`` one per frame
    (``before_scripted`` runs before each, e.g. to wait for the agent), then a last frame."""
    clock = pygame.time.Clock()
    scripted = None if events is None else iter(events)
    frames = 0
    while window.open and (max_frames is None or frames < max_frames):
        if scripted is None:
            for event in pygame.event.get():
                window.handle_event(event)
        else:
            if before_scripted is not None:
                before_scripted()
            event = next(scripted, None)
            if event is None:
                window.frame()
                return
            window.handle_event(event)
        if window.open:
            window.frame()
        frames += 1
        if window.fps:
            clock.tick(window.fps)


def save_surface(surface: pygame.Surface, path: str | Path) -> Path:
    """Save ``surface`` as a PNG at ``path`` (folders made as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surface, str(path))
    return path
