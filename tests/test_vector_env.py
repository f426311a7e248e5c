"""The Gymnasium VectorEnv over the batched state (envs/vector.py).

Gymnasium has no ``check_env`` for vector envs; what applies is ``make_vec`` with the
registered vector entry point, the ``autoreset_mode`` metadata, and Gymnasium's own vector
wrappers and throughput benchmark, which read that metadata. The core check is that the
batched env plays exactly the trajectories of B separate single envs.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.performance import benchmark_vector_step
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import DictInfoToList, RecordEpisodeStatistics, TransformObservation

import envs  # noqa: F401  (registers the ids)
from envs.core import IllegalActionError
from envs.gym import GoEnv, TicTacToeEnv
from envs.vector import GoVectorEnv, TicTacToeVectorEnv


def highest_legal(game, state) -> int:
    """A deterministic bot: the legal action with the largest index."""
    return int(state.legal_action_mask[0].nonzero()[-1, 0])


def varied_legal(game, state) -> int:
    """A deterministic bot that still spreads its moves (a function of the position only)."""
    legal = state.legal_action_mask[0].nonzero()[:, 0].tolist()
    key = int(state.move_count[0]) * 7 + int(state.board[0].abs().sum()) * 3
    return legal[key % len(legal)]


def legal_choices(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly random legal action per row of int8 ``masks`` [B, A] (0 where none)."""
    return np.array([rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in masks])


def test_make_vec_uses_the_batched_env_with_next_step_autoreset():
    for env_id, kwargs, cls, A in [
        ("arena/TicTacToe-v0", {}, TicTacToeVectorEnv, 9),
        ("arena/Go-v0", {"size": 5}, GoVectorEnv, 26),
    ]:
        vec = gymnasium.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
        assert isinstance(vec, cls) and vec.num_envs == 3
        assert vec.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
        C, N, _ = vec.game.observation_shape
        obs, info = vec.reset(seed=0)
        assert obs.shape == (3, C, N, N) == vec.observation_space.shape and obs.dtype == np.float32
        assert vec.single_observation_space.shape == (C, N, N) and vec.single_action_space.n == A
        assert info["action_mask"].shape == (3, A) and info["action_mask"].dtype == np.int8
        obs, rewards, terminated, truncated, info = vec.step(vec.action_space.sample())
        assert obs in vec.observation_space
        assert rewards.shape == terminated.shape == truncated.shape == (3,)
        assert rewards.dtype == np.float64 and terminated.dtype == truncated.dtype == np.bool_
        vec.close()


@pytest.mark.parametrize("agent_color", [0, 1])
@pytest.mark.parametrize(
    ("vector_cls", "single_cls", "kwargs", "bot"),
    [
        (TicTacToeVectorEnv, TicTacToeEnv, {}, highest_legal),
        (TicTacToeVectorEnv, TicTacToeEnv, {}, varied_legal),
        (GoVectorEnv, GoEnv, {"size": 5, "max_moves": 14}, varied_legal),
    ],
)
def test_vector_env_plays_the_same_games_as_separate_single_envs(vector_cls, single_cls, kwargs, bot, agent_color):
    B = 6
    vec = vector_cls(num_envs=B, opponent=bot, agent_color=agent_color, **kwargs)
    singles = [single_cls(opponent=bot, agent_color=agent_color, **kwargs) for _ in range(B)]
    obs, info = vec.reset(seed=0)
    firsts = [env.reset(seed=i) for i, env in enumerate(singles)]
    np.testing.assert_array_equal(obs, np.stack([o for o, _ in firsts]))
    np.testing.assert_array_equal(info["action_mask"], np.stack([i["action_mask"] for _, i in firsts]))
    rng = np.random.default_rng(1)
    ended = np.zeros(B, dtype=bool)
    episodes = 0
    for _ in range(30):
        actions = legal_choices(rng, info["action_mask"])
        obs, rewards, terminated, truncated, info = vec.step(actions)
        for i, env in enumerate(singles):
            if ended[i]:  # NEXT_STEP: this step starts game i again and ignores its action
                o, single_info = env.reset()
                r, t = 0.0, False
            else:
                o, r, t, _, single_info = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], o)
            np.testing.assert_array_equal(info["action_mask"][i], single_info["action_mask"])
            assert (rewards[i], terminated[i], truncated[i]) == (r, t, False)
        episodes += int(terminated.sum())
        ended = terminated
    assert episodes >= B  # the run covered game ends and resets, not just openings


