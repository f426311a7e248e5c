"""Bandit algorithms (agents/bandits.py) and ``arena bandits`` (arena/commands/bandits.py).

The update rules against hand-derived values, the samplers against their moments, and each
algorithm's known behaviour on the 10-armed testbed (Sutton & Barto 2018, chapter 2) at
500 runs x 1000 steps, seeded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import tyro

from agents.bandits import (
    UCB, EpsilonGreedy, GradientBandit, ThompsonBernoulli, ThompsonGaussian, gaussian_posterior,
    gradient_bandit_update, incremental_update, random_argmax, run_testbed, sample_beta, sample_gamma, ucb_scores,
)
from arena.commands.bandits import ALL_FIGURES, FIGURES, BanditsCommand, result_key, run_bandits
from envs.bandits import BanditConfig, BanditState, BanditTestbed

RUNS, STEPS, LATE = 500, 1000, slice(-200, None)


@pytest.fixture(scope="module")
def gaussian() -> dict:
    """Curves of the chapter's Gaussian-testbed algorithms, one shared seed."""
    algorithms = [EpsilonGreedy(0.0), EpsilonGreedy(0.1), EpsilonGreedy(0.0, 0.1, 5.0), EpsilonGreedy(0.1, 0.1),
                  UCB(2.0), ThompsonGaussian()]
    return run_testbed(algorithms, BanditConfig(), RUNS, STEPS, seed=1)


def late(curve: torch.Tensor) -> float:
    return float(curve[LATE].mean())


# ---- the math, by hand ------------------------------------------------------------------


def test_sample_average_update_is_the_running_mean() -> None:
    learner = EpsilonGreedy(0.0).build(runs=2, arms=3)
    arms = torch.tensor([1, 2])
    for reward, mean in [(1.0, 1.0), (2.0, 1.5), (3.0, 2.0), (6.0, 3.0), (-2.0, 2.0), (14.0, 4.0)]:
        learner.update(arms, torch.tensor([reward, 10.0]))
        assert learner.q[1, 0].item() == mean  # the mean of the rewards so far, exactly
    assert learner.q[2, 1].item() == 10.0
    assert learner.n[:, 0].tolist() == [0.0, 6.0, 0.0] and learner.q[0].tolist() == [0.0, 0.0]


def test_constant_step_size_is_the_exponential_recency_weighted_average() -> None:
    alpha, q1 = 0.1, 2.0
    rewards = [0.5, -1.0, 3.0, 2.5, 0.0, 1.25, -0.75]
    learner = EpsilonGreedy(0.1, step_size=alpha, initial_value=q1).build(runs=1, arms=2)
    for r in rewards:
        learner.update(torch.tensor([0]), torch.tensor([r]))
    n = len(rewards)  # S&B eq. 2.6
    expected = (1 - alpha) ** n * q1 + sum(alpha * (1 - alpha) ** (n - i) * r for i, r in enumerate(rewards, 1))
    assert learner.q[0, 0].item() == pytest.approx(expected, rel=1e-6)
    assert learner.q[1, 0].item() == q1


def test_incremental_update() -> None:
    assert incremental_update(torch.tensor(2.0), torch.tensor(4.0), 0.25).item() == 2.5


def test_ucb_scores_by_hand() -> None:
    q = torch.tensor([1.0, 0.5, 0.0])
    n = torch.tensor([1.0, 4.0, 0.0])
    scores = ucb_scores(q, n, t=6, c=2.0)
    assert scores[0].item() == pytest.approx(1 + 2 * math.sqrt(math.log(6)))
    assert scores[1].item() == pytest.approx(0.5 + 2 * math.sqrt(math.log(6) / 4))
    assert scores[2].item() == math.inf  # never pulled: tried first
    assert torch.all(ucb_scores(q, torch.zeros(3), t=1, c=2.0) == math.inf)


def test_gradient_bandit_update_by_hand() -> None:
    h = torch.zeros(2, 1)  # (k, R)
    pi = torch.full((2, 1), 0.5)
    new = gradient_bandit_update(h, pi, torch.tensor([0]), torch.tensor([1.0]), step_size=0.1)
    assert new[:, 0].tolist() == pytest.approx([0.05, -0.05])  # +alpha (R - b)(1 - pi), -alpha (R - b) pi


def test_gaussian_posterior_by_hand() -> None:
    mean, std = gaussian_posterior(torch.tensor([0.0, 1.0, 3.0]), torch.tensor([0.0, 2.0, 3.0]), 0.0, 1.0, 1.0)
    assert mean.tolist() == pytest.approx([0.0, 1.0, 0.75])
    assert std.tolist() == pytest.approx([1.0, 1 / math.sqrt(2), 0.5])


