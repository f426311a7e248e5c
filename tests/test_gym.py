"""The Gymnasium single-agent faces (envs/gym.py) and their pictures (envs/render.py).

Library checkers (Gymnasium's and SB3's ``check_env``) run over every registered id; the
rest are hand-played games with scripted opponents whose outcomes are derived by hand.
"""

from __future__ import annotations

import time
import warnings

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers the ids)
from envs.core import GameFinishedError, IllegalActionError
from envs.gym import ENTRY_POINTS, BoardGameEnv, GoEnv, TicTacToeEnv, register_envs
from envs.render import BLACK_STONE, CROSS, NOUGHT, WHITE_STONE, WOOD, draw_go, draw_tictactoe

CHECKED = [
    ("arena/TicTacToe-v0", {}),
    ("arena/TicTacToe-v0", {"agent_color": 1, "opponent": "minimax"}),
    ("arena/TicTacToe-v0", {"agent_color": "random"}),
    ("arena/Go-v0", {"size": 5, "komi": 0.5}),
    ("arena/Go-v0", {}),
    ("arena/Go-v0", {"agent_color": 1}),
    ("arena/Bandit-v0", {}),
    ("arena/Bandit-v0", {"arms": 3, "kind": "bernoulli", "steps": 20}),
]
# SB3 takes any 3-d Box for an image and advises uint8 pixels; our planes are float features.
SB3_IMAGE_ADVICE = ("is an image but", "minimal resolution for an image", "Treating image space as channels-last")


def script(moves: list[int]):
    """A bot that plays ``moves`` in order (one per call), whatever the position."""
    queue = list(moves)
    return lambda game, state: queue.pop(0)


def highest_legal(game, state) -> int:
    """A deterministic bot: the legal action with the largest index."""
    return int(state.legal_action_mask[0].nonzero()[-1, 0])


def play(env: BoardGameEnv, actions: list[int]) -> list[tuple[float, bool]]:
    """Step ``actions``; the (reward, terminated) of each step."""
    return [env.step(a)[1:3] for a in actions]


# ----- registration and the library checkers ---------------------------------------------


def test_ids_are_registered_with_string_entry_points_and_registering_again_is_silent():
    for env_id, (entry_point, _) in ENTRY_POINTS.items():
        spec = gymnasium.spec(env_id)
        assert spec.entry_point == entry_point and isinstance(spec.entry_point, str)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_envs()


@pytest.mark.parametrize(("env_id", "kwargs"), CHECKED)
def test_gymnasium_check_env_passes_without_warnings(env_id, kwargs):
    env = gymnasium.make(env_id, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize(("env_id", "kwargs"), CHECKED)
def test_sb3_check_env_passes(env_id, kwargs):
    env = gymnasium.make(env_id, **kwargs).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env)
    other = [str(w.message) for w in caught if not any(s in str(w.message) for s in SB3_IMAGE_ADVICE)]
    assert other == []


def test_make_passes_game_kwargs():
    env = gymnasium.make("arena/Go-v0", size=5, komi=0.5, max_moves=12)
    assert env.unwrapped.game.board_size == 5 and env.unwrapped.game.komi == 0.5
    assert env.observation_space.shape == env.unwrapped.game.observation_shape
    assert env.observation_space.shape[1:] == (5, 5)
    assert env.action_space.n == 26
    bandit = gymnasium.make("arena/Bandit-v0", arms=4, steps=7)
    assert bandit.action_space.n == 4 and bandit.unwrapped.steps == 7


# ----- tic-tac-toe: rewards from the agent's side, masks, observations -----------------------


@pytest.mark.parametrize(
    ("agent_color", "agent_moves", "opponent_moves", "final_reward"),
    [
        (0, [0, 1, 2], [8, 7], 1.0),  # X completes the top row
        (0, [0, 3, 1], [8, 7, 6], -1.0),  # O completes the bottom row on its reply
        (1, [0, 1], [8, 7, 6], -1.0),  # agent O: X (the opponent) completes the bottom row
        (1, [2, 4, 6], [0, 1, 3], 1.0),  # agent O completes the 2-4-6 diagonal
        (0, [0, 2, 7, 3, 8], [1, 4, 6, 5], 0.0),  # X O X / X O O / O X X: a draw
    ],
)
def test_reward_is_from_the_agents_side(agent_color, agent_moves, opponent_moves, final_reward):
    env = TicTacToeEnv(opponent=script(opponent_moves), agent_color=agent_color)
    obs, info = env.reset(seed=0)
    assert info["agent_color"] == agent_color
    outcomes = play(env, agent_moves)
    assert outcomes[:-1] == [(0.0, False)] * (len(agent_moves) - 1)
    assert outcomes[-1] == (final_reward, True)
    assert not env.action_masks().any()


