"""The GTP engine (arena/go/gtp.py) on its game commands, in scripted sessions: board size,
komi and time settings, play with illegal moves and superko, games far past the self-play
move cap, undo, out-of-turn moves, genmove, Tromp-Taylor final_score, and tic-tac-toe over
the same protocol. The protocol itself (ids, preprocessing, malformed input, fuzzing,
streams, the client, GNU Go) is in tests/test_gtp_protocol.py."""

from __future__ import annotations

import random
import re

import pytest

from arena.go.gtp import GtpEngine
from go_reference import GoReference, long_game, vertex
from gtp_session import fails, new_engine, ok


def play_all(engine: GtpEngine, moves: str) -> None:
    """Alternate black and white through ``moves`` ("C3 D4 ...")."""
    for i, vertex in enumerate(moves.split()):
        ok(engine, f"play {'bw'[i % 2]} {vertex}")


# ----- board size, komi and time settings --------------------------------------------------


def test_boardsize_and_clear_board():
    e = new_engine(size=9)
    ok(e, "play b E5")
    ok(e, "boardsize 5")  # changes the size and clears the board
    assert ok(e, "list_stones black") == ""
    ok(e, "play b E5")
    assert fails(e, "play w J9") == "syntax error"  # no J column on 5x5
    for bad in ("boardsize 4", "boardsize 20", "boardsize 0", "boardsize -9", "boardsize 99999999999999999999999"):
        assert fails(e, bad) == "unacceptable size"
    for bad in ("boardsize", "boardsize nine", "boardsize 9.0", "boardsize \u0669"):  # Arabic-Indic 9
        assert fails(e, bad) == "syntax error"
    assert ok(e, "list_stones b") == "E5"  # failed commands leave the position alone
    ok(e, "boardsize 19")
    ok(e, "play b T19")
    ok(e, "clear_board")
    assert ok(e, "list_stones black") == ""


def test_komi_and_time_commands():
    e = new_engine()
    for line in ("komi 0.5", "komi -3", "komi 7", "time_settings 0 1 0", "time_left b 60 0", "time_left"):
        ok(e, line)
    for bad in ("komi", "komi x", "komi nan", "komi inf", "komi 1e400"):
        assert fails(e, bad) == "syntax error"


# ----- play, illegal moves, undo -----------------------------------------------------------


def test_play_legal_and_illegal_moves():
    e = new_engine(size=5)
    play_all(e, "C3 A2 C4 B1")
    assert fails(e, "play b C3") == "illegal move"  # occupied
    assert fails(e, "play b A1") == "illegal move"  # suicide: A2 and B1 are white
    ok(e, "play b pass")
    assert ok(e, "list_stones black") == "C4 C3"  # top row first
    assert ok(e, "list_stones white") == "A2 B1"
    for bad in ("play", "play black", "play X Z99", "play green C3", "play b Z99", "play b C9",
                "play b C", "play b 33", "play b C3C3", "play b C\u0663"):
        assert fails(e, bad) == "syntax error", bad
    ok(e, "play WHITE d4")  # colours and vertices are case-insensitive


def test_superko_in_a_ko_fight():
    e = new_engine(size=5)
    # Black surrounds C3 on three sides, white surrounds D3; black D3 takes the ko at C3.
    play_all(e, "B3 D4 C4 D2 C2 C3 A1 E3 D3")
    assert "C3" not in ok(e, "list_stones white")  # captured
    board = ok(e, "showboard")
    assert fails(e, "play w C3") == "illegal move"  # retaking at once repeats the position
    assert ok(e, "showboard") == board
    ok(e, "play w A5")  # white plays elsewhere, black answers
    ok(e, "play b E5")
    ok(e, "play w C3")  # the position differs now: the ko may be retaken
    assert "D3" not in ok(e, "list_stones black")


def test_a_long_game_takes_every_legal_move_far_past_the_old_cap():
    """250 moves on 5x5, five times the self-play cap (``2 * N * N``: the engine used to answer
    ``? illegal move`` from move 51): every legal move is accepted, and moves are refused
    exactly where the reference forbids them (occupied, suicide, superko)."""
    actions, _ = long_game(5, 250, seed=2)
    e, ref, rng = new_engine(size=5), GoReference(size=5, komi=7.5, max_moves=0), random.Random(2)
    for i, action in enumerate(actions):
        colour = "bw"[i % 2]
        illegal = [p for p, legal in enumerate(ref.legal_moves()[:-1]) if not legal]
        for p in rng.sample(illegal, min(3, len(illegal))):
            assert fails(e, f"play {colour} {vertex(p, 5)}") == "illegal move", (i + 1, vertex(p, 5))
        ok(e, f"play {colour} {vertex(action, 5)}")
        ref.play(action)
    assert len(actions) == 250 and sum(ref.captures) > 100
    for colour, sign in (("black", 1), ("white", -1)):
        assert ok(e, f"list_stones {colour}").split() == [vertex(p, 5) for p in range(25) if ref.board[p] == sign]
    assert ok(e, "final_score") == f"{'B' if ref.score_now() > 0 else 'W'}+{abs(ref.score_now()):g}"
    ok(e, "play b pass")  # move 251
    ok(e, "undo")  # replays all 250 moves
    assert re.fullmatch(r"[A-E][1-5]|pass", ok(e, "genmove b"))
    ok(e, "play w pass")
    ok(e, "play b pass")  # two passes still end the game
    assert fails(e, "play w pass") == "illegal move"


