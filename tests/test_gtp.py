"""The GTP engine (arena/gtp.py) in scripted sessions and under fuzzing, and matches against
GNU Go through the GTP client (arena/gnugo.py; skipped where GNU Go is not installed)."""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys

import pytest

from arena.gnugo import GtpClient, GtpEngineError, find_gnugo, gnugo_command, play_gnugo
from arena.gtp import GtpCommand, GtpEngine, GtpError, format_response, parse_line, run_gtp

ANSWER = re.compile(r"([=?])([0-9]*) (.*)\n\n", re.DOTALL)


def new_engine(size: int = 5, game: str = "go", agent: str = "random", **kw) -> GtpEngine:
    return GtpEngine.from_command(GtpCommand(game=game, size=size, agent=agent, **kw))  # type: ignore[arg-type]


def ask(engine: GtpEngine, line: str) -> tuple[bool, str]:
    """(succeeded, text) of the one answer to ``line``, checking its form."""
    answer = engine.handle_line(line)
    assert answer is not None, line
    return well_formed(answer)[0] == "=", well_formed(answer)[2]


def ok(engine: GtpEngine, line: str) -> str:
    success, text = ask(engine, line)
    assert success, f"{line!r} failed: {text}"
    return text


def fails(engine: GtpEngine, line: str) -> str:
    success, text = ask(engine, line)
    assert not success, f"{line!r} should fail, answered {text!r}"
    return text


def well_formed(answer: str) -> tuple[str, str, str]:
    """(= or ?, id, text) of one answer; fails unless it is one GTP v2 response."""
    m = ANSWER.fullmatch(answer)
    assert m, repr(answer)
    assert "\n\n" not in answer[:-2], repr(answer)  # a blank line would end it early
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", answer), repr(answer)
    return m.group(1), m.group(2), m.group(3)


def play_all(engine: GtpEngine, moves: str) -> None:
    """Alternate black and white through ``moves`` ("C3 D4 ...")."""
    for i, vertex in enumerate(moves.split()):
        ok(engine, f"play {'bw'[i % 2]} {vertex}")


# ----- administrative commands and the protocol ------------------------------------------


def test_administrative_commands():
    e = new_engine()
    assert ok(e, "protocol_version") == "2"
    assert ok(e, "name") == "Arena"
    assert ok(e, "version")
    listed = ok(e, "list_commands").split("\n")
    required = ("protocol_version name version known_command list_commands boardsize clear_board komi play "
                "genmove undo showboard final_score quit list_stones time_settings time_left").split()
    assert set(required) <= set(listed)
    assert ok(e, "known_command genmove") == "true"
    assert ok(e, "known_command loadsgf") == "false"
    assert ok(e, "known_command") == "false"
    assert fails(e, "frobnicate") == "unknown command"
    assert fails(e, "12 frobnicate") == "unknown command"


def test_ids_are_echoed_and_lines_preprocessed():
    e = new_engine()
    assert e.handle_line("12 name\n") == "=12 Arena\n\n"
    assert e.handle_line("7 frobnicate") == "?7 unknown command\n\n"
    assert e.handle_line("  3\tname   # a comment\r\n") == "=3 Arena\n\n"
    assert e.handle_line("na\x01me\x7f") == "= Arena\n\n"  # control characters are removed
    for ignored in ("", "\n", "   ", "\t\t", "# only a comment", "\x00\x1b", "  # name"):
        assert e.handle_line(ignored) is None
    assert e.handle_line("5") == "?5 missing command\n\n"
    assert parse_line("1 play b  C3 ") == ("1", "play", ("b", "C3"))
    assert format_response(None, True, "\na\n\n\nb") == "= \na\nb\n\n"


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
        from arena.players import make_player as real

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


# ----- malformed input and fuzzing -----------------------------------------------------------


MALFORMED = [
    "", " ", "\t", "\x00", "\x1b[2J", "\x7f\x7f", "play X Z99", "play black", "play", "play b",
    "boardsize 99999999999999999999999999999999", "boardsize " + "9" * 5000, "boardsize -0", "komi 1e999",
    "\u2603 \u00e9t\u00e9", "play \u00e9 C3", "\ufeffname", "\ud800", "genmove \u0000b", "12", "-1 name",
    "99999999999999999999999999999999999 name", "play b " + "C" * 10000, "list_stones", "list_stones purple",
    "known_command \u00fc", "=", "?", "# comment", "play b C3 extra args", "time_left b x y",
]


def test_malformed_lines_never_crash():
    e = new_engine(size=5)
    for line in MALFORMED:
        answer = e.handle_line(line)
        assert (answer is None) == (not _expects_answer(line)), repr(line)
        if answer is not None:
            assert not well_formed(answer)[2].startswith("internal error"), repr(line)
    assert e.handle_line("99999999999999999999999999999999999 name") == "=99999999999999999999999999999999999 Arena\n\n"
    assert ok(e, "protocol_version") == "2"
    ok(e, "genmove b")


def _expects_answer(line: str) -> bool:
    """Independent of the engine: does GTP v2 preprocessing leave a command on this line?"""
    kept = "".join(c for c in line if c in "\t" or not (ord(c) < 32 or 127 <= ord(c) <= 159))
    return kept.split("#")[0].replace("\t", " ").strip(" ") != ""


