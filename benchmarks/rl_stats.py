"""Aggregate statistics for the RL benchmark, after Agarwal et al. 2021.

"Deep Reinforcement Learning at the Edge of the Statistical Precipice" (NeurIPS 2021) argues
that a handful of seeds summarised by a mean (or a median of task means) says little, and that
an RL result should instead be reported as:

* normalized scores, so that tasks on different reward scales can be pooled;
* the interquartile mean (IQM) over all runs and tasks, beside the median and the mean;
* 95% stratified-bootstrap confidence intervals (runs resampled within each task);
* the probability of improvement P(ours > peer), with its interval;
* performance profiles (the fraction of runs above each normalized score tau).

This module computes those with the `rliable` package (the paper's own library). It is a set
of config-free, pure functions on numpy arrays: no torch, no training, no file formats beyond
the PNGs that the two plot functions write. Scores are arranged as rliable expects: one
[runs, tasks] array of normalized scores per algorithm.

Reproducibility: rliable's bootstraps draw their indices from numpy's *global* RNG
(`np.random.choice` in `StratifiedBootstrap.update_indices`), whatever `random_state` one
passes. Every function here that bootstraps therefore seeds `np.random` with its `seed`
argument for the duration of the call and puts the caller's global RNG state back afterwards,
so the same inputs and seed give the same intervals and the caller's RNG stream is untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics

# The metrics `aggregate` reports, in this order (also the order of the panels in the plot).
METRICS: tuple[str, ...] = ("iqm", "median", "mean")
_METRIC_TITLES = {"iqm": "IQM", "median": "Median", "mean": "Mean"}


@dataclasses.dataclass(frozen=True)
class Bounds:
    """How a task's raw episode return is normalized: (score - low) / (high - low).

    `low` is roughly what a uniformly random policy scores, `high` the score taken as 1.0, and
    `threshold` the return at which Gymnasium (or common practice) calls the task solved; it is
    kept for reference and is not used by the normalization.
    """

    low: float
    high: float
    threshold: float


# Normalization bounds per task. The choices:
# * CartPole-v1: a random policy lasts about 22 steps; the episode is capped at 500; Gymnasium's
#   reward threshold is 475.
# * Acrobot-v1: episodes are capped at 500 steps of reward -1, so a random policy (which almost
#   never swings up in time) scores -500; 0 is the unreachable best; the threshold is -100.
# * LunarLander-v3: a random policy scores about -180 (it varies between -100 and -250 by seed);
#   "solved" is 200, but good agents routinely score 250-300, so 300 is taken as 1.0 to keep
#   strong policies from being clipped at the top (a solved policy normalizes to 380/480 ~ 0.79).
TASKS: dict[str, Bounds] = {
    "CartPole-v1": Bounds(low=22.0, high=500.0, threshold=475.0),
    "Acrobot-v1": Bounds(low=-500.0, high=0.0, threshold=-100.0),
    "LunarLander-v3": Bounds(low=-180.0, high=300.0, threshold=200.0),
}


def _bounds(task: str | Bounds) -> Bounds:
    if isinstance(task, Bounds):
        return task
    try:
        return TASKS[task]
    except KeyError:
        raise KeyError(f"no normalization bounds for task {task!r}; known: {sorted(TASKS)}") from None


def normalize(scores: np.ndarray | Sequence[float] | float, task: str | Bounds) -> np.ndarray:
    """(score - low) / (high - low) with the task's bounds: `low` maps to 0, `high` to 1.

    Not clipped: a run below random is negative, one above `high` exceeds 1.
    """
    b = _bounds(task)
    return (np.asarray(scores, dtype=np.float64) - b.low) / (b.high - b.low)


def learning_curve_auc(steps: np.ndarray | Sequence[float], means: np.ndarray | Sequence[float],
                       task: str | Bounds) -> float:
    """Normalized area under a learning curve: the trapezoid integral of the normalized mean
    return over the environment steps, divided by the span of the steps.

    It is the curve's time-averaged normalized score, so a curve that stays inside the task's
    bounds gives a value in [0, 1], and a constant curve gives its own normalized value. A
    single point gives that point's normalized value.
    """
    x = np.asarray(steps, dtype=np.float64)
    y = normalize(means, task)
    if x.ndim != 1 or x.shape != y.shape or x.size == 0:
        raise ValueError(f"steps and means must be 1-D of the same non-zero length, got {x.shape} and {y.shape}")
    if x.size == 1:
        return float(y[0])
    dx = np.diff(x)
    if np.any(dx <= 0):
        raise ValueError("steps must be strictly increasing")
    area = float(np.sum(dx * (y[1:] + y[:-1]) / 2.0))
    return area / float(x[-1] - x[0])


@contextlib.contextmanager
def _seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG (which rliable's bootstraps draw from) and restore it after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _check_scores(name: str, x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"scores for {name!r} must be a [runs, tasks] array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"scores for {name!r} contain NaN or inf")
    return a


def _checked_scores(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every algorithm's [runs, tasks] array as float64, checked; at least one algorithm."""
    data = {name: _check_scores(name, x) for name, x in scores.items()}
    if not data:
        raise ValueError("no algorithms given")
    return data


def _aggregate_func(x: np.ndarray) -> np.ndarray:
    return np.array([metrics.aggregate_iqm(x), metrics.aggregate_median(x), metrics.aggregate_mean(x)])


