"""The k-armed bandit testbed: shapes, seeding, reward distributions, drift, bad input."""

from __future__ import annotations

import pytest
import torch

from envs.bandits import BanditConfig, BanditState, BanditTestbed, Pull


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", ["gaussian", "bernoulli"])
def test_shapes_and_dtypes(kind: str) -> None:
    bed = BanditTestbed(BanditConfig(arms=7, kind=kind))
    state = bed.init(5, generator=seeded(0))
    assert state.q_star.shape == (5, 7) and state.q_star.dtype == torch.float32
    assert state.step.tolist() == [0] * 5 and state.step.dtype == torch.long
    result = bed.pull(state, torch.tensor([0, 1, 2, 3, 6]), generator=seeded(1))
    assert isinstance(result, Pull) and isinstance(result.state, BanditState)
    assert result.reward.shape == (5,) and result.reward.dtype == torch.float32
    assert result.state.step.tolist() == [1] * 5
    assert bed.optimal_action(state).shape == (5,) and bed.optimal_action(state).dtype == torch.long
    assert bed.expected_reward(state, 3).shape == (5,)
    assert bed.num_actions == 7


@pytest.mark.parametrize("config", [BanditConfig(), BanditConfig(kind="bernoulli", drift_std=0.1)])
def test_same_seed_same_results_bit_for_bit(config: BanditConfig) -> None:
    bed = BanditTestbed(config)

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = seeded(seed)
        state = bed.init(100, generator=g)
        rewards = []
        for t in range(20):
            state, reward = bed.pull(state, torch.full((100,), t % config.arms), generator=g)
            rewards.append(reward)
        return state.q_star, torch.stack(rewards)

    q1, r1 = run(7)
    q2, r2 = run(7)
    q3, r3 = run(8)
    assert torch.equal(q1, q2) and torch.equal(r1, r2)
    assert not torch.equal(r1, r3)


def test_optimal_action_is_argmax_and_expected_reward_gathers() -> None:
    bed = BanditTestbed(BanditConfig(arms=4))
    state = BanditState(
        q_star=torch.tensor([[0.1, 0.9, -2.0, 0.3], [1.5, -1.0, 0.0, 2.5], [-3.0, -1.0, -2.0, -4.0]]),
        step=torch.zeros(3, dtype=torch.long),
    )
    assert bed.optimal_action(state).tolist() == [1, 3, 1]
    assert bed.expected_reward(state, torch.tensor([2, 0, 3])).tolist() == [-2.0, 1.5, -4.0]
    drawn = bed.init(500, generator=seeded(2))
    best = bed.optimal_action(drawn)
    assert torch.equal(bed.expected_reward(drawn, best), drawn.q_star.max(dim=1).values)


def test_gaussian_arms_are_drawn_around_the_offset() -> None:
    bed = BanditTestbed(BanditConfig(arms=10, mean_offset=4.0, initial_mean_std=2.0))
    q = bed.init(4000, generator=seeded(3)).q_star  # 40,000 draws
    assert abs(q.mean().item() - 4.0) < 0.05  # standard error 2/200 = 0.01
    assert abs(q.std().item() - 2.0) < 0.05


def test_gaussian_rewards_average_to_q_star() -> None:
    bed = BanditTestbed(BanditConfig(arms=3, noise_std=1.0))
    g = seeded(4)
    state = bed.init(4, generator=g)
    action = torch.tensor([0, 1, 2, 1])
    pulls = 5000
    total = torch.zeros(4)
    sq = torch.zeros(4)
    for _ in range(pulls):
        state, reward = bed.pull(state, action, generator=g)
        total += reward
        sq += reward**2
    mean = total / pulls
    # standard error 1/sqrt(5000) ~ 0.014, so 0.06 is over 4 standard errors
    assert torch.allclose(mean, bed.expected_reward(state, action), atol=0.06)
    std = (sq / pulls - mean**2).sqrt()
    assert torch.allclose(std, torch.ones(4), atol=0.05)


def test_noise_std_scales_the_reward_noise() -> None:
    bed = BanditTestbed(BanditConfig(arms=2, noise_std=3.0))
    state = bed.init(20000, generator=seeded(5))
    reward = bed.pull(state, 0, generator=seeded(6)).reward
    residual = reward - state.q_star[:, 0]
    assert abs(residual.std().item() - 3.0) < 0.1


