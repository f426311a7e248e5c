"""benchmarks/rl_stats.py: normalization, learning-curve AUC, and rliable's aggregates (IQM,
median, mean with stratified-bootstrap intervals), probability of improvement and the two
plots, each against an answer worked out by hand."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rliable")

from benchmark_modules import load_benchmark  # noqa: E402  (after the skip: the script imports rliable)

rl_stats = load_benchmark("rl_stats.py", "bench_rl_stats")

REPS = 300  # enough for the checks below, and fast


@pytest.mark.parametrize("task", sorted(rl_stats.TASKS))
def test_normalize_maps_the_bounds_to_0_and_1(task: str) -> None:
    b = rl_stats.TASKS[task]
    assert rl_stats.normalize([b.low, b.high], task) == pytest.approx([0.0, 1.0])
    mid = (b.low + b.high) / 2
    assert float(rl_stats.normalize(mid, task)) == pytest.approx(0.5)


def test_the_chosen_bounds() -> None:
    t = rl_stats.TASKS
    assert (t["CartPole-v1"].low, t["CartPole-v1"].high, t["CartPole-v1"].threshold) == (22, 500, 475)
    assert (t["Acrobot-v1"].low, t["Acrobot-v1"].high, t["Acrobot-v1"].threshold) == (-500, 0, -100)
    assert (t["LunarLander-v3"].low, t["LunarLander-v3"].high, t["LunarLander-v3"].threshold) == (-180, 300, 200)
    # Acrobot: -100 is 400/500 of the way from random to the best.
    assert float(rl_stats.normalize(-100.0, "Acrobot-v1")) == pytest.approx(0.8)
    with pytest.raises(KeyError):
        rl_stats.normalize(1.0, "NoSuchTask-v0")


def test_auc_of_a_constant_curve_is_its_normalized_value() -> None:
    steps = [0, 1000, 5000, 20000]  # uneven spacing must not matter for a constant
    assert rl_stats.learning_curve_auc(steps, [261.0] * 4, "CartPole-v1") == pytest.approx((261 - 22) / 478)


def test_auc_of_a_ramp_and_of_a_late_jump() -> None:
    # From random to max linearly: the area is half the span.
    assert rl_stats.learning_curve_auc([0, 100], [22.0, 500.0], "CartPole-v1") == pytest.approx(0.5)
    # 0 for the first 90% of the steps, then a linear rise to 1 over the last 10%: 0.05.
    assert rl_stats.learning_curve_auc([0, 90, 100], [-500.0, -500.0, 0.0], "Acrobot-v1") == pytest.approx(0.05)
    # A curve inside the bounds stays inside [0, 1].
    rng = np.random.default_rng(1)
    means = rng.uniform(-180, 300, size=30)
    assert 0.0 <= rl_stats.learning_curve_auc(np.arange(30) * 7.0, means, "LunarLander-v3") <= 1.0
    with pytest.raises(ValueError):
        rl_stats.learning_curve_auc([0, 10, 5], [1.0, 2.0, 3.0], "CartPole-v1")


def test_iqm_of_0_to_99_is_the_mean_of_the_middle_50() -> None:
    values = np.arange(100, dtype=np.float64)
    expected = values[25:75].mean()  # 49.5
    r = rl_stats.aggregate({"a": values.reshape(100, 1)}, reps=REPS)
    assert r["a"]["iqm"]["estimate"] == pytest.approx(expected)
    # Skewed values, pooled over two tasks: the IQM is the mean of the squares of 25..74,
    # (sum_{0}^{74} i^2 - sum_{0}^{24} i^2) / 50 = (137825 - 4900) / 50 = 2658.5, while the mean
    # (of the task means) is the mean of all the squares, 328350 / 100 = 3283.5.
    sq = (values**2).reshape(50, 2)  # runs x tasks: the tasks hold the even and the odd squares
    r = rl_stats.aggregate({"sq": sq}, reps=REPS)
    assert r["sq"]["iqm"]["estimate"] == pytest.approx(2658.5)
    assert r["sq"]["mean"]["estimate"] == pytest.approx(3283.5)
    # The median is that of the per-task means: tasks with means 0.1, 0.5 and 0.9 -> 0.5.
    three = np.tile([0.1, 0.5, 0.9], (4, 1)) + np.array([[-0.01], [0.01], [-0.02], [0.02]])
    r = rl_stats.aggregate({"t": three}, reps=REPS)
    assert r["t"]["median"]["estimate"] == pytest.approx(0.5)
    assert r["t"]["mean"]["estimate"] == pytest.approx(0.5)


def test_intervals_contain_the_estimate_and_narrow_with_more_runs() -> None:
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.6, 0.2, size=(10, 3)), rng.normal(0.6, 0.2, size=(400, 3))
    r = rl_stats.aggregate({"few": few, "many": many}, reps=REPS)
    json.dumps(r)  # plain floats
    for name in ("few", "many"):
        for metric in rl_stats.METRICS:
            m = r[name][metric]
            assert type(m["estimate"]) is float
            assert m["low"] <= m["estimate"] <= m["high"], (name, metric, m)
    for metric in rl_stats.METRICS:
        width_few = r["few"][metric]["high"] - r["few"][metric]["low"]
        width_many = r["many"][metric]["high"] - r["many"][metric]["low"]
        assert width_many < width_few / 2, (metric, width_few, width_many)  # ~ sqrt(40) narrower


def test_the_seed_makes_it_reproducible_and_leaves_the_global_rng_alone() -> None:
    rng = np.random.default_rng(3)
    scores = {"a": rng.uniform(size=(8, 2)), "b": rng.uniform(size=(8, 2))}
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    r1 = rl_stats.aggregate(scores, reps=REPS, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)
    r2 = rl_stats.aggregate(scores, reps=REPS, seed=7)
    r3 = rl_stats.aggregate(scores, reps=REPS, seed=8)
    assert r1 == r2
    assert r1 != r3
    p1 = rl_stats.probability_of_improvement(scores["a"], scores["b"], reps=REPS, seed=7)
    assert p1 == rl_stats.probability_of_improvement(scores["a"], scores["b"], reps=REPS, seed=7)


def test_probability_of_improvement() -> None:
    rng = np.random.default_rng(5)
    peer = rng.uniform(0.0, 0.4, size=(10, 3))
    better = rng.uniform(0.6, 1.0, size=(12, 3))
    p = rl_stats.probability_of_improvement(better, peer, reps=REPS)
    assert p == {"estimate": 1.0, "low": 1.0, "high": 1.0}
    assert rl_stats.probability_of_improvement(peer, better, reps=REPS)["estimate"] == 0.0
    same = rl_stats.probability_of_improvement(peer, peer.copy(), reps=REPS)
    assert same["estimate"] == 0.5
    assert same["low"] < 0.5 < same["high"]
    # Our one run beats 3 of the peer's 4 runs on each task: 3/4 on each, so 3/4 on average.
    ours = np.array([[0.5, 0.5]])
    theirs = np.array([[0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.9, 0.9]])
    assert rl_stats.probability_of_improvement(ours, theirs, reps=REPS)["estimate"] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        rl_stats.probability_of_improvement(ours, theirs[:, :1], reps=REPS)


def test_performance_profile_values() -> None:
    scores = {"a": np.array([[0.1, 0.3], [0.5, 0.7]])}
    taus, profiles, bands = rl_stats.performance_profiles(scores, taus=np.array([0.0, 0.2, 0.6, 1.0]), reps=50)
    assert profiles["a"] == pytest.approx([1.0, 0.75, 0.25, 0.0])
    assert bands["a"].shape == (2, 4)


def test_plots_write_png_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    scores = {"ppo": rng.uniform(0.3, 1.0, size=(6, 3)), "dqn": rng.uniform(0.0, 0.8, size=(6, 3))}
    result = rl_stats.aggregate(scores, reps=100)
    png = b"\x89PNG\r\n\x1a\n"
    a = rl_stats.plot_aggregates(result, tmp_path / "aggregates.png")
    p = rl_stats.plot_performance_profiles(scores, tmp_path / "sub" / "profiles.png", reps=100)
    for path in (a, p):
        data = Path(path).read_bytes()
        assert data.startswith(png) and len(data) > 1000