def aggregate(scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0,
              confidence: float = 0.95) -> dict[str, dict[str, dict[str, float]]]:
    """IQM, median and mean per algorithm with stratified-bootstrap confidence intervals.

    `scores` maps an algorithm to its [runs, tasks] array of normalized scores (the same tasks,
    in the same order, for every algorithm; the number of runs may differ). The IQM pools all
    runs and tasks (25% trimmed mean); the median and the mean are of the per-task means
    (rliable's definitions). Returns, JSON-ready,
    {algorithm: {"iqm" | "median" | "mean": {"estimate": float, "low": float, "high": float}}}.
    """
    data = _checked_scores(scores)
    with _seeded_global_rng(seed):
        points, intervals = rly.get_interval_estimates(
            data, _aggregate_func, reps=reps, confidence_interval_size=confidence)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in data:
        out[name] = {
            metric: {"estimate": float(points[name][i]), "low": float(intervals[name][0, i]),
                     "high": float(intervals[name][1, i])}
            for i, metric in enumerate(METRICS)
        }
    return out


def _poi_func(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array([metrics.probability_of_improvement(x, y)])


def probability_of_improvement(ours: np.ndarray, peer: np.ndarray, reps: int = 2000, seed: int = 0,
                               confidence: float = 0.95) -> dict[str, float]:
    """P(ours > peer): the Mann-Whitney probability that a run of ours beats a run of the peer
    on the same task, averaged over tasks (ties count half), with a stratified bootstrap
    interval that resamples each algorithm's runs independently within each task.

    `ours` and `peer` are [runs, tasks] arrays over the same tasks (run counts may differ).
    Returns {"estimate", "low", "high"}.
    """
    x, y = _check_scores("ours", ours), _check_scores("peer", peer)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"ours has {x.shape[1]} tasks, peer {y.shape[1]}")
    with _seeded_global_rng(seed):
        points, intervals = rly.get_interval_estimates(
            {"pair": [x, y]}, _poi_func, reps=reps, confidence_interval_size=confidence)
    ci = np.asarray(intervals["pair"]).reshape(2, -1)
    return {"estimate": float(np.asarray(points["pair"]).reshape(-1)[0]),
            "low": float(ci[0, 0]), "high": float(ci[1, 0])}


def performance_profiles(scores: Mapping[str, np.ndarray], taus: np.ndarray | None = None,
                         reps: int = 2000, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Score distributions: per algorithm, the fraction of all runs (pooled over tasks) whose
    normalized score exceeds each tau, with 95% stratified-bootstrap bands.

    Returns (taus, profiles {algorithm: [len(taus)]}, bands {algorithm: [2, len(taus)]}).
    Default taus: 51 points from min(0, lowest score) to max(1, highest score).
    """
    data = _checked_scores(scores)
    if taus is None:
        lo = min(0.0, min(float(x.min()) for x in data.values()))
        hi = max(1.0, max(float(x.max()) for x in data.values()))
        taus = np.linspace(lo, hi, 51)
    taus = np.asarray(taus, dtype=np.float64)
    with _seeded_global_rng(seed):
        profiles, bands = rly.create_performance_profile(data, taus, reps=reps)
    return taus, {k: np.asarray(v) for k, v in profiles.items()}, {k: np.asarray(v) for k, v in bands.items()}


def _pyplot_and_plot_utils():  # type: ignore[no-untyped-def]
    """Import matplotlib on the non-interactive Agg backend, then rliable's plot helpers
    (which import pyplot and seaborn), only when a plot is asked for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    return plt, plot_utils


def _save(fig: Any, path: str | Path) -> Path:
    """The figure as a PNG at ``path`` (its folder made), through arena's one figure writer."""
    from arena.io.runs import save_figure

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out)


def plot_aggregates(result: Mapping[str, Mapping[str, Mapping[str, float]]], path: str | Path,
                    xlabel: str = "Normalized score") -> Path:
    """Write `aggregate`'s result as rliable's interval-estimate plot (one panel per metric,
    one bar per algorithm: the bar is the interval, the tick the estimate) to a PNG at `path`."""
    _, plot_utils = _pyplot_and_plot_utils()
    algorithms = list(result)
    if not algorithms:
        raise ValueError("nothing to plot")
    names = [m for m in METRICS if m in result[algorithms[0]]]
    points = {a: np.array([result[a][m]["estimate"] for m in names]) for a in algorithms}
    intervals = {a: np.array([[result[a][m]["low"] for m in names], [result[a][m]["high"] for m in names]])
                 for a in algorithms}
    fig, _ = plot_utils.plot_interval_estimates(
        points, intervals, metric_names=[_METRIC_TITLES.get(m, m) for m in names], algorithms=algorithms,
        xlabel=xlabel, row_height=max(0.37, 1.6 / len(algorithms)))
    fig.tight_layout()  # rliable's figure clips its x label otherwise
    return _save(fig, path)


def plot_performance_profiles(scores: Mapping[str, np.ndarray], path: str | Path, taus: np.ndarray | None = None,
                              reps: int = 2000, seed: int = 0) -> Path:
    """Write the performance profiles of `scores` (see `performance_profiles`) with their
    bootstrap bands, as rliable's profile plot, to a PNG at `path`."""
    plt, plot_utils = _pyplot_and_plot_utils()
    taus_, profiles, bands = performance_profiles(scores, taus, reps=reps, seed=seed)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(profiles, taus_, performance_profile_cis=bands, ax=ax,
                                         xlabel=r"Normalized score ($\tau$)",
                                         ylabel=r"Fraction of runs with score $> \tau$")
    ax.legend(loc="upper right")
    return _save(fig, path)
