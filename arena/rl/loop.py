"""Model-free RL runs: ``arena train <task> --agent dqn|reinforce|a2c|ppo`` and ``arena eval``.

:func:`train_rl` builds a run and hands it to the one run loop (arena/run_loop.py) as a
:class:`ModelFreeLearner`: each iteration is one ``learn`` of the :class:`agents.common.Learner`
on a Gymnasium vector env (:func:`make_vector_env`); the budget's clock is env steps. The run is
evaluated before training and every ``eval_every`` env steps (the greedy policy plays
``eval_episodes`` episodes on a separate env), and each evaluation gets a metrics line,
TensorBoard scalars, the learning-curve plot and checkpoints. Defaults per task and agent come
from ``agents/hyperparams.toml``.

The run folder::

    config.json                 task, env id and kwargs, agent, run settings, the agent's config
    metrics.jsonl               one line per evaluation: step (env steps), wall_time (s since start),
                                eval_return_mean/std, train_return_mean, episodes, + the learner's stats
    tb/                         TensorBoard events
    plots/learning_curve.png    eval and training returns against env steps
    checkpoints/latest.*        the networks (safetensors + JSON sidecar: algorithm, task, config, step)
    checkpoints/best.*          the networks at the best evaluation so far
    checkpoints/trainer.safetensors   the learner's full state and the run's counters, for --resume

``--resume`` restores what ``learner.state_tensors()`` holds (for DQN: networks, target network,
optimizer, replay buffer, step counters) and the run's counters (env steps, wall time, episodes,
best evaluation); metrics lines written after that checkpoint are dropped. Episodes in progress
when the run stopped start afresh, and the random streams are re-seeded from (seed, step).
Ctrl-C or SIGTERM stops the run after the current update with a last evaluation and checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import nn

from agents.common import PastSelves
from arena.io.checkpoint import CheckpointError, load_checkpoint, load_tensors, load_weights, save_checkpoint, save_tensors
from arena.io.runs import new_run_dir, write_json
from arena.rl.setup import (AGENTS, GAMES, PG_AGENTS, RunSettings, build_learner, checked_env, make_env,  # noqa: F401
                            make_vector_env, resolve_device, resolve_settings, settings_from_dict, vector_mode)
from arena.run_loop import Budget, Iteration, Position, Report, run_loop


def evaluate(learner: Any, env: gymnasium.Env, episodes: int, seed: int, render: bool = False) -> np.ndarray:
    """Returns float ``[episodes]`` of the deterministic policy, episode i reset with ``seed + i``.
    With ``render`` an ``ansi`` env's frames are printed (a ``human`` env draws itself)."""
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        done = False
        while not done:
            mask = info.get("action_mask")
            action = learner.act(obs[None], None if mask is None else mask[None], deterministic=True)[0]
            obs, reward, terminated, truncated, info = env.step(action)
            returns[i] += float(reward)
            done = terminated or truncated
            if render and env.render_mode == "ansi":
                print(env.render(), end="\n\n")
    return returns