def test_mask_and_observation_follow_the_board_from_the_agents_side():
    for color, agent_mark in ((0, 1), (1, -1)):
        env = TicTacToeEnv(opponent=highest_legal, agent_color=color)
        obs, info = env.reset(seed=0)
        obs, _, _, _, info = env.step(0)
        board = env.state.board[0].numpy()
        assert obs.dtype == np.float32 and obs.shape == (3, 3, 3) and env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs[0].reshape(-1), board == agent_mark)  # own marks
        np.testing.assert_array_equal(obs[1].reshape(-1), board == -agent_mark)  # opponent's
        assert info["action_mask"].dtype == np.int8
        np.testing.assert_array_equal(info["action_mask"], board == 0)
        np.testing.assert_array_equal(env.action_masks(), board == 0)
        assert env.action_masks().dtype == np.bool_


def test_illegal_actions_raise_the_games_error():
    env = TicTacToeEnv(opponent=script([8]))
    env.reset(seed=0)
    env.step(4)
    with pytest.raises(IllegalActionError, match="illegal move C1"):
        env.step(8)  # the opponent's cell
    with pytest.raises(IllegalActionError, match="illegal move"):
        env.step(9)
    with pytest.raises(TypeError):
        env.step(1.5)
    env = TicTacToeEnv(opponent=script([3, 4]))
    env.reset(seed=0)
    play(env, [0, 1, 2])
    with pytest.raises(GameFinishedError):
        env.step(5)


def test_a_bot_returning_an_illegal_move_is_reported_as_the_opponents():
    env = TicTacToeEnv(opponent=lambda game, state: 0)
    env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="opponent chose an illegal move: tictactoe: illegal move A3"):
        env.step(0)


def test_action_space_sample_draws_legal_actions_but_contains_every_index():
    env = TicTacToeEnv(opponent="random")
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(3):
        legal = env.action_masks()
        assert all(legal[env.action_space.sample()] for _ in range(20))
        if env.step(env.action_space.sample())[2]:
            break
    assert all(env.action_space.contains(a) for a in range(9))


def test_seeded_reset_reproduces_episodes():
    def episode(env, seed):
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        trace = [(obs.tobytes(), info["agent_color"])]
        done = False
        while not done:
            obs, reward, done, _, _ = env.step(env.action_space.sample())
            trace.append((obs.tobytes(), reward))
        return trace

    env = TicTacToeEnv(opponent="random", agent_color="random")
    assert episode(env, 7) == episode(TicTacToeEnv(opponent="random", agent_color="random"), 7)
    assert episode(env, 7) == episode(env, 7)
    traces = {tuple(episode(env, seed)) for seed in range(12)}
    colors = {TicTacToeEnv(agent_color="random").reset(seed=s)[1]["agent_color"] for s in range(12)}
    assert len(traces) > 1 and colors == {0, 1}


def test_agent_playing_second_sees_the_opponents_opening():
    env = TicTacToeEnv(opponent=script([4]), agent_color=1)
    obs, info = env.reset(seed=0)
    assert int(env.state.board[0, 4]) == 1 and info["action_mask"][4] == 0
    assert obs[1].reshape(-1)[4] == 1.0 and obs[0].sum() == 0  # X's mark is the opponent's


@pytest.mark.parametrize("agent_color", [0, 1])
def test_minimax_opponent_never_loses(agent_color):
    env = TicTacToeEnv(opponent="minimax", agent_color=agent_color)
    env.action_space.seed(agent_color)
    results = []
    for seed in range(150):
        env.reset(seed=seed)
        done = False
        while not done:
            _, reward, done, _, _ = env.step(env.action_space.sample())
        results.append(reward)
    assert max(results) <= 0.0
    assert min(results) == -1.0  # a random agent does lose to it


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="minimax"):
        GoEnv(size=5, opponent="minimax")
    with pytest.raises(ValueError, match="agent_color"):
        TicTacToeEnv(agent_color=2)
    with pytest.raises(ValueError, match="opponent"):
        TicTacToeEnv(opponent="best")
    with pytest.raises(ValueError, match="render_mode"):
        TicTacToeEnv(render_mode="video")


# ----- rendering ------------------------------------------------------------------------------


def test_tictactoe_render_modes():
    env = TicTacToeEnv(opponent=script([8]), render_mode="ansi")
    env.reset(seed=0)
    env.step(0)
    text = env.render()
    assert "A B C" in text and "3  X . ." in text and "1  . . O" in text
    env = TicTacToeEnv(opponent=script([8]), render_mode="rgb_array")
    env.reset(seed=0)
    empty = env.render()
    env.step(0)
    frame = env.render()
    assert frame.shape == (192, 192, 3) and frame.dtype == np.uint8
    assert not np.array_equal(frame, empty)


def test_draw_tictactoe_puts_marks_in_their_cells():
    img = draw_tictactoe([1, 0, 0, 0, -1, 0, 0, 0, 0], 90)  # X top-left, O in the centre
    assert img.shape == (90, 90, 3) and img.dtype == np.uint8
    cell = lambda r, c: img[r * 30:(r + 1) * 30, c * 30:(c + 1) * 30].reshape(-1, 3)  # noqa: E731
    has = lambda block, color: bool((block == color).all(axis=1).any())  # noqa: E731
    assert has(cell(0, 0), CROSS) and not has(cell(0, 0), NOUGHT)
    assert has(cell(1, 1), NOUGHT) and not has(cell(1, 1), CROSS)
    assert not has(cell(2, 2), CROSS) and not has(cell(2, 2), NOUGHT)
    with pytest.raises(ValueError):
        draw_tictactoe([0] * 8)


