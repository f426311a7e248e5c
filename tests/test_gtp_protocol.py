"""The GTP protocol of the engine (arena/go/gtp.py): administrative commands, ids and line
preprocessing, malformed lines and fuzzing (every line gets exactly one well-formed answer),
run_gtp over text streams and a subprocess pipe, and the GTP client (arena/go/gnugo.py) against
our engine, in matches against GNU Go and with GNU Go as the referee of long random games
(skipped where GNU Go is not installed). The game commands are in tests/test_gtp.py."""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys

import pytest

from arena.commands.gtp import GtpCommand, run_gtp
from arena.go.gnugo import GtpClient, GtpEngineError, find_gnugo, gnugo_command, play_gnugo
from arena.go.gtp import GtpError, format_response, parse_line
from go_reference import GoReference, parse_vertex, place_stone, vertex
from gtp_session import ask, fails, new_engine, ok, well_formed


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
    code = "from arena.commands.gtp import GtpCommand, run_gtp; run_gtp(GtpCommand(size=5, agent='random'))"
    given = b"1 name\r\n\xff\xfe junk\nplay b C3\ngenmove w\nlist_stones b\n"  # no quit: end of input
    done = subprocess.run([sys.executable, "-c", code], input=given, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    answers = done.stdout.decode().split("\n\n")
    assert answers[0] == "=1 Arena"
    assert answers[1] == "? unknown command"
    assert answers[4] == "= C3" and answers[5] == ""


def test_gtp_client_against_our_engine():
    code = "from arena.commands.gtp import GtpCommand, run_gtp; run_gtp(GtpCommand(size=5, agent='random'))"
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
    from arena.bots.players import make_player

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
def test_gnugo_referees_long_random_games_on_5x5():
    """GNU Go as the referee, run as a user found the move cap (``--chinese-rules
    --positional-superko --forbid-suicide``): three random games of 200 moves on 5x5, four
    times the old cap. Every move tried goes to both engines, which must accept or refuse it
    alike, and the stones on the board must agree after every move."""
    refused = {"occupied": 0, "suicide": 0, "superko": 0}
    with GtpClient(gnugo_command(size=5, komi=7.5) + ["--forbid-suicide"]) as gnugo:
        for seed in range(3):
            gnugo.send("clear_board")
            assert _referee_game(gnugo, new_engine(size=5), random.Random(seed), 200, refused) == 200
    assert min(refused.values()) > 0, refused  # every kind of illegal move came up


def _referee_game(gnugo: GtpClient, engine, rng: random.Random, moves: int, refused: dict[str, int]) -> int:
    """Play until ``moves`` moves or two passes: each turn the points are tried in a random
    order (pass when none is legal) on both engines until one is played; refusals are
    counted by kind (judged by the reference). Returns the moves played."""
    ref, passes, points = GoReference(size=5, komi=7.5, max_moves=0), 0, [vertex(p, 5) for p in range(25)]
    while ref.move_count < moves and passes < 2:
        colour = "bw"[ref.move_count % 2]
        for v in rng.sample(points, len(points)) + ["pass"]:
            ours = ask(engine, f"play {colour} {v}")[0]
            try:
                theirs = gnugo.send(f"play {colour} {v}") == ""
            except GtpError:
                theirs = False
            assert ours == theirs, f"move {ref.move_count + 1}: {colour} {v}: ours {ours}, GNU Go {theirs}\n{ref}"
            a = parse_vertex(v, 5)
            if ours:
                ref.play(a)
                break
            suicide = place_stone(ref.board, 5, a, ref.colour) is None
            refused["occupied" if ref.board[a] else "suicide" if suicide else "superko"] += 1
        passes = passes + 1 if v == "pass" else 0
        for stones in ("black", "white"):
            ours, theirs = ok(engine, f"list_stones {stones}"), gnugo.send(f"list_stones {stones}")
            assert sorted(ours.split()) == sorted(theirs.split()), f"move {ref.move_count}: {stones} stones differ"
    return ref.move_count


@needs_gnugo
def test_gnugo_refusals_are_clear_errors():
    with GtpClient(gnugo_command(size=5, komi=7.5)) as client:
        client.send("play b C3")
        with pytest.raises(GtpError, match="refused 'play w C3'"):
            client.send("play w C3")
        assert client.send("list_stones black") == "C3"