@pytest.mark.parametrize("shape", [1.0, 2.5, 40.0])
def test_sample_gamma_moments(shape: float) -> None:
    x = sample_gamma(torch.full((200_000,), shape), torch.Generator().manual_seed(0))
    assert float(x.mean()) == pytest.approx(shape, rel=0.01)
    assert float(x.var()) == pytest.approx(shape, rel=0.03)
    assert bool((x > 0).all())


def test_sample_beta_moments() -> None:
    a, b = torch.full((200_000,), 2.0), torch.full((200_000,), 5.0)
    x = sample_beta(a, b, torch.Generator().manual_seed(0))
    assert float(x.mean()) == pytest.approx(2 / 7, rel=0.01)
    assert float(x.var()) == pytest.approx(10 / (49 * 8), rel=0.03)


def test_random_argmax_breaks_ties_uniformly() -> None:
    values = torch.tensor([[1.0], [0.0], [1.0], [1.0]]).expand(4, 30_000)  # (k, R): arms 0, 2, 3 tied
    arms = random_argmax(values, torch.Generator().manual_seed(0))
    counts = torch.bincount(arms, minlength=4) / arms.numel()
    assert counts[1] == 0
    assert counts[[0, 2, 3]].tolist() == pytest.approx([1 / 3] * 3, abs=0.015)
    assert random_argmax(torch.tensor([[0.0, 2.0], [1.0, 1.0]]), torch.Generator()).tolist() == [1, 0]


# ---- known behaviour on the testbed ------------------------------------------------------


def test_epsilon_beats_greedy_on_optimal_action(gaussian: dict) -> None:
    greedy, eps = gaussian["greedy"], gaussian["epsilon-greedy eps=0.1"]
    assert late(eps.optimal_action) > late(greedy.optimal_action) + 0.2
    assert late(eps.average_reward) > late(greedy.average_reward)


def test_ucb_beats_epsilon_on_average_reward(gaussian: dict) -> None:
    assert late(gaussian["UCB c=2"].average_reward) > late(gaussian["epsilon-greedy eps=0.1"].average_reward) + 0.05


def test_optimistic_beats_realistic_late(gaussian: dict) -> None:
    optimistic, realistic = gaussian["greedy alpha=0.1 Q0=5"], gaussian["epsilon-greedy eps=0.1 alpha=0.1"]
    assert late(optimistic.optimal_action) > late(realistic.optimal_action) + 0.05
    # ... but starts worse: it explores every arm first (the dip of S&B figure 2.3)
    assert float(optimistic.optimal_action[:10].mean()) < float(realistic.optimal_action[:10].mean())


def test_thompson_gaussian_beats_epsilon(gaussian: dict) -> None:
    assert late(gaussian["Thompson Gaussian N(0,1^2)"].average_reward) > late(
        gaussian["epsilon-greedy eps=0.1"].average_reward)


def test_gradient_baseline_matters_on_shifted_arms() -> None:
    curves = run_testbed([GradientBandit(0.1, True), GradientBandit(0.1, False)],
                         BanditConfig(mean_offset=4.0), RUNS, STEPS, seed=2)
    with_b = curves["gradient bandit alpha=0.1 with baseline"]
    without = curves["gradient bandit alpha=0.1 without baseline"]
    assert late(with_b.optimal_action) > late(without.optimal_action) + 0.15


def test_thompson_bernoulli_solves_an_easy_two_armed_problem() -> None:
    runs, generator = 1000, torch.Generator().manual_seed(0)
    testbed = BanditTestbed(BanditConfig(arms=2, kind="bernoulli"))
    state = BanditState(q_star=torch.tensor([[0.2, 0.8]]).repeat(runs, 1), step=torch.zeros(runs, dtype=torch.long))
    learner = ThompsonBernoulli().build(runs, 2)
    optimal = []
    for _ in range(200):
        arms = learner.select(generator)
        state, reward = testbed.pull(state, arms, generator)
        learner.update(arms, reward)
        optimal.append(float((arms == 1).float().mean()))
    assert sum(optimal[-50:]) / 50 > 0.9
    assert learner.a.sum().item() + learner.b.sum().item() == pytest.approx(runs * (4 + 200))


