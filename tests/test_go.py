"""Go rules: captures, ko and positional superko, and suicide, in hand-made ASCII positions
played on the batched engine and checked against the scalar reference (tests/go_reference.py)
and hand-counted values. Scoring, board sizes, the move cap, observations, coordinates and
batches are in tests/test_go_scoring.py."""

from __future__ import annotations

import pytest
import torch

from envs import core
from go_positions import game_from, legal, play
from go_reference import GoReference, parse_vertex

# Black can take the ko at C4, capturing B4.
KO = """
. X O . .
X O . O .
. X O . .
. . . . .
. . . . .
"""

# Three kos: black can take at C8 and C4, white at G8. Taking them in turn cycles back
# to this position after six captures, none of which is an immediate ko recapture.
TRIPLE_KO = """
. X O . . . X O .
X O . O . X . X O
. X O . . . X O .
. . . . . . . . .
. X O . . . . . .
X O . O . . . . .
. X O . . . . . .
. . . . . . . . .
. . . . . . . . .
"""
TRIPLE_KO_CYCLE = ["C8", "G8", "C4", "B8", "H8", "B4"]


# ----- captures -----------------------------------------------------------------------------


def test_single_stone_capture() -> None:
    game, state, ref = game_from("""
        . . . . .
        . . X . .
        . X O . .
        . . X . .
        . . . . .
    """)
    state = play(game, state, ref, ["D3"])
    assert state.board[0, parse_vertex("C3", 5)] == 0
    assert state.captures[0].tolist() == [1, 0]
    assert not legal(state, game, "C3")  # white back into the hole: one-stone suicide


def test_group_capture() -> None:
    game, state, ref = game_from("""
        . X X X .
        X O O O .
        . X O X .
        . . X . .
        . . . . .
    """)
    assert legal(state, game, "E4")
    state = play(game, state, ref, ["E4"])
    assert state.captures[0].tolist() == [4, 0]
    for v in ["B4", "C4", "D4", "C3"]:
        assert state.board[0, parse_vertex(v, 5)] == 0
    assert int((state.board[0] == -1).sum()) == 0


def test_capture_saves_own_group_in_atari() -> None:
    # Black A5-B5 is in atari at C5; C5 has no liberty of its own but captures D5.
    game, state, ref = game_from("""
        X X . O X
        O O O X .
        . . . . .
        . . . . .
        . . . . .
    """)
    assert legal(state, game, "C5")
    state = play(game, state, ref, ["C5"])
    assert state.captures[0].tolist() == [1, 0]
    assert state.board[0, :5].tolist() == [1, 1, 1, 0, 1]


def test_snapback() -> None:
    game, state, ref = game_from("""
        . X O . .
        . X O . .
        O O . . .
        . . . . .
        . . . . .
    """, to_play=1)
    # White throws in at A5, black takes it at A4, white retakes all three at A5.
    state = play(game, state, ref, ["A5", "A4", "A5"])
    assert state.captures[0].tolist() == [1, 3]
    assert state.board[0].view(5, 5)[:2, :2].tolist() == [[-1, 0], [0, 0]]


# ----- ko and superko -----------------------------------------------------------------------


def test_simple_ko() -> None:
    game, state, ref = game_from(KO)
    state = play(game, state, ref, ["C4"])
    assert state.captures[0].tolist() == [1, 0]
    assert not legal(state, game, "B4")  # immediate retake recreates the start position
    with pytest.raises(core.IllegalActionError, match="B4"):
        game.step(state, torch.tensor([parse_vertex("B4", 5)]))
    # A ko threat and its answer change the board, so the retake is legal again.
    state = play(game, state, ref, ["E1", "E2"])
    assert legal(state, game, "B4")
    state = play(game, state, ref, ["B4"])
    assert state.captures[0].tolist() == [1, 1]
    assert not legal(state, game, "C4")  # and now black may not retake at once


def test_a_pass_does_not_lift_the_ko() -> None:
    # White passes, black takes the ko: the retake would repeat the start position.
    game, state, ref = game_from(KO, to_play=1)
    state = play(game, state, ref, ["pass", "C4"])
    assert not legal(state, game, "B4")
    # Black takes, white passes, black plays elsewhere: the board differs, the retake is legal.
    game, state, ref = game_from(KO)
    state = play(game, state, ref, ["C4", "pass", "A1"])
    assert legal(state, game, "B4")


def test_triple_ko_cycle_is_forbidden_by_superko_only() -> None:
    simple = GoReference.from_ascii(TRIPLE_KO, ko_rule="simple")
    for m in TRIPLE_KO_CYCLE:  # a simple-ko rule allows the whole cycle ...
        simple.play(parse_vertex(m, 9))
    assert simple.board == GoReference.from_ascii(TRIPLE_KO).board
    game, state, ref = game_from(TRIPLE_KO)
    state = play(game, state, ref, TRIPLE_KO_CYCLE[:-1])
    assert state.captures[0].tolist() == [3, 2]
    assert not legal(state, game, "B4")  # ... positional superko forbids its last move
    with pytest.raises(core.IllegalActionError, match="B4"):
        game.step(state, torch.tensor([parse_vertex("B4", 9)]))
    assert legal(state, game, "pass")


def test_captures_accumulate() -> None:
    game, state, ref = game_from(KO)
    state = play(game, state, ref, ["C4", "E1", "E2", "B4", "A1", "D1", "C4"])
    assert state.captures[0].tolist() == [2, 1]


# ----- suicide ------------------------------------------------------------------------------


def test_single_stone_suicide_is_illegal() -> None:
    game, state, ref = game_from("""
        . O . . .
        O . . . .
        . . . . .
        . . . . .
        . . . . .
    """)
    assert not legal(state, game, "A5")
    with pytest.raises(core.IllegalActionError, match="A5"):
        game.step(state, torch.tensor([parse_vertex("A5", 5)]))


def test_group_suicide_is_illegal() -> None:
    game, state, ref = game_from("""
        X X . O .
        O O O X .
        . . . . .
        . . . . .
        . . . . .
    """)
    assert not legal(state, game, "C5")  # would leave A5-B5-C5 without liberties
    game, state, ref = game_from("""
        X X . O .
        O O O X .
        . . . . .
        . . . . .
        . . . . .
    """, to_play=1)
    state = play(game, state, ref, ["C5"])  # for white the same point captures two
    assert state.captures[0].tolist() == [0, 2]
