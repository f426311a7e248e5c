"""Gymnasium ``render_mode="human"`` (envs/gym.py + envs.render.HumanWindow), headless: the
window shows exactly the ``rgb_array`` frame, after every reset and step, at render_fps."""

from __future__ import annotations

import time

import gymnasium
import numpy as np
import pytest

import envs  # noqa: F401  (registers the arena/... ids)
from envs.gym import render_frame
from envs.render import HumanWindow


def fast(env: gymnasium.Env) -> gymnasium.Env:
    """The same env with a high frame rate, so tests do not wait at 2 frames a second."""
    env.unwrapped.metadata = {**env.unwrapped.metadata, "render_fps": 1000}
    return env


@pytest.mark.parametrize("env_id, kwargs", [("arena/TicTacToe-v0", {}), ("arena/Go-v0", {"size": 5})])
def test_human_window_shows_the_rgb_array_frame(env_id: str, kwargs: dict) -> None:
    env = fast(gymnasium.make(env_id, render_mode="human", **kwargs))
    assert "human" in env.metadata["render_modes"]
    env.reset(seed=0)
    done, frames = False, 0
    while not done:
        _, _, done, _, _ = env.step(env.action_space.sample())
        u = env.unwrapped
        shown = u._window.pixels()
        assert np.array_equal(shown, render_frame(u.game, u.state, "rgb_array"))
        frames += 1
    assert env.render() is None  # human mode draws, returns nothing
    assert frames >= 3 and u._window.surface.get_size() == shown.shape[1::-1]
    env.close()
    assert u._window is None


def test_render_fps_is_respected() -> None:
    env = gymnasium.make("arena/TicTacToe-v0", render_mode="human")
    env.unwrapped.metadata = {**env.unwrapped.metadata, "render_fps": 20}
    env.reset(seed=0)
    start = time.monotonic()
    env.step(int(np.flatnonzero(env.unwrapped.action_masks())[0]))
    env.step(int(np.flatnonzero(env.unwrapped.action_masks())[0]))
    assert time.monotonic() - start >= 2 / 20 * 0.8
    env.close()


def test_human_window_alone() -> None:
    window = HumanWindow("test", fps=0)
    assert window.pixels().shape == (0, 0, 3)
    frame = np.zeros((40, 60, 3), dtype=np.uint8)
    frame[10:20, 5:50] = (200, 50, 50)
    window.show(frame)
    assert np.array_equal(window.pixels(), frame)
    window.show(np.full((30, 30, 3), 7, dtype=np.uint8))  # another size resizes the window
    assert window.pixels().shape == (30, 30, 3)
    window.close()
