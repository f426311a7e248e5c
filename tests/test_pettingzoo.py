"""The PettingZoo AEC faces (envs/pettingzoo.py): PettingZoo's own api_test and seed_test,
then hand-played games."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from envs.core import IllegalActionError
from envs.pettingzoo import go_env, go_raw_env, tictactoe_env, tictactoe_raw_env

# api_test whitelists dict observations ({"observation", "action_mask"}) by the names of
# PettingZoo's own classic envs only; for any other name it warns about the dict itself.
DICT_OBSERVATION_NOTES = ("Observation is not a NumPy array", "Observation space for each agent probably should be")

ENV_FNS = [
    pytest.param(tictactoe_env, id="tictactoe"),
    pytest.param(lambda **kw: go_env(size=5, **kw), id="go5"),
    pytest.param(go_env, id="go9"),
]


@pytest.mark.parametrize("env_fn", ENV_FNS)
def test_pettingzoo_api_test_passes(env_fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(env_fn(), num_cycles=300)
    other = {str(w.message) for w in caught if not str(w.message).startswith(DICT_OBSERVATION_NOTES)}
    assert other == set()


@pytest.mark.parametrize("env_fn", ENV_FNS)
def test_pettingzoo_seed_test_passes(env_fn):
    seed_test(env_fn, num_cycles=100)


def play(env, actions: list[int]) -> None:
    for a in actions:
        env.step(a)


def test_a_win_pays_the_winner_and_ends_the_game_for_both():
    env = tictactoe_env()
    env.reset(seed=0)
    play(env, [0, 8, 1, 7])  # X: 0 1; O: 8 7
    assert env.agent_selection == "player_0" and env.rewards == {"player_0": 0.0, "player_1": 0.0}
    env.step(2)  # X completes the top row
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}
    assert all(env.terminations.values()) and not any(env.truncations.values())
    seen = {}
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, _ = env.last()
        assert terminated and not truncated and not obs["action_mask"].any()
        seen[agent] = reward
        env.step(None)
    assert seen == {"player_1": -1.0, "player_0": 1.0} and env.agents == []


def test_draw_pays_nothing():
    env = tictactoe_env()
    env.reset()
    play(env, [0, 1, 2, 4, 7, 6, 3, 5, 8])  # X O X / X O O / O X X
    assert all(env.terminations.values())
    assert env.rewards == {"player_0": 0.0, "player_1": 0.0}


def test_observations_are_from_each_agents_side_and_only_the_mover_has_a_mask():
    env = tictactoe_env()
    env.reset()
    play(env, [0, 4])  # X top-left, O centre; X to move
    x_view, o_view = env.observe("player_0"), env.observe("player_1")
    assert x_view["observation"].dtype == np.float32 and x_view["observation"].shape == (3, 3, 3)
    assert x_view["observation"][0, 0, 0] == 1.0 and x_view["observation"][1, 1, 1] == 1.0  # own X, their O
    assert o_view["observation"][0, 1, 1] == 1.0 and o_view["observation"][1, 0, 0] == 1.0  # own O, their X
    assert x_view["action_mask"].dtype == np.int8
    np.testing.assert_array_equal(x_view["action_mask"], [0, 1, 1, 1, 0, 1, 1, 1, 1])
    assert not o_view["action_mask"].any()
    assert env.observation_space("player_1").contains(o_view)


def test_illegal_moves_raise():
    env = tictactoe_env()
    env.reset()
    env.step(4)
    with pytest.raises(IllegalActionError, match="illegal move B2"):
        env.step(4)
    env = go_env(size=5)
    env.reset()
    env.step(12)
    with pytest.raises(IllegalActionError, match="illegal move C3"):
        env.step(12)


def test_go_two_passes_score_with_komi():
    env = go_env(size=5, komi=7.5)
    env.reset()
    play(env, [25, 25])  # nothing on the board: white wins by komi
    assert env.rewards == {"player_0": -1.0, "player_1": 1.0} and all(env.terminations.values())
    env.reset()
    play(env, [12, 25, 25])  # one black stone owns the board: B+17.5
    assert env.rewards == {"player_0": 1.0, "player_1": -1.0}


def test_render_modes():
    env = tictactoe_raw_env(render_mode="ansi")
    env.reset()
    env.step(0)
    text = env.render()
    assert "A B C" in text and "3  X . ." in text and "O to move" in text
    frame = tictactoe_raw_env(render_mode="rgb_array").render()
    assert frame.shape == (192, 192, 3) and frame.dtype == np.uint8
    go = go_raw_env(size=5, render_mode="ansi")
    go.reset()
    go.step(0)
    assert " 5 X . . . ." in go.render()
    assert tictactoe_raw_env().render() is None
