"""Drawing a :class:`~arena.viewer.session.PlaySession` (or any position) onto a pygame surface.

Pure drawing: nothing here reads events or changes the session. The palette and the star
points are those of :mod:`envs.render` (the numpy ``rgb_array`` frames of the Gymnasium
faces), so the window and the env frames look alike; here pygame draws them anti-aliased
and adds what a person needs: coordinates, the last move, the heat map, the territory
estimate (Go networks with an ownership head) and a status bar.

:func:`draw_board` draws one position with an optional heat map and territory; the play window
(:func:`draw`) and the watch window (:mod:`arena.viewer.watch`) add their own bars.

The window is ``WINDOW_SIZE``: a square board on top and a bar below with the status line,
an info line (captures, score, the agent's value) and the buttons.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pygame
from pygame import gfxdraw

from arena.viewer.session import PlaySession
from envs.go import GTP_COLUMNS
from envs.render import BLACK_STONE, CROSS, INK, NOUGHT, PAPER, WHITE_STONE, WOOD, Color, star_points
from envs.tictactoe import LINES

WINDOW_SIZE = (640, 760)
BOARD_RECT = pygame.Rect(0, 0, 640, 640)
BAR_TOP = BOARD_RECT.bottom
BAR: Color = (232, 230, 224)
LAST_MOVE: Color = (250, 238, 190)
MESSAGE: Color = (170, 40, 40)
HEAT: Color = (255, 80, 0)  # on paper
HEAT_GO: Color = (225, 20, 60)  # on wood, where orange would vanish
BUTTON: Color = (250, 250, 247)
BUTTON_OFF: Color = (210, 208, 202)
LABELLED_MOVES = 8  # percentages on the agent's top moves only (a 19x19 heat map would be unreadable)
MIN_OWNERSHIP = 0.2  # territory: points the network is less sure of than this get no square

# (label, command) of each button; the window maps commands to session methods and keys.
BUTTONS = (("Pass P", "pass"), ("Resign R", "resign"), ("Undo U", "undo"), ("New N", "new"),
           ("Swap S", "swap"), ("Heat H", "thinking"), ("Terr. O", "territory"))
GAME_FACT = {"pass": "has_pass", "territory": "has_territory"}  # buttons a game shows only with the fact


@dataclass(frozen=True)
class BoardLayout:
    """Where the points of an ``size x size`` board are on the screen.

    Point ``p = row * size + col`` (row 0 at the top) is drawn at ``center(p)``; for Go that is
    a grid intersection, for tic-tac-toe the middle of a cell. ``step`` is the pixel distance
    between neighbouring points.
    """

    size: int
    left: float  # x of column 0
    top: float  # y of row 0
    step: float

    def center(self, point: int) -> tuple[int, int]:
        """Pixel centre of ``point``."""
        r, c = divmod(point, self.size)
        return round(self.left + c * self.step), round(self.top + r * self.step)

    def point_at(self, pos: tuple[int, int]) -> int | None:
        """The point whose square (``step`` wide, around its centre) holds pixel ``pos``."""
        c = int((pos[0] - self.left + self.step / 2) // self.step)
        r = int((pos[1] - self.top + self.step / 2) // self.step)
        if 0 <= r < self.size and 0 <= c < self.size:
            return r * self.size + c
        return None


@dataclass(frozen=True)
class Button:
    """A clickable command in the bar."""

    label: str
    command: str
    rect: pygame.Rect


def layout_for(game: Any, rect: pygame.Rect = BOARD_RECT) -> BoardLayout:
    """The layout of ``game``'s board inside ``rect`` (a square)."""
    n, width = game.board_size, rect.width
    if game.board_style == "cells":  # a 40 px margin round the grid
        step = (width - 80) / n
        return BoardLayout(n, rect.left + 40 + step / 2, rect.top + 40 + step / 2, step)
    # Go: the margin m holds half a stone plus the coordinates (22 px): m = step / 2 + 22
    # with step = (width - 2m) / (n - 1), solved for m.
    margin = (width / (2 * (n - 1)) + 22) / (1 + 1 / (n - 1))
    step = (width - 2 * margin) / (n - 1)
    return BoardLayout(n, rect.left + margin, rect.top + margin, step)


