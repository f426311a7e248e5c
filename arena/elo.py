"""Elo ratings as pure functions (STYLE.md rule 12): match scores in, rating numbers out."""

from __future__ import annotations

import math


def expected_score(rating: float, opponent: float) -> float:
    """Expected score (win = 1, draw = 0.5) of a player rated ``rating`` against ``opponent``."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def elo_difference(score: float, games: int) -> float:
    """Rating difference implied by a mean ``score`` over ``games`` games.

    A perfect (or null) score implies an infinite difference; the score is clipped half a
    game away from 0 and 1, so 100 wins in 100 games reads as +920, not infinity.
    """
    if games < 1:
        raise ValueError("need at least one game to estimate a rating difference")
    eps = 0.5 / games
    s = min(max(score, eps), 1.0 - eps)
    return 400.0 * math.log10(s / (1.0 - s))


def match_score(wins: int, draws: int, losses: int) -> float:
    """Mean score of a match: wins count 1, draws 1/2."""
    games = wins + draws + losses
    if games < 1:
        raise ValueError("a match with no games has no score")
    return (wins + 0.5 * draws) / games
