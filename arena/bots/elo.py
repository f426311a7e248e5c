"""Elo ratings as pure functions (STYLE.md rule 12): match scores in, rating numbers out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple


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



class Interval(NamedTuple):
    """A confidence interval ``[low, high]``."""

    low: float
    high: float


def wilson_interval(successes: float, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a success rate (a win rate) from ``successes`` in ``trials``.

    ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = successes / n``
    (Wilson 1927). Unlike ``p -+ z sqrt(p(1-p)/n)`` it stays inside [0, 1] and is not empty at
    0 or n successes: 20 of 40 gives [0.352, 0.648], 0 of 10 gives [0, 0.278]. ``successes``
    may be fractional (draws as half wins).
    """
    if trials < 1:
        raise ValueError("need at least one trial for an interval")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must lie in [0, {trials}], got {successes}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p, n = successes / trials, trials
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(centre - half, 0.0)  # exact ends, not rounding residue
    high = 1.0 if successes == trials else min(centre + half, 1.0)
    return Interval(low, high)

class PairResult(NamedTuple):
    """The games between two players, from ``player``'s point of view."""

    player: str
    opponent: str
    wins: int
    draws: int
    losses: int


def fit_elo(results: Sequence[PairResult], anchor: str | None = None, prior_draws: float = 1.0,
            tolerance: float = 1e-6, max_iterations: int = 10_000) -> dict[str, float]:
    """Elo ratings that best explain all ``results`` at once (Bradley-Terry maximum likelihood).

    The model: a player rated ``r`` scores ``expected_score(r, s)`` against one rated ``s``;
    a draw counts as half a win and half a loss. The fit is Hunter's (2004) MM iteration on
    the strengths ``gamma = 10 ** (r / 400)``: ``gamma_i <- W_i / sum_j n_ij / (gamma_i + gamma_j)``,
    which climbs the likelihood at every step.

    Args:
        results: any number of matches (a pair may appear several times, in either order).
        anchor: the player rated 0 (``None``: the mean rating is 0).
        prior_draws: virtual drawn games added to every pair that met. A perfect score
            would otherwise mean an infinite gap; with 1, 100 wins in 100 games read as +920
            and 75% of 100 games as +189 (+191 without the prior).
        tolerance: stop when no rating moves by more than this many Elo points.
        max_iterations: stop after this many sweeps in any case.

    Returns:
        ``{player: rating}`` for every player named in ``results``.

    Raises:
        ValueError: negative counts, an unknown ``anchor``, or players who never meet
            (directly or through others), whose ratings could not be compared.
    """
    names, games, score = _tally(results, prior_draws)
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    if anchor is not None and anchor not in index:
        raise ValueError(f"anchor {anchor!r} is not one of the players: {', '.join(names)}")
    if n == 0:
        return {}
    _check_connected(names, games)
    gamma = [1.0] * n
    for _ in range(max_iterations):
        new = [_mm_step(i, gamma, games, score) for i in range(n)]
        scale = math.exp(-sum(math.log(g) for g in new) / n)  # keep the geometric mean at 1
        new = [g * scale for g in new]
        moved = max(abs(400.0 * math.log10(a / b)) for a, b in zip(new, gamma))
        gamma = new
        if moved < tolerance:
            break
    ratings = [400.0 * math.log10(g) for g in gamma]
    zero = ratings[index[anchor]] if anchor is not None else sum(ratings) / n
    return {name: ratings[i] - zero for i, name in enumerate(names)}