def buttons_for(game: Any, specs: tuple[tuple[str, str], ...] = BUTTONS) -> list[Button]:
    """The buttons of the bar, left to right (no Pass or territory in tic-tac-toe); ``specs``
    are ``(label, command)`` pairs (default: the play window's)."""
    chosen = [b for b in specs if b[1] not in GAME_FACT or getattr(game, GAME_FACT[b[1]])]
    gap, height = 8, 36
    width = (WINDOW_SIZE[0] - gap * (len(chosen) + 1)) / len(chosen)
    top = WINDOW_SIZE[1] - height - 10
    return [Button(label, command, pygame.Rect(round(gap + i * (width + gap)), top, round(width), height))
            for i, (label, command) in enumerate(chosen)]


def button_at(buttons: list[Button], pos: tuple[int, int]) -> str | None:
    """The command of the button under ``pos``, if any."""
    return next((b.command for b in buttons if b.rect.collidepoint(pos)), None)


def draw(surface: pygame.Surface, session: PlaySession, layout: BoardLayout, buttons: list[Button]) -> None:
    """Draw the whole window for the session's current position (mutates ``surface``)."""
    surface.fill(BAR)
    thinking = session.shown_thinking
    heat = thinking.policy if thinking is not None and session.show_thinking else None
    ownership = thinking.ownership if thinking is not None and session.show_territory else None
    draw_board(surface, session.game, session.state, layout, session.last_move, heat, ownership)
    _draw_bar(surface, session, buttons)


def draw_board(surface: pygame.Surface, game: Any, state: Any, layout: BoardLayout, last: int | None,
               heat: tuple[float, ...] | None = None, ownership: tuple[float, ...] | None = None) -> None:
    """Draw game 0 of ``state`` into :data:`BOARD_RECT` (mutates ``surface``): the goban or
    the tic-tac-toe grid, the heat map of a policy ``heat`` (one share per action) under the
    stones, and the ``last`` move marked. The play and watch windows both draw with this.

    Go only: ``ownership`` (one per point, +1 black) draws the territory estimate as KataGo
    does, a square of the expected owner's colour on each empty point, larger and darker the
    surer the network is, and on each stone it expects to be captured (dead)."""
    cells = [int(v) for v in state.board[0].tolist()]
    if game.board_style == "points":
        _draw_goban(surface, layout)
        if ownership is not None:  # under the heat map, so its percentages stay readable
            _draw_territory(surface, layout, ownership, cells, on_stones=False)
        if heat is not None:
            _draw_heat(surface, layout, heat, cells)
        _draw_stones(surface, layout, cells, last)
        if ownership is not None:
            _draw_territory(surface, layout, ownership, cells, on_stones=True)
    else:
        _draw_grid(surface, layout, last)
        if heat is not None:
            _draw_heat(surface, layout, heat, cells)
        _draw_marks(surface, layout, cells)


def go_counts(game: Any, state: Any, over: bool) -> list[str]:
    """The info-line parts of a Go position: captures, and the final areas (``over``) or the
    running area count."""
    black, white = (int(v) for v in state.captures[0].tolist())
    parts = [f"captures B {black} W {white}"]
    if over and bool(state.terminated[0]):
        area_b, area_w = (int(v) for v in game.areas(state)[0].tolist())
        parts.append(f"area B {area_b} W {area_w}, komi {game.komi:g}")
    else:
        score = float(game.score_now(state)[0])
        parts.append(f"area now {'B' if score > 0 else 'W'}+{abs(score):g}" if score else "area now even")
    return parts


def territory_estimate(game: Any, ownership: tuple[float, ...]) -> str:
    """``estimate B+3.5``: the area score the ownership expects (its sum, from black's view,
    minus komi), as the info line shows it."""
    score = sum(ownership) - game.komi
    return f"estimate {'B' if score > 0 else 'W'}+{abs(score):.1f}" if round(score, 1) else "estimate even"


def draw_text(surface: pygame.Surface, text: str, size: int, color: Color, center: tuple[float, float] | None = None,
              topleft: tuple[float, float] | None = None) -> pygame.Rect:
    """Blit ``text`` (pygame's default font at ``size``) centred at ``center`` or from
    ``topleft``; returns the rectangle used."""
    image = _font(size).render(text, True, color)
    rect = image.get_rect(center=center) if center is not None else image.get_rect(topleft=topleft)
    surface.blit(image, rect)
    return rect


def draw_button(surface: pygame.Surface, button: Button, enabled: bool = True) -> None:
    """A rounded button with its label (greyed when not ``enabled``)."""
    pygame.draw.rect(surface, BUTTON if enabled else BUTTON_OFF, button.rect, border_radius=6)
    pygame.draw.rect(surface, INK, button.rect, 1, border_radius=6)
    draw_text(surface, button.label, 22, INK if enabled else (120, 120, 120), center=button.rect.center)


