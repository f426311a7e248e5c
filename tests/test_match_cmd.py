"""``arena match a b`` (arena/commands/match.py): the two-player match with W/D/L by colour, the
Elo difference with its interval, results.json and replays; GNU Go as player b."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tyro

from arena.commands.match import MatchCommand, gnugo_level, run_match
from arena.go.gnugo import find_gnugo
from arena.io.replays import load_replay, replay_states


def test_match_on_tictactoe_writes_json_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cmd = tyro.cli(MatchCommand, args=["random", "minimax", "--games", "12", "--run-dir", str(tmp_path / "m")])
    report = run_match(cmd)
    first, second = report.by_colour
    assert first.games == 6 and second.games == 6 and report.result.games == 12
    assert report.result.wins == 0 and report.elo < 0 and report.ci > 0  # minimax never loses
    out = capsys.readouterr().out
    assert "moving first" in out and "Elo random - minimax" in out and "+-" in out
    data = json.loads((tmp_path / "m" / "results.json").read_text())
    assert data["players"] == ["random", "minimax"] and data["games"] == 12
    assert data["by_colour"]["first"]["wins"] + data["by_colour"]["second"]["wins"] == data["wins"] == 0
    assert data["elo_difference"] < 0 and data["ci"] > 0 and (tmp_path / "m" / "config.json").exists()
    files = sorted((tmp_path / "m" / "replays").glob("*.json"))
    assert len(files) == 12
    tally = {"draw": 0, "random": 0, "minimax": 0}
    for path in files:
        replay = load_replay(path)
        _, states = replay_states(replay)
        winner = int(states[-1].winner[0])
        assert bool(states[-1].terminated[0]) and replay.result == ("draw" if winner < 0 else f"{'XO'[winner]} wins")
        tally["draw" if winner < 0 else replay.players[winner]] += 1
    assert (tally["minimax"], tally["draw"], tally["random"]) == (report.result.losses, report.result.draws, 0)
    assert sum(load_replay(p).players[0] == "random" for p in files) == 6  # colours alternate


def test_go_match_games_run_past_the_self_play_cap(tmp_path: Path) -> None:
    """Random games on 5x5 often outlast 2 * 5 * 5 = 50 moves, the self-play cap: a match plays
    them out to two passes, and their replays replay."""
    run_match(MatchCommand("random", "random", game="go", size=5, games=24, run_dir=tmp_path / "m"))
    lengths = []
    for path in sorted((tmp_path / "m" / "replays").glob("*.json")):
        _, states = replay_states(load_replay(path))
        assert bool(states[-1].terminated[0]) and int(states[-1].passes[0]) == 2
        lengths.append(len(states) - 1)
    assert len(lengths) == 24 and max(lengths) > 50, lengths


def test_match_without_replays(tmp_path: Path) -> None:
    run_match(MatchCommand("minimax", "minimax", games=4, save_replays=False, run_dir=tmp_path / "m"))
    data = json.loads((tmp_path / "m" / "results.json").read_text())
    assert data["players"] == ["minimax", "minimax#2"] and data["draws"] == 4
    assert data["by_colour"] == {"first": {"wins": 0, "draws": 2, "losses": 0},
                                 "second": {"wins": 0, "draws": 2, "losses": 0}}
    assert not (tmp_path / "m" / "replays").exists()


def test_match_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--games"):
        run_match(MatchCommand("random", "minimax", games=1, run_dir=tmp_path / "a"))
    with pytest.raises(ValueError, match="Go only"):
        run_match(MatchCommand("random", "gnugo", run_dir=tmp_path / "b"))
    with pytest.raises(ValueError, match="second player"):
        run_match(MatchCommand("gnugo", "random", game="go", run_dir=tmp_path / "c"))
    with pytest.raises(ValueError, match="--opening"):
        run_match(MatchCommand("random", "minimax", opening=-1, run_dir=tmp_path / "d"))
    with pytest.raises(ValueError, match="--opening 2.*gnugo"):
        run_match(MatchCommand("random", "gnugo", game="go", opening=2, run_dir=tmp_path / "e"))
    with pytest.raises(ValueError, match="0..10"):
        gnugo_level("gnugo:11")
    assert gnugo_level("gnugo") == 1 and gnugo_level("gnugo:3") == 3 and gnugo_level("random") is None


@pytest.mark.skipif(find_gnugo() is None, reason="GNU Go is not installed (apt install gnugo)")
def test_match_against_gnugo(tmp_path: Path) -> None:
    report = run_match(MatchCommand("random", "gnugo:1", game="go", size=5, games=2, run_dir=tmp_path / "g"))
    assert report.players == ("random", "gnugo:1") and report.result.games == 2
    assert report.by_colour.first.games == 1 and report.by_colour.second.games == 1
    files = sorted((tmp_path / "g" / "replays").glob("*.json"))
    assert len(files) == 2
    for path in files:
        replay = load_replay(path)
        assert set(replay.players) == {"random", "gnugo:1"} and replay.config == {"size": 5, "komi": 7.5}
        _, states = replay_states(replay)  # GNU Go's games replay legally by our rules
        if not replay.result.endswith("+R"):
            score = float(states[-1].score[0])
            assert bool(states[-1].terminated[0])
            assert replay.result == ("draw" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}")
    data = json.loads((tmp_path / "g" / "results.json").read_text())
    assert data["specs"] == ["random", "gnugo:1"] and data["wins"] + data["draws"] + data["losses"] == 2