def test_autoreset_starts_a_new_game_on_the_next_step_and_ignores_its_action():
    vec = TicTacToeVectorEnv(num_envs=2, opponent=highest_legal)
    vec.reset(seed=0)
    vec.step(np.array([0, 0]))  # both: X0, O8
    vec.step(np.array([1, 1]))  # both: X1, O7
    obs, rewards, terminated, _, info = vec.step(np.array([2, 6]))  # game 0: X wins; game 1: X blocks, O5
    np.testing.assert_array_equal(rewards, [1.0, 0.0])
    np.testing.assert_array_equal(terminated, [True, False])
    assert not info["action_mask"][0].any() and obs[0, 0].reshape(-1).tolist()[:3] == [1.0, 1.0, 1.0]
    obs, rewards, terminated, _, info = vec.step(np.array([8, 2]))  # 8 is taken in game 0: ignored
    np.testing.assert_array_equal(rewards, [0.0, 1.0])
    np.testing.assert_array_equal(terminated, [False, True])
    assert vec.state.board[0].abs().sum() == 0 and info["action_mask"][0].all()
    assert obs[0, :2].sum() == 0  # an empty board from the agent's side
    obs, rewards, terminated, _, info = vec.step(np.array([4, 3]))
    np.testing.assert_array_equal(rewards, [0.0, 0.0])
    assert vec.state.board[0, 4] == 1 and vec.state.board[1].abs().sum() == 0


def test_illegal_actions_and_bad_shapes_raise():
    vec = TicTacToeVectorEnv(num_envs=3, opponent=highest_legal)
    vec.reset(seed=0)
    vec.step(np.array([0, 1, 2]))  # the opponent answers 8 everywhere
    with pytest.raises(IllegalActionError, match="illegal move C1"):
        vec.step(np.array([3, 8, 4]))
    with pytest.raises(ValueError, match="3 actions"):
        vec.step(np.array([3, 4]))


def test_a_bot_returning_an_illegal_move_is_reported_as_the_opponents():
    vec = TicTacToeVectorEnv(num_envs=2, opponent=lambda game, state: 0)
    vec.reset(seed=0)
    with pytest.raises(IllegalActionError, match="opponent"):
        vec.step(np.array([0, 0]))


def test_callable_opponents_are_asked_only_where_they_are_to_move():
    calls = []

    def bot(game, state):
        calls.append(int(state.move_count[0]))
        return highest_legal(game, state)

    vec = TicTacToeVectorEnv(num_envs=4, opponent=bot, agent_color=0)
    vec.reset(seed=0)
    assert calls == []
    vec.step(np.array([0, 1, 2, 3]))
    assert calls == [1, 1, 1, 1]
    calls.clear()
    TicTacToeVectorEnv(num_envs=4, opponent=bot, agent_color=1).reset(seed=0)
    assert calls == [0, 0, 0, 0]