def test_undo_replays_the_moves():
    e = new_engine(size=5)
    empty = ok(e, "showboard")
    play_all(e, "B3 D4 C4 D2 C2 C3 A1 E3 D3")  # the capture at C3 ...
    ok(e, "undo")  # ... is undone: the white stone comes back
    assert "C3" in ok(e, "list_stones white")
    assert "D3" not in ok(e, "list_stones black")
    for _ in range(8):
        ok(e, "undo")
    assert ok(e, "showboard") == empty
    assert fails(e, "undo") == "cannot undo"


def test_out_of_turn_moves_insert_a_pass_that_does_not_end_the_game():
    e = new_engine(size=5)
    ok(e, "play b pass")
    ok(e, "play b C3")  # white to move: white passes, then black plays (the game goes on)
    ok(e, "play b D3")
    assert ok(e, "list_stones black") == "C3 D3"
    assert "white (O) to move" in ok(e, "showboard")
    ok(e, "undo")
    assert ok(e, "list_stones black") == "C3"
    assert "white (O) to move" in ok(e, "showboard")


def test_a_finished_game_takes_no_moves_and_genmove_passes():
    e = new_engine(size=5)
    play_all(e, "C3 pass pass")
    assert "result" in ok(e, "showboard")
    assert fails(e, "play w D4") == "illegal move"
    assert ok(e, "genmove w") == "pass"
    ok(e, "undo")  # back to a game in progress
    ok(e, "play w D4")


# ----- genmove and scoring ------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["random", "mcts"])
def test_genmove_plays_a_legal_move_that_is_then_on_the_board(agent):
    e = new_engine(size=5, agent=agent, simulations=8)
    ok(e, "play b C3")
    for colour, other in (("white", "black"), ("black", "white"), ("b", "w")):  # the last is out of turn
        before = set(ok(e, f"list_stones {colour}").split())
        vertex = ok(e, f"genmove {colour}")
        assert re.fullmatch(r"[A-E][1-5]|pass", vertex), vertex
        after = set(ok(e, f"list_stones {colour}").split())
        if vertex != "pass":
            assert vertex in after and vertex not in before
            assert vertex not in ok(e, f"list_stones {other}").split()
    ok(e, "undo")
    assert fails(e, "genmove") == "syntax error"
    assert fails(e, "genmove red") == "syntax error"


def test_final_score_is_tromp_taylor_area_with_komi():
    e = new_engine(size=5)
    # Black wall on column C, white wall on column D, and a lone black stone at E5:
    #    A B C D E
    #  5 . . X O X
    #  4 . . X O .
    #  3 . . X O .
    #  2 . . X O .
    #  1 . . X O .
    # Black: 15 (columns A-C) + E5 = 16. White: its 5 stones; E1-E4 touch both colours (neutral).
    play_all(e, "C1 D1 C2 D2 C3 D3 C4 D4 C5 D5 E5")
    assert ok(e, "final_score") == "B+3.5"  # 16 - 5 - 7.5
    ok(e, "komi 11")
    assert ok(e, "final_score") == "0"
    ok(e, "komi 12.5")
    assert ok(e, "final_score") == "W+1.5"
    ok(e, "undo")  # without E5, E1-E5 are white's: 15 - 10 - 12.5
    assert ok(e, "final_score") == "W+7.5"


def test_the_engine_answers_with_a_checkpoint_factory_that_fails_on_other_sizes():
    calls = []

    def make_player(game):
        calls.append(game.board_size)
        if game.board_size != 5:
            raise ValueError("trained on 5x5")
        from arena.bots.players import make_player as real

        return real("random", game)

    e = GtpEngine("go", 5, 7.5, make_player)
    assert fails(e, "boardsize 9") == "unacceptable size"
    ok(e, "genmove b")
    assert calls == [5, 9]


# ----- tic-tac-toe ----------------------------------------------------------------------------


def test_tictactoe_speaks_the_same_protocol():
    e = new_engine(game="tictactoe", agent="minimax")
    assert fails(e, "boardsize 5") == "unacceptable size"
    ok(e, "boardsize 3")
    ok(e, "komi 6.5")  # accepted, meaningless
    for bad in ("play b D1", "play b A4", "play b pass", "play b 4"):
        assert fails(e, bad) == "syntax error", bad
    play_all(e, "A1 B2 A2")
    assert fails(e, "play w A1") == "illegal move"
    assert fails(e, "final_score") == "cannot score"
    assert ok(e, "genmove w") == "A3"  # the only move that stops X's column
    assert ok(e, "list_stones black") == "A2 A1"
    assert ok(e, "list_stones white") == "A3 B2"
    play_all(e, "C1 B1 B3 C3 C2")  # X blocks, O blocks, X blocks, the board fills up
    assert "draw" in ok(e, "showboard")
    assert ok(e, "genmove w") == "pass"
    assert ok(e, "final_score") == "0"


def test_tictactoe_out_of_turn_hands_the_turn_over():
    e = new_engine(game="tictactoe", agent="random")
    play_all(e, "A1")
    ok(e, "play b B1")
    ok(e, "play b C1")  # X completes the bottom row
    assert ok(e, "final_score") == "B+1"
    assert ok(e, "genmove w") == "pass"
