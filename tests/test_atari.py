"""Atari through the ALE (``pip install "arena[atari]"``): the DQN pipeline's env, the conv Q
network, and a short ``arena train ALE/Pong-v5 --agent dqn`` run with a resume. Skipped without
ale-py and OpenCV, except the checks that need neither."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

import arena.rl.loop as rl
from arena.io.checkpoint import load_tensors
from agents.dqn import DQNConfig, DQNLearner, QNetwork

PONG = "ALE/Pong-v5"
TINY = {"hidden": [32], "buffer_size": 1_000, "learning_starts": 100, "train_frequency": 4, "gradient_steps": 1,
        "batch_size": 8, "exploration_steps": 200, "eval_every": 200, "eval_episodes": 1,
        "checkpoint_replay": True}  # the table's Pong row leaves its 5.6 GB replay out of checkpoints


@pytest.fixture
def ale() -> None:
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")


def test_pong_env_is_the_dqn_pipeline(ale: None) -> None:
    settings, config = rl.resolve_settings(PONG, "dqn", 1_000, 0, "cpu", {"num_envs": 2})
    assert settings.env_kwargs == {"frameskip": 1, "repeat_action_probability": 0.25}
    assert config["hidden"] == [512] and config["buffer_size"] == 100_000
    env = rl.make_env(settings)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (4, 84, 84) and env.observation_space.dtype == np.uint8
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and env.action_space.n == 6
    obs, *_ = env.step(0)
    assert obs.shape == (4, 84, 84) and obs.max() > 0
    env.close()
    assert rl.vector_mode(dataclasses.replace(settings, agent="ppo")) == "sync"  # never the ALE's own batched env
    envs = rl.make_vector_env(settings)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert envs.metadata["autoreset_mode"] is gymnasium.vector.AutoresetMode.SAME_STEP
    envs.close()


def test_sticky_actions_come_from_the_table() -> None:
    settings, _ = rl.resolve_settings(PONG, "dqn", 1_000, 0, "cpu", {"repeat_action_probability": 0.0})
    assert settings.env_kwargs["repeat_action_probability"] == 0.0
    with pytest.raises(ValueError, match="RAM observations"):
        rl.resolve_settings("ALE/Pong-ram-v5", "dqn", 1_000, 0, "cpu")


def test_conv_q_network_and_uint8_replay() -> None:
    """Images (uint8 [C, H, W]) get the Nature tower; the replay keeps them as uint8."""
    net = QNetwork(4 * 84 * 84, 6, (512,), dueling=True, image_shape=(4, 84, 84))
    assert net.tower is not None and net.tower.out_features == 3136
    q = net(torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8))
    assert q.shape == (5, 6) and q.dtype == torch.float32
    assert QNetwork(27, 9, (32,), dueling=False, image_shape=(3, 40, 40))(torch.zeros(2, 3, 40, 40)).shape == (2, 9)
    space = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    learner = DQNLearner(DQNConfig(hidden=(16,), buffer_size=64, batch_size=8), space,
                         gymnasium.spaces.Discrete(6), num_envs=1)
    assert learner.q.tower is not None
    assert learner.new_replay_buffer(masks=False).obs.dtype == np.uint8
    board = gymnasium.spaces.Box(0.0, 1.0, (3, 3, 3), np.float32)  # our games' float planes stay an MLP
    assert DQNLearner(DQNConfig(hidden=(16,)), board, gymnasium.spaces.Discrete(9), 1).q.tower is None


def test_short_pong_run_writes_a_run_folder_and_resumes(ale: None, tmp_path: Path) -> None:
    run = tmp_path / "run"
    final = rl.train_rl(PONG, "dqn", steps=200, seed=0, device="cpu", run_dir=run, overrides=TINY, progress=False)
    assert final["step"] == 200 and "loss" in final
    config = json.loads((run / "config.json").read_text())
    assert config["env_kwargs"]["frameskip"] == 1 and config["config"]["buffer_size"] == 1_000
    assert (run / "checkpoints" / "latest.safetensors").exists()
    state = load_tensors(run / "checkpoints" / "trainer.safetensors")
    assert state["learner.replay.obs"].dtype == torch.uint8
    assert state["learner.replay.obs"].shape[1:] == (1, 4, 84, 84)
    assert rl.resolve_settings(PONG, "dqn", None, 0, "cpu")[1]["checkpoint_replay"] is False
    final = rl.train_rl(PONG, "dqn", steps=300, run_dir=run, resume=True, progress=False)
    assert final["step"] == 300
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [0, 200, 300]


def test_missing_ale_py_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ale_py", None)  # makes `import ale_py` fail
    with pytest.raises(ValueError, match=r'pip install "arena\[atari\]"'):
        rl.train_rl(PONG, "dqn", steps=10, run_dir=tmp_path / "x", progress=False)

