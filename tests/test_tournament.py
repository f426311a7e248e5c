"""``arena tournament`` and the Elo fit (arena/elo.py): the fit checked against hand-derived
values and synthetic results, the round robin on tic-tac-toe with bots."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import tyro

from arena.elo import PairResult, elo_difference, expected_score, fit_elo
from arena.tournament import TournamentCommand, display_names, run_tournament


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


def test_round_robin_with_a_batched_search(tmp_path: Path) -> None:
    result = run_tournament(TournamentCommand(players=("random", "mcts"), games=4, simulations=8, plot=False,
                                              run_dir=tmp_path / "g"))
    assert sum(result.matches[0][2:]) == 4 and set(result.ratings) == {"random", "mcts"}


def test_go_round_robin(tmp_path: Path) -> None:
    result = run_tournament(TournamentCommand(game="go", size=5, players=("random", "random"), games=4, plot=False,
                                              run_dir=tmp_path / "go"))
    assert sum(result.matches[0][2:]) == 4 and set(result.ratings) == {"random", "random#2"}
