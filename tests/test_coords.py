"""arena/go/coords.py: sgfmill's points (row 0 at the bottom) against our actions (row 0 at the top)."""

from __future__ import annotations

import pytest

from arena.go.coords import from_sgfmill, to_sgfmill


def test_corners_and_pass_on_9x9() -> None:
    assert to_sgfmill(0, 9) == (8, 0)  # A9, the top-left corner, is sgfmill's last row
    assert to_sgfmill(80, 9) == (0, 8)  # J1, bottom right
    assert to_sgfmill(81, 9) is None and from_sgfmill(None, 9) == 81


@pytest.mark.parametrize("size", [5, 9, 19])
def test_round_trip(size: int) -> None:
    assert [from_sgfmill(to_sgfmill(a, size), size) for a in range(size * size + 1)] == list(range(size * size + 1))