# ----- private helpers -----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _font(size: int) -> pygame.font.Font:
    """pygame's bundled default font at ``size`` (cached: loading a font is slow)."""
    if not pygame.font.get_init():
        pygame.font.init()
    return pygame.font.Font(None, size)


def _disc(surface: pygame.Surface, center: tuple[int, int], radius: float, color: Color) -> None:
    """An anti-aliased filled circle."""
    x, y, r = center[0], center[1], max(1, round(radius))
    gfxdraw.filled_circle(surface, x, y, r, color)
    gfxdraw.aacircle(surface, x, y, r, color)


def _draw_goban(surface: pygame.Surface, layout: BoardLayout) -> None:
    """Wood, grid lines, star points and GTP coordinates (letters without I, rows from 1
    at the bottom)."""
    n, step = layout.size, layout.step
    surface.fill(WOOD, BOARD_RECT)
    first, last = layout.center(0), layout.center(n * n - 1)
    for k in range(n):
        x, y = layout.center(k)[0], layout.center(k * n)[1]
        width = 2 if k in (0, n - 1) else 1
        pygame.draw.line(surface, INK, (x, first[1]), (x, last[1]), width)
        pygame.draw.line(surface, INK, (first[0], y), (last[0], y), width)
    for r, c in star_points(n):
        _disc(surface, layout.center(r * n + c), max(2.5, step * 0.09), INK)
    size = max(14, min(22, round(step * 0.5)))
    for k in range(n):
        x, y = layout.center(k)[0], layout.center(k * n)[1]
        for edge_y in (BOARD_RECT.top + 12, BOARD_RECT.bottom - 12):
            draw_text(surface, GTP_COLUMNS[k], size, INK, center=(x, edge_y))
        for edge_x in (BOARD_RECT.left + 12, BOARD_RECT.right - 12):
            draw_text(surface, str(n - k), size, INK, center=(edge_x, y))


def _draw_stones(surface: pygame.Surface, layout: BoardLayout, cells: list[int], last: int | None) -> None:
    """Black and white stones, and a ring on the last stone played (a ring, so the stone's
    own colour stays at its centre)."""
    radius = layout.step * 0.47
    for point, v in enumerate(cells):
        if v == 0:
            continue
        center = layout.center(point)
        if v == 1:
            _disc(surface, center, radius, BLACK_STONE)
        else:
            _disc(surface, center, radius, (90, 90, 90))  # outline
            _disc(surface, center, radius - max(1.0, layout.step * 0.04), WHITE_STONE)
    if last is not None and last < len(cells) and cells[last] != 0:
        mark = WHITE_STONE if cells[last] == 1 else BLACK_STONE
        pygame.draw.circle(surface, mark, layout.center(last), max(4, round(layout.step * 0.22)), 2)


def _draw_grid(surface: pygame.Surface, layout: BoardLayout, last: int | None) -> None:
    """Tic-tac-toe paper, the last move's cell tinted, and the two-by-two grid lines."""
    surface.fill(PAPER, BOARD_RECT)
    half = layout.step / 2
    if last is not None:
        x, y = layout.center(last)
        surface.fill(LAST_MOVE, pygame.Rect(round(x - half), round(y - half), round(layout.step), round(layout.step)))
    lo, hi = layout.left - half, layout.left + 2.5 * layout.step
    for k in (1, 2):
        p = round(lo + k * layout.step)
        pygame.draw.line(surface, INK, (p, round(lo)), (p, round(hi)), 6)
        pygame.draw.line(surface, INK, (round(lo), p), (round(hi), p), 6)


def _draw_marks(surface: pygame.Surface, layout: BoardLayout, cells: list[int]) -> None:
    """Red crosses for X, blue rings for O, and a stroke through a winning line."""
    arm = layout.step * 0.3
    for point, v in enumerate(cells):
        x, y = layout.center(point)
        if v == 1:
            pygame.draw.line(surface, CROSS, (x - arm, y - arm), (x + arm, y + arm), 14)
            pygame.draw.line(surface, CROSS, (x - arm, y + arm), (x + arm, y - arm), 14)
        elif v == -1:
            pygame.draw.circle(surface, NOUGHT, (x, y), round(arm * 1.1), 12)
    for line in LINES:
        if cells[line[0]] != 0 and cells[line[0]] == cells[line[1]] == cells[line[2]]:
            pygame.draw.line(surface, INK, layout.center(line[0]), layout.center(line[2]), 8)


