"""The RL run folder (arena/rl/loop.py): contents after a short run, resume after a kill, corrupt
checkpoints, the hyperparameter table, and ``arena eval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import arena.rl.loop as rl
from arena.commands.eval import EvalCommand, run_eval
from arena.io.checkpoint import CheckpointError

TINY = {"hidden": [16], "learning_starts": 64, "train_frequency": 16, "gradient_steps": 2, "batch_size": 16,
        "buffer_size": 2_000, "exploration_steps": 500, "eval_every": 256, "eval_episodes": 2}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _train(run: Path, steps: int = 768, **kwargs: object) -> dict:
    return rl.train_rl("CartPole-v1", "dqn", steps=steps, seed=0, device="cpu", run_dir=run,
                       overrides=kwargs.pop("overrides", TINY), progress=False, **kwargs)


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_contents(tmp_path: Path) -> None:
    run = tmp_path / "run"
    final = _train(run)
    assert final["step"] == 768 and final["run_dir"] == str(run)
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "CartPole-v1" and config["agent"] == "dqn" and config["config"]["hidden"] == [16]
    rows = _rows(run)
    assert [r["step"] for r in rows] == [0, 256, 512, 768]
    for row in rows:
        assert {"step", "wall_time", "eval_return_mean", "eval_return_std"} <= set(row)
    assert rows[-1]["wall_time"] >= rows[1]["wall_time"] > 0
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert (run / "plots" / "learning_curve.png").stat().st_size > 0
    for name in ("latest", "best"):
        sidecar = json.loads((run / "checkpoints" / f"{name}.json").read_text())
        assert sidecar["algorithm"] == "dqn" and sidecar["task"] == "CartPole-v1" and "config" in sidecar
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 768
    assert (run / "checkpoints" / "trainer.safetensors").exists()


def test_resume_after_a_kill_continues_the_step_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    real_save = rl.save_tensors
    saves = []

    def save_then_die(path: Path, tensors: dict) -> Path:
        out = real_save(path, tensors)
        saves.append(int(tensors["loop.counters"][0]))
        if len(saves) == 3:  # the checkpoint at step 512 is on disk; die mid-run
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(rl, "save_tensors", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _train(run, steps=1024)
    monkeypatch.setattr(rl, "save_tensors", real_save)
    # a metrics line newer than the checkpoint, as a kill between the two writes would leave
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 600, "wall_time": 1.0, "eval_return_mean": 0.0, "eval_return_std": 0.0}) + "\n")
    final = rl.train_rl("CartPole-v1", "dqn", run_dir=run, resume=True, progress=False)
    assert saves == [0, 256, 512]
    assert final["step"] == 1024
    assert [r["step"] for r in _rows(run)] == [0, 256, 512, 768, 1024]
    trainer = rl.load_tensors(run / "checkpoints" / "trainer.safetensors")
    assert int(trainer["learner.counters"][0]) == 1024  # the learner's own step counter continued too


def test_resume_needs_a_run(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="config.json"):
        rl.train_rl("CartPole-v1", "dqn", run_dir=tmp_path / "nothing", resume=True, progress=False)
    with pytest.raises(ValueError, match="--run-dir"):
        rl.train_rl("CartPole-v1", "dqn", resume=True, progress=False)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _train(run, steps=256)
    with pytest.raises(ValueError, match="--resume"):  # refuses to overwrite a run
        _train(run, steps=256)
    (run / "checkpoints" / "trainer.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        rl.train_rl("CartPole-v1", "dqn", run_dir=run, resume=True, progress=False)
    (run / "checkpoints" / "latest.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="corrupt"):
        rl.eval_run(run, episodes=1, checkpoint="latest")
    (run / "checkpoints" / "best.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        rl.eval_run(run, episodes=1)


def test_eval_run_and_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    _train(run, steps=256)
    result = rl.eval_run(run, episodes=3)
    assert result["agent"] == "dqn" and result["episodes"] == 3 and len(result["returns"]) == 3
    assert result["checkpoint"].endswith("best.safetensors")
    import tyro

    cmd = tyro.cli(EvalCommand, args=[str(run / "checkpoints" / "latest.safetensors"), "--episodes", "2"])
    again = run_eval(cmd)
    assert again["step"] == 256 and "return" in capsys.readouterr().out


def test_tictactoe_run_honours_masks(tmp_path: Path) -> None:
    overrides = {**TINY, "eval_every": 128, "train_frequency": 8}
    final = rl.train_rl("tictactoe", "dqn", steps=128, run_dir=tmp_path / "ttt", overrides=overrides, progress=False)
    assert -1.0 <= final["eval_return_mean"] <= 1.0
    config = json.loads((tmp_path / "ttt" / "config.json").read_text())
    assert config["env_id"] == "arena/TicTacToe-v0" and config["env_kwargs"]["opponent"] == "random"
    assert rl.eval_run(tmp_path / "ttt", episodes=2, render=False)["task"] == "tictactoe"


def test_table_defaults_and_unknown_keys(tmp_path: Path) -> None:
    settings, config = rl.resolve_settings("CartPole-v1", "dqn", None, 0, "auto", {})
    assert settings.steps > 0 and settings.device in ("cpu", "cuda") and "hidden" in config
    settings, _ = rl.resolve_settings("Acrobot-v1", "dqn", 1000, 0, "cpu", {"num_envs": 2})
    assert (settings.steps, settings.num_envs, settings.eval_every) == (1000, 2, 50)
    with pytest.raises(ValueError, match="unknown key.*learning_rat"):
        rl.resolve_settings("CartPole-v1", "dqn", None, 0, "cpu", {"learning_rat": 1e-3})
    bad = tmp_path / "bad.toml"
    bad.write_text('["CartPole-v1".dqn]\nstepz = 10\n')
    with pytest.raises(ValueError, match=r'bad.toml section \["CartPole-v1".dqn\]'):
        rl.resolve_settings("CartPole-v1", "dqn", None, 0, "cpu", {}, table_path=bad)
    with pytest.raises(ValueError, match="unknown agent"):
        rl.resolve_settings("CartPole-v1", "sarsa", None, 0, "cpu", {})


def test_unknown_task_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown task 'NoSuchTask-v9'"):
        rl.train_rl("NoSuchTask-v9", "dqn", steps=10, run_dir=tmp_path / "x", progress=False)


def test_missing_policy_gradient_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "agents.pg", None)  # makes `import agents.pg` fail
    with pytest.raises(ValueError, match="--agent ppo needs agents/pg.py"):
        rl.resolve_settings("CartPole-v1", "ppo", None, 0, "cpu", {})


def test_self_play_against_past_copies(tmp_path):
    """PPO on tic-tac-toe against snapshots of itself: the pool fills, games stay legal, and
    the run is evaluated against the random opponent."""
    from arena.rl.loop import PastSelves, build_learner, make_env, resolve_settings, train_rl

    final = train_rl("tictactoe", "ppo", 4096, 0, "cpu", tmp_path / "run", False,
                     {"opponent": "self", "num_envs": 4, "n_steps": 64}, progress=False)
    assert final["step"] >= 4096 and -1.0 <= final["eval_return_mean"] <= 1.0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["env_kwargs"]["opponent"] == "self"

    settings, agent_config = resolve_settings("tictactoe", "ppo", 1000, 0, "cpu", {"opponent": "self"})
    env = make_env(settings)
    learner = build_learner(settings, agent_config, env)
    pool = PastSelves(learner, build_learner(settings, agent_config, env), every=2, keep=3)
    for _ in range(10):
        pool.after_update()
    assert len(pool.snapshots) == 3
    import envs

    game = envs.make("tictactoe")
    state = game.init(1)
    while not bool(state.terminated[0]):
        state = game.step(state, torch.tensor([pool.bot(game, state)]))  # checked: raises if illegal


def test_model_free_agent_is_a_player(tmp_path):
    """A DQN/PPO run on tic-tac-toe takes a seat in arena's matches (legal moves only)."""
    import envs
    from arena.bots.players import make_player
    from arena.io.checkpoint import CheckpointError

    rl.train_rl("tictactoe", "ppo", 1024, 0, "cpu", tmp_path / "run", False, {"num_envs": 2, "n_steps": 64},
                progress=False)
    game = envs.make("tictactoe")
    player = make_player(str(tmp_path / "run"), game)
    state = game.init(1)
    while not bool(state.terminated[0]):
        action, _ = player.act(game, state)
        state = game.step(state, torch.tensor([action]))  # checked: raises on an illegal move
    with pytest.raises(CheckpointError, match="trained on tictactoe"):
        make_player(str(tmp_path / "run"), envs.make("go", size=5))


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["dqn", "ppo", "a2c"])
def test_default_command_solves_cartpole(tmp_path, agent):
    """The issue's slow test: `arena train CartPole-v1 --agent dqn|ppo|a2c` with the table's
    defaults ends with a greedy evaluation mean >= 475 (of 500)."""
    final = rl.train_rl("CartPole-v1", agent, None, 0, "cpu", tmp_path / "run", False, progress=False)
    assert final["eval_return_mean"] >= 475


def test_vector_env_per_agent() -> None:
    """Policy gradients get the task's batched env (Gymnasium's numpy CartPole, next-step autoreset);
    DQN gets synchronous copies with same-step autoreset (it reads info["final_obs"])."""
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    for agent, mode, autoreset in [("ppo", "vector_entry_point", AutoresetMode.NEXT_STEP),
                                   ("a2c", "vector_entry_point", AutoresetMode.NEXT_STEP),
                                   ("dqn", "sync", AutoresetMode.SAME_STEP)]:
        settings, _ = rl.resolve_settings("CartPole-v1", agent, 1_000, 0, "cpu", {"num_envs": 3})
        assert rl.vector_mode(settings) == mode
        envs = rl.make_vector_env(settings)
        assert envs.num_envs == 3 and envs.metadata["autoreset_mode"] is autoreset
        assert isinstance(envs, SyncVectorEnv) == (mode == "sync")
        envs.close()
    settings, _ = rl.resolve_settings("Pendulum-v1", "ppo", 1_000, 0, "cpu")  # no batched env registered
    assert rl.vector_mode(settings) == "sync"
