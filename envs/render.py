"""Board pictures as pure numpy: the ``rgb_array`` frames of the Gymnasium/PettingZoo faces.

The drawing is numpy only, so rendering works headless and costs nothing at import. Every
``draw_*`` function returns a fresh ``uint8`` array ``[H, W, 3]``. :class:`HumanWindow`, the
``render_mode="human"`` window, shows exactly those frames (pixel for pixel) in a pygame
window; pygame is imported only when such a window opens.
Boards use the games' convention: ``+1`` for X / black, ``-1`` for O / white, ``0`` empty,
cell ``row * size + col`` with row 0 at the top.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

Color = tuple[int, int, int]

PAPER: Color = (245, 245, 240)
INK: Color = (40, 40, 40)
CROSS: Color = (200, 50, 50)
NOUGHT: Color = (40, 90, 200)
WOOD: Color = (220, 179, 92)
BLACK_STONE: Color = (20, 20, 20)
WHITE_STONE: Color = (240, 240, 240)


@functools.lru_cache(maxsize=None)
def star_points(size: int) -> tuple[tuple[int, int], ...]:
    """The star points (hoshi) of a ``size x size`` goban as ``(row, col)``, sorted, as real
    boards mark them; the one table of the env frames and of the play and watch windows.

    19x19: the 4-4 points, the side stars and tengen (9). 13x13: the 4-4 points and tengen
    (5). 9x9: the 3-3 points and tengen (5). Other sizes follow the same pattern: corner stars
    on the 4th line from 13 up and on the 3rd line from 7 up, side stars on odd boards from
    15 up, tengen on odd boards but 7x7 (where, as in Sabaki, it would crowd the four 3-3
    points). Under 7 there is no room for corner stars: 5x5 marks tengen only, 6x6 nothing.
    """
    stars: list[tuple[int, int]] = []
    mid = size // 2
    if size >= 7:
        near = 3 if size >= 13 else 2
        far = size - 1 - near
        stars += [(r, c) for r in (near, far) for c in (near, far)]
        if size % 2 and size >= 15:
            stars += [(near, mid), (mid, near), (mid, far), (far, mid)]
    if size % 2 and size != 7:
        stars.append((mid, mid))
    return tuple(sorted(stars))


def draw_tictactoe(board: Sequence[int] | np.ndarray, size_px: int = 192) -> np.ndarray:
    """A tic-tac-toe position: grid, red crosses for X, blue rings for O.

    Args:
        board: 9 cells (or a 3x3 array) in ``{+1 (X), -1 (O), 0}``.
        size_px: width and height of the picture in pixels (at least 30).

    Returns:
        uint8 ``[size_px, size_px, 3]``.
    """
    cells = _cells(board, 3)
    if size_px < 30:
        raise ValueError(f"size_px must be at least 30, got {size_px}")
    img = np.empty((size_px, size_px, 3), dtype=np.uint8)
    img[:] = PAPER
    cell = size_px / 3
    width = max(1.0, size_px / 64)
    for k in (1, 2):
        _segment(img, (k * cell, 0), (k * cell, size_px - 1), width, INK)
        _segment(img, (0, k * cell), (size_px - 1, k * cell), width, INK)
    for i, v in enumerate(cells):
        r, c = divmod(i, 3)
        cy, cx = (r + 0.5) * cell, (c + 0.5) * cell
        half = cell * 0.3
        if v == 1:
            _segment(img, (cy - half, cx - half), (cy + half, cx + half), 2 * width, CROSS)
            _segment(img, (cy - half, cx + half), (cy + half, cx - half), 2 * width, CROSS)
        elif v == -1:
            _ring(img, (cy, cx), half, 2 * width, NOUGHT)
    return img


def draw_go(board: Sequence[int] | np.ndarray, size: int, size_px: int = 320) -> np.ndarray:
    """A Go position: wooden board, grid lines, star points, black and white stones.

    Args:
        board: ``size * size`` points (or a ``[size, size]`` array) in
            ``{+1 (black), -1 (white), 0}``.
        size: the board size N.
        size_px: width and height of the picture in pixels (at least ``4 * size``).

    Returns:
        uint8 ``[size_px, size_px, 3]``.
    """
    cells = _cells(board, size)
    if size_px < 4 * size:
        raise ValueError(f"size_px must be at least {4 * size} for a {size}x{size} board, got {size_px}")
    img = np.empty((size_px, size_px, 3), dtype=np.uint8)
    img[:] = WOOD
    step = size_px / size
    lo, hi = step / 2, size_px - step / 2
    width = max(1.0, size_px / 400)
    for k in range(size):
        p = (k + 0.5) * step
        _segment(img, (p, lo), (p, hi), width, INK)
        _segment(img, (lo, p), (hi, p), width, INK)
    for r, c in star_points(size):
        _disc(img, ((r + 0.5) * step, (c + 0.5) * step), max(1.5, step * 0.1), INK)
    for i, v in enumerate(cells):
        if v == 0:
            continue
        r, c = divmod(i, size)
        center = ((r + 0.5) * step, (c + 0.5) * step)
        radius = step * 0.46
        if v == 1:
            _disc(img, center, radius, BLACK_STONE)
        else:
            _disc(img, center, radius, INK)
            _disc(img, center, radius - max(1.0, step * 0.05), WHITE_STONE)
    return img


class HumanWindow:
    """A pygame window that shows ``rgb_array`` frames as they are, at most ``fps`` a second.

    Gymnasium's ``render_mode="human"``: the env draws its usual frame and hands it to
    :meth:`show`, so the window shows the very picture ``render_mode="rgb_array"`` returns.
    Runs headless under ``SDL_VIDEODRIVER=dummy``. pygame is imported on the first frame.
    """

    def __init__(self, title: str = "arena", fps: float = 4) -> None:
        self.title, self.fps = title, fps
        self.surface = None  # the display surface, once the first frame is shown
        self._clock = None

    def show(self, frame: np.ndarray) -> None:
        """Blit ``frame`` (uint8 ``[H, W, 3]``) to the window (opened or resized to fit), flip,
        pump the event queue (so the OS sees the window alive) and wait to keep ``fps``."""
        import pygame

        if not pygame.display.get_init():
            pygame.display.init()
        height, width = frame.shape[:2]
        if self.surface is None or self.surface.get_size() != (width, height) or \
                pygame.display.get_surface() is not self.surface:
            self.surface = pygame.display.set_mode((width, height))
            pygame.display.set_caption(self.title)
            self._clock = pygame.time.Clock()
        pygame.surfarray.blit_array(self.surface, np.ascontiguousarray(frame.transpose(1, 0, 2)))  # (W, H, 3)
        pygame.event.pump()
        pygame.display.flip()
        if self.fps and self._clock is not None:
            self._clock.tick(self.fps)

    def pixels(self) -> np.ndarray:
        """What the window shows now, uint8 ``[H, W, 3]`` (empty before the first frame)."""
        if self.surface is None:
            return np.zeros((0, 0, 3), dtype=np.uint8)
        import pygame

        return pygame.surfarray.array3d(self.surface).transpose(1, 0, 2).copy()

    def close(self) -> None:
        """Close the window (pygame's display only; a later :meth:`show` opens a new one)."""
        if self.surface is not None:
            import pygame

            pygame.display.quit()
            self.surface = None


# ----- private helpers -------------------------------------------------------------------


def _cells(board: Sequence[int] | np.ndarray, size: int) -> list[int]:
    """The board flattened to ``size * size`` ints, or a ValueError naming the shape."""
    flat = np.asarray(board).reshape(-1)
    if flat.size != size * size:
        raise ValueError(f"expected {size * size} cells for a {size}x{size} board, got shape {np.shape(board)}")
    return [int(v) for v in flat]


def _window(img: np.ndarray, y0: float, y1: float, x0: float, x1: float):
    """Integer bounds clipped to the image, and the pixel-centre grids inside them."""
    h, w = img.shape[:2]
    top, bottom = max(0, int(np.floor(y0))), min(h, int(np.ceil(y1)) + 1)
    left, right = max(0, int(np.floor(x0))), min(w, int(np.ceil(x1)) + 1)
    ys, xs = np.mgrid[top:bottom, left:right]
    return (top, bottom, left, right), ys + 0.5, xs + 0.5


def _paint(img: np.ndarray, bounds: tuple[int, int, int, int], mask: np.ndarray, color: Color) -> None:
    """Set the pixels of ``mask`` inside ``bounds`` to ``color`` (mutates ``img``)."""
    top, bottom, left, right = bounds
    img[top:bottom, left:right][mask] = color


def _disc(img: np.ndarray, center: tuple[float, float], radius: float, color: Color) -> None:
    """A filled disc (mutates ``img``)."""
    cy, cx = center
    bounds, ys, xs = _window(img, cy - radius, cy + radius, cx - radius, cx + radius)
    _paint(img, bounds, (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2, color)


def _ring(img: np.ndarray, center: tuple[float, float], radius: float, width: float, color: Color) -> None:
    """A circle outline of the given stroke width (mutates ``img``)."""
    cy, cx = center
    outer = radius + width / 2
    bounds, ys, xs = _window(img, cy - outer, cy + outer, cx - outer, cx + outer)
    d = np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
    _paint(img, bounds, np.abs(d - radius) <= width / 2, color)


def _segment(
    img: np.ndarray, a: tuple[float, float], b: tuple[float, float], width: float, color: Color,
) -> None:
    """A thick line segment from ``a`` to ``b`` (``(y, x)`` points; mutates ``img``)."""
    (ay, ax), (by, bx) = a, b
    pad = width / 2 + 1
    bounds, ys, xs = _window(img, min(ay, by) - pad, max(ay, by) + pad, min(ax, bx) - pad, max(ax, bx) + pad)
    dy, dx = by - ay, bx - ax
    length2 = dy * dy + dx * dx
    t = np.clip(((ys - ay) * dy + (xs - ax) * dx) / length2, 0.0, 1.0) if length2 > 0 else 0.0
    dist2 = (ys - (ay + t * dy)) ** 2 + (xs - (ax + t * dx)) ** 2
    _paint(img, bounds, dist2 <= (width / 2) ** 2 + 0.25, color)