def _draw_heat(surface: pygame.Surface, layout: BoardLayout, policy: tuple[float, ...], cells: list[int]) -> None:
    """The agent's policy (visit shares): orange cells (tic-tac-toe) or discs (Go, so the grid
    stays readable), more opaque the closer to its favourite move, with the percentages of its
    top moves on the empty points."""
    shares = policy[: len(cells)]
    top = max(shares, default=0.0)
    if top <= 0:
        return
    side = round(layout.step * (0.9 if layout.size == 3 else 0.94))
    overlay = pygame.Surface((side, side), pygame.SRCALPHA)
    labelled = sorted(range(len(shares)), key=lambda p: -shares[p])[:LABELLED_MOVES]
    size = max(12, min(40, round(layout.step * 0.4)))
    for point, share in enumerate(shares):
        if share < top * 0.01:
            continue
        overlay.fill((0, 0, 0, 0))
        color = (*(HEAT if layout.size == 3 else HEAT_GO), round(40 + 150 * share / top))
        if layout.size == 3:
            overlay.fill(color)
        else:
            gfxdraw.filled_circle(overlay, side // 2, side // 2, side // 2 - 1, color)
        x, y = layout.center(point)
        surface.blit(overlay, (x - side // 2, y - side // 2))
        if cells[point] == 0 and share >= 0.005 and point in labelled and layout.step >= 24:
            draw_text(surface, f"{round(100 * share)}%", size, INK, center=(x, y))


def _draw_territory(surface: pygame.Surface, layout: BoardLayout, ownership: tuple[float, ...], cells: list[int],
                    on_stones: bool) -> None:
    """Squares of the expected owner's colour, side and opacity growing with ``|ownership|``
    (none below :data:`MIN_OWNERSHIP`): on the empty points, or (``on_stones``) on the stones
    whose colour is not the expected owner's, which marks them dead. Smaller on stones, so the
    last-move ring stays visible."""
    scale = 0.3 if on_stones else 0.42
    for point, (owner, v) in enumerate(zip(ownership, cells)):
        sure = min(1.0, abs(owner))
        if sure < MIN_OWNERSHIP or (v != 0) != on_stones or v * owner > 0:
            continue
        side = max(3, round(layout.step * scale * sure))
        x, y = layout.center(point)
        square = pygame.Rect(x - side // 2, y - side // 2, side, side)
        color = BLACK_STONE if owner > 0 else WHITE_STONE
        gfxdraw.box(surface, square, (*color, round(90 + 165 * sure)))
        if owner < 0 and not on_stones:  # a white square needs an edge on pale wood
            gfxdraw.rectangle(surface, square, (90, 90, 90, round(60 + 120 * sure)))


def _draw_bar(surface: pygame.Surface, session: PlaySession, buttons: list[Button]) -> None:
    """Status line, message or info line, and the buttons."""
    surface.fill(BAR, pygame.Rect(0, BAR_TOP, WINDOW_SIZE[0], WINDOW_SIZE[1] - BAR_TOP))
    draw_text(surface, session.status(), 28, INK, topleft=(12, BAR_TOP + 8))
    draw_text(surface, info_line(session), 22, INK, topleft=(12, BAR_TOP + 36))
    if session.message:
        draw_text(surface, session.message, 22, MESSAGE, topleft=(12, BAR_TOP + 58))
    thinking = session.shown_thinking
    shows = {"thinking": thinking is not None, "territory": thinking is not None and thinking.ownership is not None}
    for button in buttons:  # an overlay's button is greyed while there is nothing to show
        draw_button(surface, button, shows.get(button.command, True))


def info_line(session: PlaySession) -> str:
    """Captures and score (Go), the territory estimate's score when it is shown, who plays
    what, and the agent's value when shown."""
    parts = [f"you: {session.seat_name(session.human_seat)}"]
    thinking = session.shown_thinking
    if session.game.has_territory:
        parts += go_counts(session.game, session.state, session.over)
        if session.show_territory and thinking is not None and thinking.ownership is not None:
            parts.append(territory_estimate(session.game, thinking.ownership))
    if thinking is not None and session.show_thinking:
        parts.append(f"{session.opponent.name}'s value {thinking.value:+.2f}")  # for itself
        if session.game.has_pass and len(thinking.policy) > session.game.pass_action:
            parts.append(f"pass {100 * thinking.policy[session.game.pass_action]:.0f}%")
    return " | ".join(parts)