def _fuzz_lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = [n for n in new_engine().commands if n != "quit"] + ["", "foo", "PLAY", "play\u00e9"]
    words = ["b", "w", "black", "WHITE", "x", "C3", "A1", "E5", "T19", "Z99", "pass", "PASS", "resign", "0", "-1",
             "5", "9", "19", "3", "1e400", "nan", "-inf", "7.5", "9" * 40, "\u00e9", "\u4e2d", "\U0001f600", "#",
             "\t", "\x00", "\r", "\x85", "\u2028", "A", "11"]
    junk = "".join(chr(i) for i in range(0, 160)) + "\u00e9\u4e2d\u2028\ufeff\U0001f600"
    lines = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:  # moves that are often legal keep a real game going under the junk
            line = rng.choice(["play b", "play w", "genmove b", "genmove w", "undo", "play black", "play white"])
            if line.startswith("play"):
                line += f" {rng.choice('ABCDEFZ')}{rng.randint(0, 6)}" if rng.random() < 0.95 else " pass"
        elif kind < 0.8:
            line = " ".join([rng.choice(names)] + rng.choices(words, k=rng.randint(0, 3)))
            if rng.random() < 0.2:
                line = f"{rng.randint(0, 10**6)} {line}"
        else:
            line = "".join(rng.choices(junk, k=rng.randint(0, 30)))
        lines.append(line.replace("\n", " "))
    return lines


def test_fuzz_every_line_gets_exactly_one_well_formed_answer():
    e = new_engine(size=5)
    for line in _fuzz_lines(500, seed=1):
        answer = e.handle_line(line)
        if not _expects_answer(line):
            assert answer is None, repr(line)
            continue
        assert answer is not None, repr(line)
        kind, command_id, text = well_formed(answer)
        if kind == "?":
            assert not text.startswith("internal error"), (line, text)
        command = parse_line(line)
        assert command is not None and command_id == (command.id or "")
    assert ok(e, "protocol_version") == "2"
    assert e.moves and bool((e.state.board == e._replay(e.moves).board).all())  # the moves are the position
    ok(e, "clear_board")
    ok(e, "play b C3")
    assert "C3" in ok(e, "list_stones b")


def test_fuzz_with_hypothesis():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    e = new_engine(size=5)

    @hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
    @hypothesis.given(st.text(max_size=60).filter(lambda s: "\n" not in s))
    def check(line):
        answer = e.handle_line(line)
        assert (answer is not None) == _expects_answer(line)
        if answer is not None:
            assert not well_formed(answer)[2].startswith("internal error")

    check()
    assert ok(e, "name") == "Arena"


# ----- over real streams -------------------------------------------------------------------------


def test_run_gtp_over_text_streams_stops_at_quit():
    out = io.StringIO()
    run_gtp(GtpCommand(size=5, agent="random"), io.StringIO("1 name\n\n# hi\nplay b C3\n2 quit\nname\n"), out)
    assert out.getvalue() == "=1 Arena\n\n= \n\n=2 \n\n"


def test_run_gtp_over_a_subprocess_pipe_with_bad_bytes():
    code = "from arena.gtp import GtpCommand, run_gtp; run_gtp(GtpCommand(size=5, agent='random'))"
    given = b"1 name\r\n\xff\xfe junk\nplay b C3\ngenmove w\nlist_stones b\n"  # no quit: end of input
    done = subprocess.run([sys.executable, "-c", code], input=given, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    answers = done.stdout.decode().split("\n\n")
    assert answers[0] == "=1 Arena"
    assert answers[1] == "? unknown command"
    assert answers[4] == "= C3" and answers[5] == ""


def test_gtp_client_against_our_engine():
    code = "from arena.gtp import GtpCommand, run_gtp; run_gtp(GtpCommand(size=5, agent='random'))"
    with GtpClient([sys.executable, "-c", code], timeout=120) as client:
        assert client.send("name") == "Arena"
        assert client.send("showboard").startswith("\n   A B C D E")
        with pytest.raises(GtpError, match="syntax error"):
            client.send("play X Z99")
        client.send("play b C3")
        assert client.send("list_stones black") == "C3"
        client.send("quit")
        with pytest.raises(GtpEngineError):
            client.send("name")


def test_gtp_client_reports_engines_that_fail():
    with pytest.raises(GtpEngineError, match="cannot start"):
        GtpClient(["/nonexistent/engine"])
    with GtpClient([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5) as client:
        with pytest.raises(GtpEngineError, match="did not answer"):
            client.send("name")
        client.process.kill()
    with GtpClient([sys.executable, "-c", "pass"]) as client:
        with pytest.raises(GtpEngineError):
            client.send("name")


# ----- against GNU Go ---------------------------------------------------------------------------

needs_gnugo = pytest.mark.skipif(find_gnugo() is None, reason="GNU Go is not installed (apt install gnugo)")


@needs_gnugo
def test_two_games_against_gnugo_on_5x5():
    import envs
    from arena.players import make_player

    game = envs.make("go", size=5, komi=7.5)
    result = play_gnugo(make_player("random", game, seed=0), game, games=2, level=1)
    assert result.games == 2 and len(result.records) == 2
    assert [r.our_colour for r in result.records] == ["black", "white"]
    for record in result.records:
        assert 0 < len(record.moves) <= game.max_moves
        assert record.ended_by in ("passes", "move cap", "resignation")
        assert record.outcome in (-1, 0, 1)
        assert re.fullmatch(r"[BW]\+[0-9.]+|0", record.gnugo_score or "")
        if record.ended_by != "resignation":
            assert (record.score > 0) == record.result.startswith("B")
            black_won = record.score > 0
            assert record.outcome == (1 if black_won == (record.our_colour == "black") else -1)
    assert 0.0 <= result.score <= 1.0


@needs_gnugo
def test_gnugo_refusals_are_clear_errors():
    with GtpClient(gnugo_command(size=5, komi=7.5)) as client:
        client.send("play b C3")
        with pytest.raises(GtpError, match="refused 'play w C3'"):
            client.send("play w C3")
        assert client.send("list_stones black") == "C3"