def test_draw_go_puts_stones_on_their_points():
    board = np.zeros(25, dtype=np.int8)
    board[0], board[12] = 1, -1  # black at the top-left point, white in the centre
    img = draw_go(board, 5, 100)  # 20 px per point; point (r, c) is centred at (20r + 10, 20c + 10)
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    assert tuple(img[10, 10]) == BLACK_STONE and tuple(img[50, 50]) == WHITE_STONE
    assert tuple(img[1, 1]) == WOOD  # the corner, outside the top-left stone's disc


# ----- Go ---------------------------------------------------------------------------------


def test_go_scores_from_the_agents_side():
    pass_move = 25
    env = GoEnv(size=5, komi=7.5, opponent=script([pass_move] * 3), agent_color=0)
    env.reset(seed=0)
    assert env.step(pass_move)[1:3] == (-1.0, True)  # empty board: white wins by komi
    env.reset(seed=0)
    assert env.step(12)[1:3] == (0.0, False)  # black stone; opponent passes
    assert env.step(pass_move)[1:3] == (1.0, True)  # black owns all 25 points: B+17.5
    env = GoEnv(size=5, komi=7.5, opponent=script([pass_move]), agent_color=1)
    env.reset(seed=0)
    assert env.step(pass_move)[1:3] == (1.0, True)  # agent is white: W+7.5


def test_go_illegal_move_render_and_observation():
    env = GoEnv(size=5, opponent=highest_legal, render_mode="ansi")
    obs, info = env.reset(seed=0)
    assert obs.shape == env.game.observation_shape and info["action_mask"].shape == (26,)
    obs, _, _, _, info = env.step(0)  # A5; the bot passes (its highest legal action)
    assert info["action_mask"][0] == 0 and info["action_mask"][25] == 1
    assert obs[0].reshape(-1)[0] == 1.0  # own stone, from black's side
    with pytest.raises(IllegalActionError, match="illegal move A5"):
        env.step(0)
    text = env.render()
    assert "A B C D E" in text and " 5 X . . . ." in text
    env = GoEnv(size=5, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (160, 160, 3) and frame.dtype == np.uint8


# ----- the bandit ---------------------------------------------------------------------------


def test_bandit_rewards_truncation_and_seeding():
    env = gymnasium.make("arena/Bandit-v0", arms=4, steps=5, noise_std=0.0).unwrapped
    obs, info = env.reset(seed=11)
    q = env.state.q_star[0].clone()
    assert obs == 0 and info["optimal_action"] == int(q.argmax())
    for t in range(5):
        arm = t % 4
        obs, reward, terminated, truncated, info = env.step(arm)
        assert reward == pytest.approx(float(q[arm])) == pytest.approx(info["expected_reward"])
        assert not terminated and truncated == (t == 4)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    with pytest.raises(ValueError, match="out of range"):
        env.reset(seed=11)
        env.step(4)
    again = gymnasium.make("arena/Bandit-v0", arms=4, steps=5, noise_std=0.0).unwrapped
    again.reset(seed=11)
    assert torch.equal(again.state.q_star, env.state.q_star)
    again.reset(seed=12)
    assert not torch.equal(again.state.q_star, env.state.q_star)


def test_bandit_bernoulli_pays_zero_or_one():
    env = gymnasium.make("arena/Bandit-v0", arms=3, kind="bernoulli", steps=50, render_mode="ansi").unwrapped
    env.reset(seed=0)
    rewards = {env.step(t % 3)[1] for t in range(50)}
    assert rewards <= {0.0, 1.0} and len(rewards) == 2
    assert "pull 50/50" in env.render()


# ----- learning: sb3-contrib's MaskablePPO beats the random opponent -----------------------


@pytest.mark.slow
def test_maskable_ppo_beats_the_random_opponent():
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    start = time.perf_counter()
    vec = make_vec_env("arena/TicTacToe-v0", n_envs=8, seed=0, env_kwargs={"opponent": "random"})
    model = MaskablePPO(
        "MlpPolicy", vec, n_steps=128, batch_size=256, n_epochs=4, learning_rate=1e-3,
        ent_coef=0.01, gamma=0.99, policy_kwargs={"net_arch": [128, 128]}, seed=0, verbose=0,
    )
    model.learn(total_timesteps=60_000)
    env = TicTacToeEnv(opponent="random")
    wins = 0
    games = 500
    for seed in range(games):
        obs, _ = env.reset(seed=10_000 + seed)
        done = False
        while not done:
            action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
            obs, reward, done, _, _ = env.step(action)
        wins += reward == 1.0
    elapsed = time.perf_counter() - start
    print(f"MaskablePPO vs random: win rate {wins / games:.3f} in {elapsed:.0f} s")
    assert wins / games >= 0.90
