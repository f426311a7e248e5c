"""``arena tournament`` and the Elo fit (arena/bots/elo.py): the fit checked against hand-derived
values and synthetic results, the round robin on tic-tac-toe with bots."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import pytest
import torch
import tyro

import envs
from arena.bots.elo import PairResult, elo_difference, elo_intervals, expected_score, fit_elo
from arena.bots.match import MatchResult, minimax_bot, play_match, play_match_record, random_bot
from arena.bots.tournament import display_names
from arena.commands.tournament import TournamentCommand, run_tournament
from arena.io.replays import Replay, load_replay, replay_states


def test_two_players_75_percent_is_191_elo() -> None:
    ratings = fit_elo([PairResult("a", "b", 75, 0, 25)], prior_draws=0)
    assert ratings["a"] - ratings["b"] == pytest.approx(400 * math.log10(3), abs=1e-3)  # 190.85
    assert ratings["a"] + ratings["b"] == pytest.approx(0.0, abs=1e-9)  # mean anchored at 0
    halves = fit_elo([PairResult("a", "b", 50, 50, 0)], prior_draws=0)  # draws are half wins: 75% again
    assert halves["a"] - halves["b"] == pytest.approx(190.85, abs=0.01)
    assert fit_elo([PairResult("a", "b", 75, 0, 25)])["a"] == pytest.approx(94.3, abs=0.1)  # one virtual draw


def test_perfect_score_stays_finite_and_matches_elo_difference() -> None:
    ratings = fit_elo([PairResult("strong", "weak", 100, 0, 0)], anchor="weak")
    assert ratings["weak"] == 0.0
    assert ratings["strong"] == pytest.approx(elo_difference(1.0, 100), abs=2)  # +920 (100.5 of 101 vs 99.5 of 100)


def test_fit_recovers_known_ratings_from_synthetic_results() -> None:
    true = {"a": 0.0, "b": 150.0, "c": 400.0, "d": -200.0}
    rng = random.Random(0)
    results = []
    for x in true:
        for y in true:
            if x < y:
                p = expected_score(true[x], true[y])
                wins = sum(rng.random() < p for _ in range(4000))
                results.append(PairResult(x, y, wins, 0, 4000 - wins))
    fitted = fit_elo(results, anchor="a", prior_draws=0)
    for name, rating in true.items():
        assert fitted[name] == pytest.approx(rating, abs=15), name


def test_fit_with_exact_expected_scores_is_exact() -> None:
    true = {"x": 0.0, "y": 100.0, "z": 300.0}
    results = [PairResult(p, q, 0, round(2e6 * expected_score(true[p], true[q])), 0) for p in true for q in true if p < q]
    results = [PairResult(r.player, r.opponent, r.draws // 2, 0, 10**6 - r.draws // 2) for r in results]
    fitted = fit_elo(results, anchor="x", prior_draws=0)
    assert fitted["y"] == pytest.approx(100, abs=0.5) and fitted["z"] == pytest.approx(300, abs=0.5)


def test_fit_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="never met"):
        fit_elo([PairResult("a", "b", 1, 0, 1), PairResult("c", "d", 1, 0, 1)])
    with pytest.raises(ValueError, match="anchor"):
        fit_elo([PairResult("a", "b", 1, 0, 1)], anchor="z")
    with pytest.raises(ValueError, match="itself"):
        fit_elo([PairResult("a", "a", 1, 0, 1)])
    with pytest.raises(ValueError, match="negative"):
        fit_elo([PairResult("a", "b", -1, 0, 1)])
    assert fit_elo([]) == {}


def test_display_names() -> None:
    assert display_names(["random", "minimax", "random", "runs/alphazero-x/", "a/b.safetensors"]) == [
        "random", "minimax", "random#2", "alphazero-x", "b.safetensors"]


def test_round_robin_on_tictactoe(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cmd = tyro.cli(TournamentCommand, args=["tictactoe", "--players", "random", "minimax", "random", "--games", "40",
                                            "--run-dir", str(tmp_path / "t")])
    result = run_tournament(cmd)
    top = result.standings()[0]
    assert top.player == "minimax" and top.losses == 0 and top.wins > 50
    assert result.ratings["random"] == 0.0 and result.ratings["minimax"] > 300
    assert len(result.matches) == 3 and all(m.wins + m.draws + m.losses == 40 for m in result.matches)
    out = capsys.readouterr().out
    assert "random#2" in out and "Elo (random = 0)" in out
    data = json.loads((tmp_path / "t" / "results.json").read_text())
    assert data["standings"][0]["player"] == "minimax" and data["games_per_pair"] == 40
    assert (tmp_path / "t" / "elo.png").stat().st_size > 1000 and (tmp_path / "t" / "config.json").exists()


def test_tournament_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 players"):
        run_tournament(TournamentCommand(players=("random",), run_dir=tmp_path / "a"))
    with pytest.raises(ValueError, match="--games"):
        run_tournament(TournamentCommand(games=1, run_dir=tmp_path / "b"))
    with pytest.raises(ValueError, match="minimax"):
        run_tournament(TournamentCommand(game="go", size=5, players=("random", "minimax"), run_dir=tmp_path / "c"))
    with pytest.raises(ValueError, match="anchor"):
        run_tournament(TournamentCommand(anchor="nobody", run_dir=tmp_path / "d"))
    with pytest.raises(ValueError, match="--opening"):
        run_tournament(TournamentCommand(opening=-1, run_dir=tmp_path / "e"))


def test_round_robin_with_a_batched_search(tmp_path: Path) -> None:
    result = run_tournament(TournamentCommand(players=("random", "mcts"), games=4, simulations=8, plot=False,
                                              run_dir=tmp_path / "g"))
    assert sum(result.matches[0][2:]) == 4 and set(result.ratings) == {"random", "mcts"}


def test_go_round_robin(tmp_path: Path) -> None:
    result = run_tournament(TournamentCommand(game="go", size=5, players=("random", "random"), games=4, plot=False,
                                              run_dir=tmp_path / "go"))
    assert sum(result.matches[0][2:]) == 4 and set(result.ratings) == {"random", "random#2"}


def test_go_round_robin_with_random_openings(tmp_path: Path) -> None:
    cmd = tyro.cli(TournamentCommand, args=["go", "--size", "5", "--players", "random", "random", "random", "--games",
                                            "4", "--opening", "2", "--no-plot", "--run-dir", str(tmp_path / "o")])
    result = run_tournament(cmd)
    openings = [{m[:2] for m in r.moves} for r in result.records]
    assert all(len(o) == 2 for o in openings) and openings[0] == openings[1] == openings[2]  # 2 per pair, shared
    assert json.loads((tmp_path / "o" / "config.json").read_text())["opening"] == 2


# Per-colour results, Elo intervals and replays (issue 6: matches and tournaments).

def test_elo_interval_matches_hand_derived_value() -> None:
    # 75 of 100 with no prior: se(t) = 1 / sqrt(100 * 0.75 * 0.25) natural units = 40.1 Elo; x 1.96 = 78.6
    pair = [PairResult("a", "b", 75, 0, 25)]
    ratings = fit_elo(pair, anchor="b", prior_draws=0)
    ci = elo_intervals(pair, ratings, anchor="b", prior_draws=0)
    se = 400 / math.log(10) / math.sqrt(100 * 0.75 * 0.25)
    assert ci["b"] == 0.0 and ci["a"] == pytest.approx(1.959964 * se, rel=1e-4)
    centred = elo_intervals(pair, fit_elo(pair, prior_draws=0), prior_draws=0)  # mean = 0: each is half the gap
    assert centred["a"] == pytest.approx(ci["a"] / 2, rel=1e-4) and centred["b"] == pytest.approx(ci["a"] / 2, rel=1e-4)


def test_elo_interval_shrinks_as_games_grow() -> None:
    widths = []
    for n in (20, 200, 2000):
        pair = [PairResult("a", "b", 6 * n // 10, n // 10, 3 * n // 10)]
        widths.append(elo_intervals(pair, fit_elo(pair, anchor="b"), anchor="b")["a"])
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[1] / widths[2] == pytest.approx(math.sqrt(10), rel=0.05)  # 1 / sqrt(games)


def test_elo_intervals_cover_the_true_ratings() -> None:
    true = {"a": 0.0, "b": 120.0, "c": -200.0}
    rng = random.Random(1)
    covered, trials = {"b": 0, "c": 0}, 40
    for _ in range(trials):
        results = []
        for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
            p = expected_score(true[x], true[y])
            wins = sum(rng.random() < p for _ in range(300))
            results.append(PairResult(x, y, wins, 0, 300 - wins))
        ratings = fit_elo(results, anchor="a")
        ci = elo_intervals(results, ratings, anchor="a")
        for name in covered:
            covered[name] += abs(ratings[name] - true[name]) <= ci[name]
    assert all(c >= 0.85 * trials for c in covered.values()), covered  # nominal 95%


def test_play_match_record_splits_by_colour_and_keeps_moves() -> None:
    game = envs.make("tictactoe")
    record = play_match_record(game, (minimax_bot(0), minimax_bot(1)), 10)
    assert record.by_colour.first == MatchResult(0, 5, 0) and record.by_colour.second == MatchResult(0, 5, 0)
    assert set(record.results) == {"draw"} and all(len(m) == 9 for m in record.moves)
    record = play_match_record(game, (random_bot(torch.Generator().manual_seed(0)), minimax_bot(0)), 30)
    first, second = record.by_colour
    assert first.wins == 0 and second.wins == 0 and first.games == 15 and second.games == 15  # minimax never loses
    assert record.result == MatchResult(*(x + y for x, y in zip(first, second)))
    again = play_match(game, (random_bot(torch.Generator().manual_seed(0)), minimax_bot(0)), 30)
    assert again == record.result  # same games as the plain play_match
    for seat, moves, text, outcome in zip(record.seats, record.moves, record.results, record.outcomes):
        _, states = replay_states(Replay("tictactoe", {}, ("a", "b"), moves, text))
        final = states[-1]
        assert bool(final.terminated[0])
        winner = int(final.winner[0])
        assert text == ("draw" if winner < 0 else f"{'XO'[winner]} wins")
        assert outcome == (0 if winner < 0 else (1 if winner == seat else -1))


def test_tournament_by_colour_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_tournament(TournamentCommand(players=("minimax", "minimax", "random"), games=10, plot=False,
                                              run_dir=tmp_path / "t"))
    splits = dict(zip([(m.player, m.opponent) for m in result.matches], result.by_colour))
    assert splits["minimax", "minimax#2"].first == MatchResult(0, 5, 0) == splits["minimax", "minimax#2"].second
    for pair in (("minimax", "random"), ("minimax#2", "random")):
        assert splits[pair].first.losses == 0 and splits[pair].second.losses == 0
    assert result.intervals["random"] == 0.0 and result.intervals["minimax"] > 0
    out = capsys.readouterr().out
    assert "moving first" in out and "+-" in out
    data = json.loads((tmp_path / "t" / "results.json").read_text())
    for m in data["matches"]:
        assert {k: m["first"][k] + m["second"][k] for k in ("wins", "draws", "losses")} == {
            k: m[k] for k in ("wins", "draws", "losses")}
    assert all("ci" in s for s in data["standings"]) and data["confidence"] == 0.95
    files = sorted((tmp_path / "t" / "replays").glob("*.json"))
    assert len(files) == 30
    for path in files:
        replay = load_replay(path)
        _, states = replay_states(replay)
        winner = int(states[-1].winner[0])
        assert bool(states[-1].terminated[0])
        assert replay.result == ("draw" if winner < 0 else f"{'XO'[winner]} wins")
        assert winner < 0 or replay.players[winner] != "random"  # minimax never loses, from either seat


def test_go_tournament_replays_give_the_same_scores(tmp_path: Path) -> None:
    run_tournament(TournamentCommand(game="go", size=5, players=("random", "random"), games=4, plot=False,
                                     run_dir=tmp_path / "go"))
    files = sorted((tmp_path / "go" / "replays").glob("*.json"))
    assert len(files) == 4
    for path in files:
        replay = load_replay(path)
        assert replay.config == {"size": 5, "komi": 7.5}
        _, states = replay_states(replay)
        score = float(states[-1].score[0])
        assert replay.result == ("draw" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}")


def test_repeated_games_are_counted_and_flagged() -> None:
    """Players without randomness replay one game per colour: the tables say how many differ."""
    from arena.bots.match import MatchRecord
    from arena.bots.tournament import TournamentResult, format_tables

    record = MatchRecord(seats=(0, 1, 0, 1), outcomes=(1, -1, 1, -1), moves=((4, 0, 8), (0, 4), (4, 0, 8), (0, 4)),
                         results=("X wins", "O wins", "X wins", "O wins"))
    assert record.distinct_games == 2
    result = TournamentResult(("a", "b"), (PairResult("a", "b", 2, 0, 2),), {"a": 0.0, "b": 0.0}, "a",
                              (record.by_colour,), {"a": 0.0, "b": 100.0}, (record,))
    assert "1 of 1 pairs repeated games (2 distinct of 4)" in format_tables(result)
    assert result.to_json()["matches"][0]["distinct_games"] == 2
    varied = MatchRecord(seats=(0, 1), outcomes=(1, -1), moves=((4,), (0,)), results=("X wins", "O wins"))
    assert varied.distinct_games == 2
    assert "repeated" not in format_tables(dataclasses.replace(result, records=(varied,)))
