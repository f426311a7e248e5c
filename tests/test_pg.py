"""Policy gradients (agents/pg.py, agents/pg_losses.py, agents/rollout.py): the math by hand,
the NEXT_STEP rollout layout, masks, the Gaussian path, checkpoints, and seconds-long learning runs."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers arena/TicTacToe-v0)
from agents.pg import PGConfig, default_config, discounted_returns, gae, make_learner
from agents.pg_losses import ppo_clip_loss, value_clip_loss
from agents.rollout import collect, reset_envs
from nets.mlp import MLP, MLPConfig, layer_chain, run_chain

CPU = torch.device("cpu")
# CartPole with RL Zoo's PPO settings (rl-baselines3-zoo hyperparams/ppo.yml), lr/clip held constant.
PPO_CARTPOLE = dict(n_steps=32, minibatch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, learning_rate=1e-3)


def _learner(name: str, envs_: gymnasium.vector.VectorEnv, seed: int = 0, **overrides):
    return make_learner(name, overrides, envs_.single_observation_space, envs_.single_action_space,
                        envs_.num_envs, CPU, seed)


def _train(learner, envs_, steps: int) -> tuple[list[float], list[dict]]:
    returns, stats, total = [], [], 0
    while total < steps:
        s = learner.learn(envs_)
        total += s["env_steps"]
        returns += s["episode_returns"]
        stats.append(s)
    return returns, stats


# -- math by hand -------------------------------------------------------------------------------

def test_gae_by_hand_with_termination_and_truncation() -> None:
    # Two envs, 4 rows; both episodes end at row 1 (env 0 terminated, env 1 truncated by a time
    # limit); row 2 is the NEXT_STEP reset row whose obs is the final observation, V = 4.
    rewards = torch.tensor([[1.0, 1.0], [2.0, 2.0], [0.0, 0.0], [3.0, 3.0]])
    values = torch.tensor([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0], [1.0, 1.0]])
    dones = torch.tensor([[0, 0], [1, 1], [0, 0], [0, 0]], dtype=torch.bool)
    terminated = torch.tensor([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=torch.bool)
    last_value = torch.tensor([2.0, 2.0])
    adv = gae(rewards, values, dones, last_value, gamma=0.5, lam=0.5, terminated=terminated)
    # deltas: row 3: 3 + .5*2 - 1 = 3; row 2: 0 + .5*1 - 4 = -3.5; row 1: 2 - 2 = 0 (terminated)
    # or 2 + .5*4 - 2 = 2 (truncated: bootstrap from the final obs); row 0: 1 + .5*2 - 1 = 1.
    # A_t = delta_t + .25 * (1 - done_t) * A_{t+1}.
    expected = torch.tensor([[1.0, 1.0 + 0.25 * 2.0], [0.0, 2.0], [-3.5 + 0.25 * 3.0] * 2, [3.0, 3.0]])
    torch.testing.assert_close(adv, expected)
    # Without `terminated` every end is terminal.
    torch.testing.assert_close(gae(rewards, values, dones, last_value, 0.5, 0.5)[:, 1], expected[:, 0])


def test_gae_lambda_one_is_bootstrapped_monte_carlo() -> None:
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    values = torch.tensor([[0.3], [0.2], [0.1]])
    dones = torch.zeros(3, 1, dtype=torch.bool)
    adv = gae(rewards, values, dones, torch.tensor([5.0]), gamma=0.9, lam=1.0)
    returns = torch.tensor([[1 + 0.9 + 0.81 + 0.729 * 5], [1 + 0.9 + 0.81 * 5], [1 + 0.9 * 5]])
    torch.testing.assert_close(adv + values, returns)


def test_discounted_returns_by_hand() -> None:
    rewards = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    dones = torch.tensor([[0], [1], [0], [0]], dtype=torch.bool)
    got = discounted_returns(rewards, dones, torch.tensor([10.0]), gamma=0.5)
    torch.testing.assert_close(got, torch.tensor([[1 + 0.5 * 2], [2.0], [3 + 0.5 * 9], [4 + 0.5 * 10]]))


def test_ppo_clip_loss_by_hand() -> None:
    ratio = torch.tensor([1.5, 0.5, 1.0, 1.1, 0.5])
    advantages = torch.tensor([1.0, 1.0, -1.0, -2.0, -1.0])
    # min(rA, clip(r, .8, 1.2) A): 1.2, 0.5, -1, -2.2, -0.8 -> mean -0.46
    loss = ppo_clip_loss(ratio.log(), torch.zeros(5), advantages, clip_range=0.2)
    assert loss.item() == pytest.approx(0.46, abs=1e-6)
    # Gradient flows only through the unclipped terms (the 1st is clipped; the 5th's min is the clip).
    log_prob = ratio.log().requires_grad_()
    ppo_clip_loss(log_prob, torch.zeros(5), advantages, 0.2).backward()
    torch.testing.assert_close(log_prob.grad, -torch.tensor([0.0, 0.5, -1.0, -2.2, 0.0]) / 5)


def test_value_clip_loss_by_hand() -> None:
    values, old, returns = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([4.0, 0.0])
    # clipped values 1.5 and 0.5: max((3-4)^2, (1.5-4)^2) = 6.25, max(0, 0.25) = 0.25
    assert value_clip_loss(values, old, returns, 0.5).item() == pytest.approx(3.25)
    assert value_clip_loss(values, old, returns, None).item() == pytest.approx(0.5)


# -- rollouts, masks, the Gaussian path, checkpoints -----------------------------------------------

def test_rollout_masks_reset_rows_and_bootstraps_from_final_obs() -> None:
    envs_ = gymnasium.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync", max_episode_steps=5)
    learner = _learner("ppo", envs_, n_steps=13)
    cursor = reset_envs(envs_, seed=0)
    r = collect(envs_, cursor, learner._policy_step, learner._value_of, 13, CPU)
    # Truncated at 5 steps (CartPole rarely falls that fast): rows 4 and 10 end, rows 5 and 11 reset.
    assert r.dones[[4, 10]].all() and not r.terminated[[4, 10]].any()
    assert not r.valid[[5, 11]].any() and r.valid.sum() == 2 * 11 and r.env_steps == 22
    assert (r.rewards[~r.valid] == 0).all() and r.episode_returns == [5.0] * 4
    # The reset row holds the final observation (the one a truncation bootstraps from).
    assert not torch.equal(r.obs[5], r.obs[6])


def test_same_step_rollout_keeps_every_row_and_bootstraps_truncations() -> None:
    envs_ = gymnasium.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync", max_episode_steps=5,
                               vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    learner = _learner("ppo", envs_, n_steps=12)
    r = collect(envs_, reset_envs(envs_, seed=0), learner._policy_step, learner._value_of, 12, CPU)
    assert r.valid.all() and r.env_steps == 24 and r.episode_returns == [5.0] * 4
    assert r.dones[[4, 9]].all() and r.terminated[[4, 9]].all() and r.dones.sum() == 4
    ended = r.truncation_values != 0
    assert ended[[4, 9]].all() and ended.sum() == 4  # V(final obs) of the truncated rows, only there


@pytest.mark.parametrize("vectorization_mode", ["sync", "vector_entry_point"])
def test_masked_actions_are_always_legal_in_tictactoe(vectorization_mode: str) -> None:
    envs_ = gymnasium.make_vec("arena/TicTacToe-v0", num_envs=8, vectorization_mode=vectorization_mode,
                               opponent="random", agent_color="random")
    learner = _learner("ppo", envs_, n_steps=16, minibatch_size=32, n_epochs=2)
    _train(learner, envs_, 600)  # the env raises IllegalActionError on an illegal move
    rng = np.random.default_rng(0)
    mask = rng.random((2000, 9)) < 0.3
    mask[np.arange(2000), rng.integers(0, 9, 2000)] = True
    obs = rng.random((2000, 3, 3, 3)).astype(np.float32)
    for deterministic in (False, True):
        actions = learner.act(obs, mask, deterministic=deterministic)
        assert mask[np.arange(2000), actions].all()


@pytest.mark.parametrize("cfg", [
    MLPConfig(4, 3, (8, 8), "tanh"), MLPConfig(4, 3, (), "relu"), MLPConfig(4, 3, (8,), "relu", norm="layer"),
    MLPConfig(4, 3, (8, 8), "tanh", residual=True), MLPConfig(4, 3, (8,), "tanh", output_activation="tanh"),
])
def test_run_chain_is_the_mlp_forward(cfg: MLPConfig) -> None:
    torch.manual_seed(0)
    mlp, x = MLP(cfg), torch.randn(5, 4)
    chain = layer_chain(mlp)
    assert (chain is None) == cfg.residual
    torch.testing.assert_close(run_chain(mlp, chain, x), mlp(x), rtol=0, atol=0)


def test_update_statistics_and_a_full_batch_step_by_hand() -> None:
    # A full-batch update (minibatch = rollout) takes n_epochs steps on the same batch; the stats
    # come back as floats and the first step's ratio is 1 (nothing clipped, KL 0).
    envs_ = gymnasium.make_vec("CartPole-v1", num_envs=4, vectorization_mode="vector_entry_point")
    learner = _learner("ppo", envs_, n_steps=8, minibatch_size=64, n_epochs=1)
    stats = learner.learn(envs_)
    assert stats["env_steps"] == 32 and stats["approx_kl"] == pytest.approx(0.0, abs=1e-6)
    assert stats["clip_fraction"] == 0.0
    assert all(isinstance(stats[k], float) for k in ("loss", "policy_loss", "value_loss", "entropy"))
    assert stats["entropy"] == pytest.approx(math.log(2), abs=0.01)  # near-uniform policy at init


def test_gaussian_log_prob_matches_torch_normal() -> None:
    envs_ = gymnasium.make_vec("Pendulum-v1", num_envs=2, vectorization_mode="sync")
    learner = _learner("ppo", envs_, init_log_std=-0.5)
    obs = torch.randn(64, 3)
    action, env_action, log_prob = learner._sample(obs, None, deterministic=False)
    mean, log_std = learner.policy(obs)
    expected = torch.distributions.Normal(mean, log_std.exp()).log_prob(action).sum(-1)
    torch.testing.assert_close(log_prob, expected)
    assert env_action.shape == (64, 1) and np.abs(env_action).max() <= 2.0  # clipped to the bounds


def test_pendulum_continuous_path_runs_with_finite_loss() -> None:
    envs_ = gymnasium.make_vec("Pendulum-v1", num_envs=2, vectorization_mode="sync")
    learner = _learner("ppo", envs_, n_steps=200, minibatch_size=100, n_epochs=2, clip_value=0.2)
    returns, stats = _train(learner, envs_, 800)
    assert len(returns) == 4 and all(math.isfinite(s["loss"]) for s in stats)
    actions = learner.act(np.zeros((3, 3), np.float32))
    assert actions.shape == (3, 1) and actions.dtype == np.float32


@pytest.mark.parametrize("name", ["reinforce", "a2c", "ppo"])
def test_state_tensors_round_trip_gives_identical_actions(name: str) -> None:
    overrides = {"n_steps": 64, **({"minibatch_size": 64} if name == "ppo" else {})}
    envs_ = gymnasium.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync")
    learner = _learner(name, envs_, **overrides)
    _train(learner, envs_, 300)
    tensors = learner.state_tensors()
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    fresh = _learner(name, envs_, **overrides)  # same seed (a resumed run keeps it), untrained weights
    obs = np.random.default_rng(0).normal(size=(256, 4)).astype(np.float32)
    assert not np.array_equal(fresh.act(obs, deterministic=False), learner.act(obs, deterministic=False))
    fresh.load_state_tensors(tensors)
    learner.load_state_tensors(tensors)  # rewinds the generator; both restart their envs next
    np.testing.assert_array_equal(fresh.act(obs, deterministic=False), learner.act(obs, deterministic=False))
    # Optimizer, counters and generator too: one more update on fresh envs gives identical weights.
    for lrn in (learner, fresh):
        lrn.learn(gymnasium.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync"))
    assert fresh.env_steps == learner.env_steps and fresh.updates == learner.updates
    after = fresh.state_tensors()
    for key, value in learner.state_tensors().items():
        torch.testing.assert_close(after[key], value, msg=key)


def test_config_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match="baseline=True"):
        PGConfig(algorithm="a2c", baseline=False)
    with pytest.raises(ValueError, match="unknown ppo config fields"):
        make_learner("ppo", {"lr": 1e-3}, gymnasium.spaces.Box(-1, 1, (2,)), gymnasium.spaces.Discrete(2), 1, CPU, 0)
    with pytest.raises(ValueError, match="choose one of"):
        default_config("dqn")


# -- learning ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "steps", "overrides", "threshold", "autoreset_mode"), [
    ("ppo", 15_000, PPO_CARTPOLE, 100.0, AutoresetMode.NEXT_STEP),
    ("ppo", 15_000, PPO_CARTPOLE, 100.0, AutoresetMode.SAME_STEP),
    ("a2c", 15_000, {}, 100.0, AutoresetMode.NEXT_STEP),
    ("reinforce", 25_000, {}, 40.0, AutoresetMode.NEXT_STEP),
    ("reinforce", 25_000, {"baseline": True}, 40.0, AutoresetMode.NEXT_STEP),
])
def test_cartpole_improves_well_above_random(
    name: str, steps: int, overrides: dict, threshold: float, autoreset_mode: AutoresetMode,
) -> None:
    # A uniformly random policy averages about 22 on CartPole-v1.
    envs_ = gymnasium.make_vec("CartPole-v1", num_envs=8, vectorization_mode="sync",
                               vector_kwargs={"autoreset_mode": autoreset_mode})
    returns, _ = _train(_learner(name, envs_, **overrides), envs_, steps)
    assert np.mean(returns[:20]) < 35.0
    assert np.mean(returns[-20:]) > threshold, returns[-20:]