def train_rl(task: str, agent: str, steps: int | None = None, seed: int = 0, device: str = "cpu",
             run_dir: str | Path | None = None, resume: bool = False, overrides: dict[str, Any] | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Train ``agent`` on ``task`` into a run folder (see the module doc); returns the last metrics
    row plus ``run_dir`` and ``best_eval_return``. ``steps`` None takes the table's budget; with
    ``resume`` the settings come from ``run_dir/config.json`` (``steps`` may raise the budget).

    Raises:
        CheckpointError: ``resume`` without a readable run folder or checkpoint.
        ValueError: an unknown task, agent, config key or device.
    """
    if resume:
        if run_dir is None:
            raise ValueError("--resume needs --run-dir, the run folder to continue")
        settings, config = _saved_settings(Path(run_dir), steps)
    else:
        settings, config = resolve_settings(task, agent, steps, seed, device, overrides)
        if run_dir is not None and (Path(run_dir) / "checkpoints" / "trainer.safetensors").exists():
            raise ValueError(f"{run_dir} already holds a run: continue it with --resume, or choose another --run-dir")
    eval_env = checked_env(settings)
    run = Path(run_dir) if resume else new_run_dir(f"{agent}-{task.replace('/', '_')}", run_dir)
    agent_learner = build_learner(settings, config, eval_env)
    pool = None
    if settings.env_kwargs.get("opponent") == "self":
        pool = PastSelves(agent_learner, build_learner(settings, config, eval_env), seed=settings.seed)
    envs = make_vector_env(settings, pool)
    write_json(run / "config.json", {**dataclasses.asdict(settings), "config": dataclasses.asdict(agent_learner.config)})
    learner = ModelFreeLearner(settings, agent_learner, envs, eval_env, run, pool)
    if resume:
        learner.restore()
    bar, callback = _progress_bar(settings, learner.counters.step) if progress else (None, None)
    try:
        return run_loop(learner, run, resume, callback)
    finally:
        if bar is not None:
            bar.close()
        envs.close()
        eval_env.close()


@dataclass
class RunCounters:
    """A model-free run's counters (mutable; all but ``recent`` saved with every checkpoint)."""

    step: int = 0
    """Env steps so far (the budget's clock)."""
    wall_time: float = 0.0
    """Seconds since the run began, across resumes (at the last evaluation)."""
    episodes: int = 0
    best: float = float("-inf")
    """The best evaluation return so far (the ``best`` checkpoint's)."""
    last_eval: int = 0
    recent: list[float] = field(default_factory=list)
    """Returns of the last 100 training episodes (this session's)."""


class ModelFreeLearner:
    """A model-free agent (:class:`agents.common.Learner`) as the run loop drives it
    (arena/run_loop.py): its training vector env, evaluation env and self-play pool, the
    counters of the run (env steps are the budget's clock), and its checkpoint files."""

    def __init__(self, settings: RunSettings, learner: Any, envs: gymnasium.vector.VectorEnv, eval_env: gymnasium.Env,
                 run: Path, pool: PastSelves | None = None) -> None:
        self.settings, self.learner, self.envs, self.eval_env, self.run, self.pool = (
            settings, learner, envs, eval_env, run, pool)
        self.budget = Budget(total=settings.steps, eval_every=settings.eval_every, clock_key="step", aligned=True,
                             eval_at_start=True)
        self.report = Report({"return": ["eval_return_mean", "train_return_mean"]}, x="step",
                             title=f"{settings.agent} on {settings.task}",
                             tensorboard_keys=("eval_return_mean", "eval_return_std"), tensorboard_prefix="eval/")
        self.counters = RunCounters()
        self._stats: dict[str, Any] = {}
        self._start = time.perf_counter()

    def restore(self) -> None:
        """``--resume``: the learner's state and the counters from ``checkpoints/trainer.safetensors``."""
        self.counters = _restore(self.run, self.learner)
        self._start = time.perf_counter() - self.counters.wall_time

    def position(self) -> Position:
        return Position(self.counters.step, 0)

    def learn(self) -> Iteration:
        """One ``learner.learn(envs)`` (a rollout, or a few DQN steps and their updates)."""
        stats = self.learner.learn(self.envs)
        if self.pool is not None:
            self.pool.after_update()
        counters = self.counters
        counters.step += int(stats["env_steps"])
        counters.episodes += len(stats["episode_returns"])
        counters.recent = (counters.recent + [float(r) for r in stats["episode_returns"]])[-100:]
        self._stats = stats
        scalars: dict[str, float | list[float]] = {"train/episode_return": [float(r) for r in stats["episode_returns"]]}
        scalars.update({f"train/{k}": float(v) for k, v in stats.items()
                        if k not in ("env_steps", "episode_returns") and isinstance(v, (int, float))})
        return Iteration(scalars)

    def evaluate(self, final: bool) -> list[dict[str, Any]]:
        """``eval_episodes`` greedy episodes on the evaluation env: one metrics row."""
        counters, settings = self.counters, self.settings
        returns = evaluate(self.learner, self.eval_env, settings.eval_episodes, settings.seed + 10_000)
        counters.wall_time = time.perf_counter() - self._start
        counters.last_eval = counters.step
        row: dict[str, Any] = {"step": counters.step, "wall_time": round(counters.wall_time, 3),
                               "eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
                               "train_return_mean": float(np.mean(counters.recent)) if counters.recent else None,
                               "episodes": counters.episodes}
        row.update({k: float(v) for k, v in self._stats.items() if isinstance(v, (int, float)) and k != "env_steps"})
        return [row]

    def save(self, run: Path, row: dict[str, Any]) -> None:
        """``best`` (when this evaluation is the best so far) and ``latest`` networks, then the
        learner's full state with the counters (``trainer.safetensors``, for --resume)."""
        counters, settings = self.counters, self.settings
        meta = {"algorithm": settings.agent, "task": settings.task, "settings": dataclasses.asdict(settings),
                "config": dataclasses.asdict(self.learner.config), "step": counters.step, "metrics": row}
        networks = nn.ModuleDict(self.learner.networks())
        if row["eval_return_mean"] > counters.best:
            counters.best = row["eval_return_mean"]
            save_checkpoint(run / "checkpoints" / "best.safetensors", networks, meta)
        save_checkpoint(run / "checkpoints" / "latest.safetensors", networks, meta)
        state = {f"learner.{k}": v for k, v in self.learner.state_tensors().items()}
        state["loop.counters"] = torch.tensor([counters.step, counters.episodes, counters.last_eval], dtype=torch.int64)
        state["loop.times"] = torch.tensor([counters.wall_time, counters.best], dtype=torch.float64)
        save_tensors(run / "checkpoints" / "trainer.safetensors", state)

    def finish(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        last = history[-1] if history else {"step": self.counters.step}
        return {**last, "run_dir": str(self.run), "best_eval_return": self.counters.best}


def run_rl_from_cli(task: str, agent: str, steps: int | None, seed: int, device: str, run_dir: str | Path | None,
                    resume: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``arena train <task> --agent ...``: train with a progress bar, then print where the run went."""
    final = train_rl(task, agent, steps, seed, device, run_dir, resume, overrides, progress=True)
    print(f"step {final['step']}: eval return {final.get('eval_return_mean', float('nan')):.1f} "
          f"+- {final.get('eval_return_std', float('nan')):.1f} (best {final['best_eval_return']:.1f}), "
          f"{final.get('wall_time', 0.0):.0f} s\n"
          f"run folder: {final['run_dir']}\nwatch it: arena eval {final['run_dir']} --render")
    return final


def eval_run(path: str | Path, episodes: int = 10, render: bool = False, checkpoint: str = "best",
             seed: int = 12_345, device: str = "cpu") -> dict[str, Any]:
    """Evaluate a trained agent: ``path`` is a run folder (its ``checkpoints/<checkpoint>``) or a
    checkpoint file. With ``render`` the episodes play in a window (Gymnasium's
    ``render_mode="human"``) or, for tasks without one (our games), as text boards.

    Returns:
        ``{"checkpoint", "task", "agent", "step", "episodes", "return_mean", "return_std", "returns"}``.
    """
    file, settings, learner, meta = load_learner(path, checkpoint, device)
    env = make_env(settings)
    modes = env.metadata.get("render_modes", [])
    if render:
        env.close()
        env = make_env(settings, "human" if "human" in modes else "ansi")
    returns = evaluate(learner, env, episodes, seed, render)
    env.close()
    return {"checkpoint": str(file), "task": settings.task, "agent": settings.agent, "step": meta.get("step"),
            "episodes": episodes, "return_mean": float(returns.mean()), "return_std": float(returns.std()),
            "returns": returns.tolist()}


def load_learner(path: str | Path, checkpoint: str = "best", device: str = "cpu") -> tuple[Path, RunSettings, Any, dict]:
    """``(file, settings, learner, sidecar)`` of a trained agent: a run folder (its
    ``checkpoints/<checkpoint>``) or a checkpoint file; a foreign file is a CheckpointError."""
    file = _checkpoint_file(Path(path), checkpoint)
    tensors, meta = load_checkpoint(file)
    for key in ("algorithm", "settings", "config"):
        if key not in meta:
            raise CheckpointError(f"{file} is not an RL checkpoint (its sidecar has no {key!r})")
    settings = dataclasses.replace(settings_from_dict(meta["settings"]), num_envs=1, device=resolve_device(device))
    env = make_env(settings)
    learner = build_learner(settings, meta["config"], env)
    env.close()
    load_weights(nn.ModuleDict(learner.networks()), tensors, str(file))
    return file, settings, learner, meta


# ----- private helpers ----------------------------------------------------------------------


def _restore(run: Path, learner: Any) -> RunCounters:
    """Load ``checkpoints/trainer.safetensors`` into ``learner``; the loop counters it held."""
    path = run / "checkpoints" / "trainer.safetensors"
    if not path.exists():
        raise CheckpointError(f"--resume: {path} does not exist (the run wrote no checkpoint yet); start it afresh")
    tensors = load_tensors(path)
    if "loop.counters" not in tensors:
        raise CheckpointError(f"--resume: {path} is not an RL trainer checkpoint (no loop counters)")
    try:
        learner.load_state_tensors({k[len("learner."):]: v for k, v in tensors.items() if k.startswith("learner.")})
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"--resume: {path} does not fit this learner ({type(e).__name__}: {e})") from None
    step, episodes, last_eval = (int(v) for v in tensors["loop.counters"])
    wall_time, best = (float(v) for v in tensors["loop.times"])
    return RunCounters(step=step, wall_time=wall_time, episodes=episodes, best=best, last_eval=last_eval)


def _saved_settings(run: Path, steps: int | None) -> tuple[RunSettings, dict[str, Any]]:
    """Settings and agent config of an existing run (``steps`` given: the new total budget)."""
    try:
        saved = json.loads((run / "config.json").read_text())
        settings = settings_from_dict(saved)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"--resume: cannot read the run's settings from {run / 'config.json'} ({e})") from None
    if steps is not None:
        settings = dataclasses.replace(settings, steps=steps)
    return settings, saved["config"]


def _checkpoint_file(path: Path, which: str) -> Path:
    """A run folder's ``checkpoints/<which>.safetensors`` (``latest`` if there is no ``best``), or ``path``."""
    if not path.is_dir():
        return path
    folder = path / "checkpoints"
    for name in (which, "latest"):
        if (folder / f"{name}.safetensors").exists():
            return folder / f"{name}.safetensors"
    raise CheckpointError(f"{path} holds no checkpoints/{which}.safetensors: is it an RL run folder?")


def _progress_bar(settings: RunSettings, step: int) -> tuple[Any, Any]:
    """A tqdm bar over the env steps and its ``progress(counters, row)`` callback (the last 20
    training returns and the last evaluation's mean as its postfix)."""
    from tqdm import tqdm

    bar = tqdm(total=settings.steps, initial=min(step, settings.steps), unit="step",
               desc=f"{settings.agent} {settings.task}", dynamic_ncols=True)
    last: dict[str, float] = {}

    def progress(counters: RunCounters, row: dict[str, Any] | None) -> None:
        if row is not None:
            last["eval"] = row["eval_return_mean"]
        recent = counters.recent
        bar.set_postfix(ret=f"{np.mean(recent[-20:]):.1f}" if recent else "-",
                        eval=f"{last['eval']:.1f}" if last else "-", refresh=False)
        bar.update(min(counters.step, settings.steps) - bar.n)

    return bar, progress