def test_epsilon_greedy_explores_at_its_rate() -> None:
    learner = EpsilonGreedy(0.3).build(runs=20_000, arms=5)
    learner.q[2] = 1.0  # arm 2 is greedy
    arms = learner.select(torch.Generator().manual_seed(0))
    assert float((arms != 2).float().mean()) == pytest.approx(0.3 * 4 / 5, abs=0.015)


# ---- seeding, errors ---------------------------------------------------------------------


def test_same_seed_same_curves_and_global_rng_untouched() -> None:
    algorithms = [EpsilonGreedy(0.1), UCB(2.0), GradientBandit(0.1), ThompsonGaussian()]
    before = torch.get_rng_state()
    first = run_testbed(algorithms, runs=50, steps=40, seed=7)
    second = run_testbed(algorithms, runs=50, steps=40, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    for label in first:
        assert torch.equal(first[label].average_reward, second[label].average_reward)
        assert torch.equal(first[label].optimal_action, second[label].optimal_action)
    other = run_testbed(algorithms, runs=50, steps=40, seed=8)
    assert not torch.equal(first["UCB c=2"].average_reward, other["UCB c=2"].average_reward)
    bernoulli = [ThompsonBernoulli()]
    assert torch.equal(run_testbed(bernoulli, BanditConfig(kind="bernoulli"), 50, 40, 3)[bernoulli[0].label].average_reward,
                       run_testbed(bernoulli, BanditConfig(kind="bernoulli"), 50, 40, 3)[bernoulli[0].label].average_reward)


def test_progress_reports_every_step_once() -> None:
    seen: list[tuple[str, int]] = []
    run_testbed([EpsilonGreedy(0.1), UCB(2.0)], runs=5, steps=25, progress=lambda label, n: seen.append((label, n)),
                report_every=10)
    assert seen == [("epsilon-greedy eps=0.1", 10), ("epsilon-greedy eps=0.1", 10), ("epsilon-greedy eps=0.1", 5),
                    ("UCB c=2", 10), ("UCB c=2", 10), ("UCB c=2", 5)]


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="kind='bernoulli'"):
        run_testbed([ThompsonBernoulli()], BanditConfig(), runs=2, steps=2)
    with pytest.raises(ValueError, match="distinct"):
        run_testbed([UCB(2.0), UCB(2.0)], runs=2, steps=2)
    with pytest.raises(ValueError, match=">= 1"):
        ThompsonBernoulli(prior_a=0.5)
    with pytest.raises(ValueError, match="--runs"):
        BanditsCommand(runs=0)


def test_labels_carry_parameters() -> None:
    assert [a.label for a in FIGURES["gradient"].algorithms] == [
        "gradient bandit alpha=0.1 with baseline", "gradient bandit alpha=0.4 with baseline",
        "gradient bandit alpha=0.1 without baseline", "gradient bandit alpha=0.4 without baseline"]
    assert UCB(math.sqrt(2)).label == "UCB1" and UCB(2).label == "UCB c=2"
    assert result_key("UCB1", BanditConfig(kind="bernoulli")) == "UCB1 [Bernoulli]"
    assert result_key("greedy", BanditConfig()) == "greedy"


# ---- arena bandits -----------------------------------------------------------------------


def test_command_writes_results_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cmd = tyro.cli(BanditsCommand, args=["--runs", "20", "--steps", "15", "--out", str(tmp_path / "run"), "--no-progress"])
    run_dir = run_bandits(cmd)
    assert run_dir == tmp_path / "run"
    results = json.loads((run_dir / "results.json").read_text())
    expected = {result_key(a.label, f.bandit)
                for f in FIGURES.values() for a in f.algorithms}
    assert set(results) == expected and len(expected) == 16
    for curves in results.values():
        assert set(curves) == {"average_reward", "optimal_action"}
        assert len(curves["average_reward"]) == len(curves["optimal_action"]) == 15
        assert all(0.0 <= x <= 1.0 for x in curves["optimal_action"])
    for name in ALL_FIGURES:
        assert (run_dir / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "Thompson Bernoulli Beta(1,1) [Bernoulli]" in out and str(run_dir) in out


def test_command_runs_only_the_chosen_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = run_bandits(BanditsCommand(runs=10, steps=5, arms=4, figures=("ucb", "epsilon-greedy"),
                                         out=tmp_path, progress=False))
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results) == ["greedy", "epsilon-greedy eps=0.01", "epsilon-greedy eps=0.1", "UCB c=2"]
    assert sorted(p.name for p in run_dir.glob("*.png")) == ["epsilon-greedy.png", "ucb.png"]