def test_bernoulli_rewards_are_zero_or_one_with_mean_p() -> None:
    bed = BanditTestbed(BanditConfig(arms=5, kind="bernoulli"))
    g = seeded(7)
    state = bed.init(3, generator=g)
    assert bool(((state.q_star >= 0) & (state.q_star <= 1)).all())
    action = torch.tensor([4, 0, 2])
    rewards = torch.stack([bed.pull(state, action, generator=g).reward for _ in range(4000)])
    assert set(rewards.unique().tolist()) <= {0.0, 1.0}
    # binomial standard error is at most 0.5/sqrt(4000) ~ 0.008
    assert torch.allclose(rewards.mean(dim=0), bed.expected_reward(state, action), atol=0.04)


def test_bernoulli_probabilities_are_uniform() -> None:
    q = BanditTestbed(BanditConfig(kind="bernoulli")).init(2000, generator=seeded(8)).q_star
    assert abs(q.mean().item() - 0.5) < 0.01
    assert abs(q.var().item() - 1 / 12) < 0.005
    counts = torch.histc(q, bins=10, min=0.0, max=1.0)
    assert bool((counts - 2000).abs().max() < 200)  # 20,000 draws, 2,000 per tenth


def test_stationary_arms_never_move() -> None:
    bed = BanditTestbed(BanditConfig())
    g = seeded(9)
    start = bed.init(50, generator=g)
    state = start
    for t in range(100):
        state, _ = bed.pull(state, t % 10, generator=g)
    assert torch.equal(state.q_star, start.q_star)
    assert state.step.tolist() == [100] * 50


def test_drift_is_a_random_walk_of_every_arm() -> None:
    drift = 0.01
    bed = BanditTestbed(BanditConfig(arms=10, drift_std=drift, initial_mean_std=0.0))
    g = seeded(10)
    start = bed.init(500, generator=g)
    assert bool((start.q_star == 0).all())  # exercise 2.5: all arms start equal
    state, steps = start, 100
    for _ in range(steps):
        state, _ = bed.pull(state, 0, generator=g)  # only arm 0 is pulled; all arms drift
    moved = state.q_star - start.q_star
    assert bool((moved != 0).all())
    # after n steps each arm is N(0, n * drift^2): std drift * sqrt(n) = 0.1
    assert abs(moved.std().item() - drift * steps**0.5) < 0.01
    assert abs(moved.mean().item()) < 0.01
    one = bed.pull(state, 0, generator=g).state.q_star - state.q_star
    assert abs(one.std().item() - drift) < 0.001


def test_reward_is_drawn_before_the_drift() -> None:
    bed = BanditTestbed(BanditConfig(arms=2, noise_std=0.0, drift_std=1.0))
    state = bed.init(8, generator=seeded(11))
    result = bed.pull(state, 1, generator=seeded(12))
    assert torch.equal(result.reward, state.q_star[:, 1])
    assert not torch.equal(result.state.q_star, state.q_star)


def test_bernoulli_drift_stays_in_unit_interval() -> None:
    bed = BanditTestbed(BanditConfig(kind="bernoulli", drift_std=0.3))
    g = seeded(13)
    state = bed.init(200, generator=g)
    for _ in range(30):
        state, _ = bed.pull(state, 0, generator=g)
    assert bool(((state.q_star >= 0) & (state.q_star <= 1)).all())


@pytest.mark.parametrize(
    "action, message",
    [
        (torch.tensor([0, 1, 10]), "arm 10 in run 2 is out of range"),
        (torch.tensor([0, -1, 1]), "arm -1 in run 1 is out of range"),
        (torch.tensor([0, 1]), r"shape \(3,\)"),
        (torch.tensor([[0, 1, 2]]), r"shape \(3,\)"),
        (torch.tensor([0.0, 1.0, 2.0]), "integer"),
        (torch.tensor([True, False, True]), "integer"),
        (12, "out of range"),
    ],
)
def test_bad_actions_raise_clear_errors(action: object, message: str) -> None:
    bed = BanditTestbed(BanditConfig(arms=10))
    state = bed.init(3, generator=seeded(0))
    with pytest.raises(ValueError, match=message):
        bed.pull(state, action)
    with pytest.raises(ValueError, match=message):
        bed.expected_reward(state, action)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arms": 0}, "at least one arm"),
        ({"kind": "poisson"}, "kind must be"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"drift_std": -0.1}, "drift_std"),
        ({"initial_mean_std": -1.0}, "initial_mean_std"),
    ],
)
def test_bad_config_raises(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BanditConfig(**kwargs)


def test_bad_runs_and_device() -> None:
    bed = BanditTestbed()
    with pytest.raises(ValueError, match="runs must be"):
        bed.init(0)
    assert bed.init(2, device="cpu").q_star.device.type == "cpu"
    assert bed.init(2).q_star.shape == (2, 10)  # global generator