@pytest.mark.parametrize("vector_cls, kwargs", [(TicTacToeVectorEnv, {}), (GoVectorEnv, {"size": 5, "max_moves": 10})])
def test_seeded_reset_reproduces_trajectories(vector_cls, kwargs):
    def trajectory(seed):
        vec = vector_cls(num_envs=8, opponent="random", agent_color="random", **kwargs)
        obs, info = vec.reset(seed=seed)
        rng = np.random.default_rng(0)
        trace = [obs, info["agent_color"]]
        for _ in range(12):
            obs, rewards, terminated, _, info = vec.step(legal_choices(rng, info["action_mask"]))
            trace += [obs, rewards, terminated, info["agent_color"]]
        return trace

    first, again, other = trajectory(5), trajectory(5), trajectory(6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_minimax_opponent_never_loses_in_the_batch():
    vec = TicTacToeVectorEnv(num_envs=16, opponent="minimax", agent_color="random")
    _, info = vec.reset(seed=0)
    rng = np.random.default_rng(0)
    rewards = []
    for _ in range(25):
        _, r, _, _, info = vec.step(legal_choices(rng, info["action_mask"]))
        rewards.append(r)
    rewards = np.concatenate(rewards)
    assert rewards.max() <= 0.0 and rewards.min() == -1.0


def test_gymnasium_vector_wrappers_read_our_autoreset_and_infos():
    vec = RecordEpisodeStatistics(TicTacToeVectorEnv(num_envs=4, opponent=highest_legal))
    _, info = vec.reset(seed=0)
    rng = np.random.default_rng(2)
    returns, lengths = np.zeros(4), np.zeros(4, dtype=int)
    finished = np.zeros(4, dtype=bool)
    seen = 0
    for _ in range(20):
        _, r, terminated, _, info = vec.step(legal_choices(rng, info["action_mask"]))
        returns = np.where(finished, 0.0, returns) + r
        lengths = np.where(finished, 0, lengths) + (~finished)
        if terminated.any():
            np.testing.assert_allclose(info["episode"]["r"][terminated], returns[terminated])
            np.testing.assert_array_equal(info["episode"]["l"][terminated], lengths[terminated])
            seen += int(terminated.sum())
        finished = terminated
    assert seen >= 4
    listed = DictInfoToList(TicTacToeVectorEnv(num_envs=2))
    _, infos = listed.reset(seed=0)
    assert isinstance(infos, list) and infos[1]["action_mask"].shape == (9,) and infos[1]["agent_color"] == 0
    flipped = TransformObservation(TicTacToeVectorEnv(num_envs=2), lambda o: 1.0 - o)  # needs NEXT_STEP
    obs, _ = flipped.reset(seed=0)
    assert obs.min() == 0.0 and obs[:, :2].min() == 1.0  # empty board planes flipped to ones


def test_gymnasium_benchmark_runs_with_legal_samples():
    vec = TicTacToeVectorEnv(num_envs=64)
    assert benchmark_vector_step(vec, target_duration=0.2, seed=0) > 0


def test_render_gives_one_frame_per_game():
    vec = TicTacToeVectorEnv(num_envs=3, render_mode="ansi", opponent=highest_legal)
    vec.reset(seed=0)
    vec.step(np.array([0, 4, 2]))
    texts = vec.render()
    assert len(texts) == 3 and "3  X . ." in texts[0] and "2  . X ." in texts[1]
    frames = GoVectorEnv(num_envs=2, size=5, render_mode="rgb_array")
    frames.reset(seed=0)
    assert [f.shape for f in frames.render()] == [(160, 160, 3)] * 2


def test_go_vector_env_keeps_a_move_cap():
    with pytest.raises(ValueError, match="move cap"):  # rows of one batch share one history width
        GoVectorEnv(num_envs=2, size=5, max_moves=0)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_tensors_live_on_the_requested_device(device):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    vec = GoVectorEnv(num_envs=4, size=5, max_moves=8, device=device)
    _, info = vec.reset(seed=0)
    assert vec.state.board.device.type == device and vec.agent_color.device.type == device
    rng = np.random.default_rng(0)
    for _ in range(10):
        obs, rewards, terminated, _, info = vec.step(legal_choices(rng, info["action_mask"]))
        assert isinstance(obs, np.ndarray) and isinstance(rewards, np.ndarray)


@pytest.mark.gpu
def test_cuda_plays_the_same_games_as_the_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    for cls, kwargs in [(TicTacToeVectorEnv, {}), (GoVectorEnv, {"size": 5, "max_moves": 14})]:
        cpu = cls(num_envs=6, opponent=varied_legal, agent_color=1, device="cpu", **kwargs)
        gpu = cls(num_envs=6, opponent=varied_legal, agent_color=1, device="cuda", **kwargs)
        (obs_c, info_c), (obs_g, info_g) = cpu.reset(seed=0), gpu.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(30):
            np.testing.assert_array_equal(obs_c, obs_g)
            np.testing.assert_array_equal(info_c["action_mask"], info_g["action_mask"])
            actions = legal_choices(rng, info_c["action_mask"])
            obs_c, r_c, t_c, _, info_c = cpu.step(actions)
            obs_g, r_g, t_g, _, info_g = gpu.step(actions)
            np.testing.assert_array_equal(r_c, r_g)
            np.testing.assert_array_equal(t_c, t_g)
    single = TicTacToeEnv(opponent="minimax", device="cuda")  # minimax draws its tie-breaks on CUDA
    for seed in range(5):
        single.reset(seed=seed)
        done = False
        while not done:
            _, reward, done, _, _ = single.step(single.action_space.sample())
        assert reward <= 0.0
    vec = TicTacToeVectorEnv(num_envs=32, opponent="random", agent_color="random", device="cuda")
    _, info = vec.reset(seed=0)
    for _ in range(12):
        _, _, _, _, info = vec.step(vec.action_space.sample())
