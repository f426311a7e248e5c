"""SGF export/import of Go replays (arena/go/sgf.py, on sgfmill): round trips, what other tools
read, games far longer than the self-play move cap, and hostile files, which must give a
ValueError with a clear message and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from sgfmill import sgf

from arena.commands.replay import ReplayCommand, run_replay
from arena.go.sgf import replay_to_sgf, sgf_to_replay
from arena.io.replays import Replay, load_replay, replay_states, save_replay
from go_reference import long_game

# 9x9: E5, D6, pass, A9, a capture sequence is not needed here; two passes end the game
GAME = Replay("go", {"size": 9, "komi": 6.5}, ("human", "mcts"), (40, 30, 81, 0, 81, 81), "W+0.5")


@pytest.mark.parametrize("result, sgf_result", [("W+0.5", "W+0.5"), ("B+R", "B+R"), ("draw", "0"), (None, None)])
def test_export_import_round_trip(result: str | None, sgf_result: str | None) -> None:
    replay = Replay(GAME.game, GAME.config, GAME.players, GAME.moves, result)
    data = replay_to_sgf(replay)
    back = sgf_to_replay(data)
    assert back.moves == replay.moves and back.config == replay.config and back.players == replay.players
    assert back.result == result
    parsed = sgf.Sgf_game.from_bytes(data)  # what other tools see
    root = parsed.get_root()
    assert parsed.get_size() == 9 and parsed.get_komi() == 6.5 and root.get("GM") == 1 and root.get("FF") == 4
    assert root.get("PB") == "human" and root.get("PW") == "mcts" and root.get("RU")
    assert (root.get("RE") if root.has_property("RE") else None) == sgf_result
    moves = [node.get_move() for node in parsed.get_main_sequence()[1:]]
    assert moves == [("b", (4, 4)), ("w", (5, 3)), ("b", None), ("w", (8, 0)), ("b", None), ("w", None)]


def test_self_play_results_and_other_sizes() -> None:
    for size in (5, 13, 19):
        replay = Replay("go", {"size": size, "komi": 7.5}, ("self-play", "self-play"), (0, size * size - 1, size * size),
                        "first player wins")
        back = sgf_to_replay(replay_to_sgf(replay))
        assert back.moves == replay.moves and back.config["size"] == size and back.result == "B+"


def test_results_in_the_wild() -> None:
    for re_text, ours in [("B+Resign", "B+R"), ("w+t", "W+T"), ("Draw", "draw"), ("0", "draw"), ("Void", None),
                          ("?", None), ("B+12", "B+12")]:
        assert sgf_to_replay(f"(;GM[1]SZ[9]RE[{re_text}];B[ee])".encode()).result == ours


def test_commands_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = save_replay(GAME, tmp_path / "game.json")
    sgf_path = run_replay(ReplayCommand("export", path))
    assert sgf_path == tmp_path / "game.sgf" and sgf_path.read_bytes().startswith(b"(;FF[4]")
    back = run_replay(ReplayCommand("import", sgf_path, out=tmp_path / "back" / "game.json"))
    assert load_replay(back).moves == GAME.moves
    replay_states(load_replay(back))  # replays by stepping the game
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(ValueError, match="only export format"):
        run_replay(ReplayCommand("export", path, sgf=False))


def test_a_game_longer_than_the_old_cap_imports_and_replays() -> None:
    """300 moves on 5x5, six times the self-play cap (``2 * N * N`` = 50, which refused move
    51): import checks every move by our rules and keeps them all, and the replay replays."""
    actions, ref = long_game(5, 300, seed=3)
    replay = Replay("go", {"size": 5, "komi": 7.5}, ("black", "white"), tuple(actions), None)
    back = sgf_to_replay(replay_to_sgf(replay), "long.sgf")
    assert back.moves == replay.moves and len(back.moves) == 300
    _, states = replay_states(back)
    assert states[-1].board[0].tolist() == ref.board and not bool(states[-1].terminated[0])
    ended = Replay("go", replay.config, replay.players, replay.moves + (25, 25, 0), None)  # pass, pass, B A5
    with pytest.raises(ValueError, match=r"move 303 \(B A5\) comes after the game ended \(two passes\)"):
        sgf_to_replay(replay_to_sgf(ended), "long.sgf")


def test_tictactoe_replay_is_not_sgf(tmp_path: Path) -> None:
    replay = Replay("tictactoe", {}, ("a", "b"), (4, 0), None)
    with pytest.raises(ValueError, match="SGF records Go games"):
        replay_to_sgf(replay)
    path = save_replay(replay, tmp_path / "t.json")
    with pytest.raises(ValueError, match="SGF records Go games"):
        run_replay(ReplayCommand("export", path))
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="not an arena replay"):
        run_replay(ReplayCommand("export", tmp_path / "junk.json"))
    with pytest.raises(ValueError, match="cannot read"):
        run_replay(ReplayCommand("import", tmp_path / "missing.sgf"))


@pytest.mark.parametrize("data, match", [
    (b"\x00\xff\xfe garbage", "not an SGF file"),
    (b"", "not an SGF file"),
    (b"(;GM[1]SZ[99999999999999999999])", "size"),
    (b"(;GM[1]SZ[25])", "board size 25"),
    (b"(;GM[1]SZ[9:13])", "SZ"),
    (b"(;GM[1]SZ[9];B[zz])", "move 1 B\\[zz\\] is not a point"),
    (b"(;GM[1]SZ[9];B[ee];W[ka])", "move 2"),
    (b"(;GM[2]SZ[8];B[aa])", "GM\\[2\\] is not Go"),
    (b"(;GM[1]SZ[9]KM[1e999])", "komi"),
    (b"(;GM[1]SZ[9]KM[99999])", "komi"),
    (b"(;GM[1]SZ[9]KM[seven])", "komi"),
    (b"(;GM[1]SZ[9]AB[aa][bb];W[cc])", "setup stones"),
    (b"(;GM[1]SZ[9]PL[W];W[cc])", "PL\\[W\\]"),
    (b"(;GM[1]SZ[9];W[cc])", "move 1 is W"),
    (b"(;GM[1]SZ[9];B[aa];B[bb])", "move 2 is B"),
    (b"(;GM[1]SZ[9];B[ee];W[dd];B[ee])", "move 3 \\(B E5\\) is illegal: the point is occupied"),
    (b"(;GM[1]SZ[5];B[ba];W[cc];B[ab];W[aa])", "move 4 \\(W A5\\) is illegal: suicide"),
    (b"(;GM[1]SZ[5];B[];W[];B[aa])", "move 3 .* after the game ended"),
    (b"(;GM[1]SZ[9]RE[Black wins by a lot];B[ee])", "result"),
    (b"(;GM[1]SZ[9]CA[no-such-codec];B[ee])", "SGF"),
    (b"(;GM[1]SZ[9];B[ee]" + b"(" * 5000, "SGF"),
    (b"(;GM[1]SZ[5]" + b";B[aa];W[bb]" * 10_000 + b")", "move"),
])
def test_hostile_files_give_a_clear_value_error(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        sgf_to_replay(data, "game.sgf")
    assert type(caught.value) is ValueError and str(caught.value).startswith("game.sgf")


def test_fuzzed_bytes_never_raise_anything_but_value_error() -> None:
    import random

    rng = random.Random(0)
    base = replay_to_sgf(GAME)
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            sgf_to_replay(bytes(data))
        except ValueError:
            pass