def elo_intervals(results: Sequence[PairResult], ratings: dict[str, float], anchor: str | None = None,
                  prior_draws: float = 1.0, confidence: float = 0.95) -> dict[str, float]:
    """Half-widths of ``confidence`` intervals for the ratings of :func:`fit_elo`.

    From the observed Fisher information of the same Bradley-Terry likelihood at the fitted
    ``ratings`` (with the same virtual draws): in natural units ``t = r ln10 / 400`` it is
    ``I_ii = sum_j n_ij p_ij (1 - p_ij)`` and ``I_ij = -n_ij p_ij (1 - p_ij)``. The anchor is
    fixed at 0 (its interval is 0) and the others' covariance is the inverse of ``I`` without
    its row and column; with ``anchor=None`` the intervals are for ``rating - mean rating``.
    Each game counts as one Bernoulli trial (a draw as half a win), which overstates the
    variance when many games are draws. The interval is ``rating +- z * standard error``.

    Returns:
        ``{player: half-width in Elo}`` for every player in ``ratings``.
    """
    import numpy as np

    names, games, _ = _tally(results, prior_draws)
    if set(names) != set(ratings):
        raise ValueError("ratings and results name different players")
    if anchor is not None and anchor not in ratings:
        raise ValueError(f"anchor {anchor!r} is not one of the players: {', '.join(names)}")
    n = len(names)
    if n < 2:
        return {name: 0.0 for name in names}
    to_natural = math.log(10) / 400.0
    info = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j and games[i][j] > 0:
                p = expected_score(ratings[names[i]], ratings[names[j]])
                info[i, j] = -games[i][j] * p * (1 - p)
        info[i, i] = -info[i].sum()
    fixed = names.index(anchor) if anchor is not None else 0
    keep = [i for i in range(n) if i != fixed]
    cov = np.zeros((n, n))
    cov[np.ix_(keep, keep)] = np.linalg.inv(info[np.ix_(keep, keep)])  # differences from the fixed player
    if anchor is None:
        centre = np.eye(n) - 1.0 / n
        cov = centre @ cov @ centre.T
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return {name: float(z * math.sqrt(max(cov[i, i], 0.0)) / to_natural) for i, name in enumerate(names)}


def _tally(results: Sequence[PairResult], prior_draws: float) -> tuple[list[str], list[list[float]], list[float]]:
    """Players (sorted), games between each two (both ways) and points per player (draws as
    halves), with ``prior_draws`` virtual draws added to every pair that met."""
    names = sorted({r.player for r in results} | {r.opponent for r in results})
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    games = [[0.0] * n for _ in range(n)]  # games[i][j]: games between i and j (both ways)
    score = [0.0] * n  # points of player i, draws as halves
    for r in results:
        if min(r.wins, r.draws, r.losses) < 0:
            raise ValueError(f"negative game counts in {r}")
        if r.player == r.opponent:
            raise ValueError(f"{r.player!r} cannot play itself in a rating fit; give the copies distinct names")
        i, j = index[r.player], index[r.opponent]
        total = r.wins + r.draws + r.losses
        games[i][j] += total
        games[j][i] += total
        score[i] += r.wins + 0.5 * r.draws
        score[j] += r.losses + 0.5 * r.draws
    for i in range(n):
        for j in range(i + 1, n):
            if games[i][j] > 0 and prior_draws > 0:
                games[i][j] += prior_draws
                games[j][i] += prior_draws
                score[i] += prior_draws / 2
                score[j] += prior_draws / 2
    return names, games, score


def _mm_step(i: int, gamma: list[float], games: list[list[float]], score: list[float]) -> float:
    """One MM update of player ``i``'s strength; a player with no points stays tiny, not 0
    (a zero strength would break the logarithm), which only happens with ``prior_draws=0``."""
    denominator = sum(games[i][j] / (gamma[i] + gamma[j]) for j in range(len(gamma)) if games[i][j] > 0)
    if denominator == 0:
        return gamma[i]
    return max(score[i] / denominator, 1e-12)


def _check_connected(names: list[str], games: list[list[float]]) -> None:
    """Raise ``ValueError`` unless every player is linked to every other by games played."""
    if not names:
        return
    seen, todo = {0}, [0]
    while todo:
        i = todo.pop()
        for j, g in enumerate(games[i]):
            if g > 0 and j not in seen:
                seen.add(j)
                todo.append(j)
    if len(seen) != len(names):
        apart = ", ".join(names[i] for i in range(len(names)) if i not in seen)
        raise ValueError(f"players {apart} never met the others (even indirectly): their ratings cannot be compared")
