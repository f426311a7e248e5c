"""Batched matches against GNU Go (arena.go.gnugo.play_gnugo_batched): records like play_gnugo's,
one bot call per move round on exactly the games to move, the same games as the sequential
match for a deterministic bot; the Wilson interval (arena.bots.elo.wilson_interval) on hand-derived
values; and the benchmark's ``--part gnugo`` (benchmarks/alphazero.py). The GNU Go tests skip
where GNU Go is not installed."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import torch

import envs
from arena.bots.elo import Interval, wilson_interval
from arena.bots.match import make_bot
from arena.go.gnugo import GnuGoResult, GtpEngineError, find_gnugo, play_gnugo, play_gnugo_batched

ROOT = Path(__file__).resolve().parents[1]
needs_gnugo = pytest.mark.skipif(find_gnugo() is None, reason="GNU Go is not installed (apt-get install gnugo)")


# ----- the Wilson interval ----------------------------------------------------------------------


@pytest.mark.parametrize("successes, trials, low, high", [
    (20, 40, 0.3520, 0.6480),  # p = 1/2: centre 1/2, half-width 1.96/(1 + 1.96^2/40) * sqrt(1/160 + 1.96^2/6400)
    (0, 10, 0.0, 0.2775),  # z^2 / (n + z^2)
    (10, 10, 0.7225, 1.0),
    (5, 10, 0.2366, 0.7634),
    (30, 40, 0.5981, 0.8581),
])
def test_wilson_interval_known_values(successes: int, trials: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, trials)
    assert isinstance(interval, Interval)
    assert interval.low == pytest.approx(low, abs=1e-4) and interval.high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_is_symmetric_narrows_and_checks_its_input() -> None:
    a, b = wilson_interval(7, 40), wilson_interval(33, 40)
    assert a.low == pytest.approx(1 - b.high) and a.high == pytest.approx(1 - b.low)
    assert wilson_interval(200, 400).high - wilson_interval(200, 400).low < wilson_interval(20, 40).high - 0.5
    assert wilson_interval(20, 40, confidence=0.99).low < wilson_interval(20, 40).low
    assert wilson_interval(20.5, 40).low > wilson_interval(20, 40).low  # draws count as half wins
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


# ----- batched matches --------------------------------------------------------------------------


def test_missing_gnugo_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import arena.go.gnugo

    monkeypatch.setattr(arena.go.gnugo, "find_gnugo", lambda: None)
    with pytest.raises(GtpEngineError, match="apt-get install gnugo"):
        play_gnugo_batched(make_bot("random", envs.make_uncapped("go", size=5)), envs.make_uncapped("go", size=5), 2)


@needs_gnugo
def test_batched_match_on_5x5_gives_play_gnugos_records() -> None:
    game = envs.make_uncapped("go", size=5, komi=7.5)
    result = play_gnugo_batched(make_bot("random", game, seed=0), game, games=4, level=1)
    assert isinstance(result, GnuGoResult) and result.games == 4 and len(result.records) == 4
    assert [r.our_colour for r in result.records] == ["black", "white", "black", "white"]
    assert result.wins + result.draws + result.losses == 4
    for record in result.records:
        state = game.init(1)
        for action in record.moves:  # every move legal by our rules, in order (checked steps)
            assert bool(state.legal_action_mask[0, action])
            state = game.step(state, torch.tensor([action]))
        assert record.score == pytest.approx(float(game.score_now(state)[0]))
        assert record.ended_by in ("passes", "resignation")
        assert re.fullmatch(r"[BW]\+[0-9.]+|0", record.gnugo_score or "")
        if record.ended_by == "passes":
            assert bool(state.terminated[0]) and record.result == f"{'B' if record.score > 0 else 'W'}+{abs(record.score):g}"
            black_won = record.score > 0
            assert record.outcome == (1 if black_won == (record.our_colour == "black") else -1)
        else:
            assert re.fullmatch(r"[BW]\+R", record.result) and not bool(state.terminated[0])


@needs_gnugo
def test_the_bot_is_called_once_per_round_on_the_games_to_move() -> None:
    """All 4 games start together, so round r is move r of every game still going: one call
    with exactly the games where move r is ours (black's moves in games 0 and 2, ...)."""
    game = envs.make_uncapped("go", size=5, komi=7.5)
    random_bot, calls = make_bot("random", game, seed=1), []

    def bot(g, state):
        assert not bool(state.terminated.any())
        calls.append(state.current_player.tolist())
        return random_bot(g, state)

    result = play_gnugo_batched(bot, game, games=4, level=1, processes=4)
    ours = [[r for r in range(len(rec.moves)) if r % 2 == g % 2] for g, rec in enumerate(result.records)]
    rounds = sorted({r for moves in ours for r in moves})
    assert [len(c) for c in calls] == [sum(r in moves for moves in ours) for r in rounds]
    assert all(c == [r % 2] * len(c) for c, r in zip(calls, rounds))  # the side to move is ours in every row
    assert sum(map(len, calls)) == sum(map(len, ours))


@needs_gnugo
def test_every_engine_is_shut_down_when_the_bot_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import arena.go.gnugo

    started = []

    class Recorded(arena.go.gnugo.GtpClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    def failing_bot(g, state):
        raise RuntimeError("the bot broke")

    monkeypatch.setattr(arena.go.gnugo, "GtpClient", Recorded)
    game = envs.make_uncapped("go", size=5)
    with pytest.raises(RuntimeError, match="the bot broke"):
        play_gnugo_batched(failing_bot, game, games=3, level=1)
    assert len(started) == 3 and all(client.process.poll() is not None for client in started)


@needs_gnugo
def test_batched_plays_the_sequential_games_with_a_deterministic_bot() -> None:
    """Game g is GNU Go's seed + g whatever runs beside it: with a deterministic bot, four games
    in waves of two engines are the four games play_gnugo plays one after another."""
    game = envs.make_uncapped("go", size=5, komi=7.5)

    def first_points_then_pass(g, state):  # the lowest free point for 3 moves of ours, then passes
        points = state.legal_action_mask[:, :-1]
        lowest = torch.where(points.any(1), points.float().argmax(1), g.pass_action)
        return torch.where(state.move_count < 6, lowest, g.pass_action)

    batched = play_gnugo_batched(first_points_then_pass, game, games=4, level=1, seed=3, processes=2)
    sequential = play_gnugo(first_points_then_pass, game, games=4, level=1, seed=3)
    assert batched == sequential


@needs_gnugo
def test_benchmark_judges_a_network_and_plots_its_curve(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_alphazero", ROOT / "benchmarks" / "alphazero.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_alphazero", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    plot = tmp_path / "curve.png"
    bench.main(bench.Config(part="gnugo", networks=(str(ROOT / "arena/weights/go5"),), gnugo_games=2,
                            gnugo_simulations=2, levels=(1,), plot=str(plot)))
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    row = rows[-1]
    assert row["part"] == "gnugo" and row["games"] == 2 and row["games_black"] == row["games_white"] == 1
    assert row["wins"] + row["draws"] + row["losses"] == 2 and row["ci95"][0] <= row["win_rate"] <= row["ci95"][1]
    assert row["train_seconds"] > 0 and row["counters_from"] == "metrics.jsonl (last promotion)"
    assert row["simulations"] == 2 and "cpu" in row["machine"]
    assert plot.stat().st_size > 0
