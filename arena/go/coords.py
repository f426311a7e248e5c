"""Go board coordinates other than the rules' own. A point is an action ``row * size + column``
with row 0 at the top, and ``size * size`` is the pass (envs/go.py, whose
``action_to_string``/``string_to_action`` own GTP vertices like ``D4``). SGF records, through
sgfmill, name a point ``(row, column)`` with row 0 at the bottom and a pass ``None``."""

from __future__ import annotations


def to_sgfmill(action: int, size: int) -> tuple[int, int] | None:
    """The sgfmill point of ``action`` on a ``size`` board (None for the pass)."""
    return None if action == size * size else (size - 1 - action // size, action % size)


def from_sgfmill(point: tuple[int, int] | None, size: int) -> int:
    """The action of an sgfmill point (None is the pass); inverse of :func:`to_sgfmill`."""
    return size * size if point is None else (size - 1 - point[0]) * size + point[1]
