"""Model-free RL runs: ``arena train <task> --agent dqn|reinforce|a2c|ppo`` and ``arena eval``.

:func:`train_rl` is the one training loop a person sees for every :class:`agents.common.Learner`:
a Gymnasium vector env (:func:`make_vector_env`) feeds ``learner.learn``; every
``eval_every`` env steps the greedy policy plays ``eval_episodes`` episodes on a separate env,
and the run folder gets a metrics line, TensorBoard scalars, the learning-curve plot and
checkpoints. Defaults per task and agent come from ``agents/hyperparams.toml``.

The run folder::

    config.json                 task, env id and kwargs, agent, run settings, the agent's config
    metrics.jsonl               one line per evaluation: step (env steps), wall_time (s since start),
                                eval_return_mean/std, train_return_mean, episodes, + the learner's stats
    tb/                         TensorBoard events
    plots/learning_curve.png    eval and training returns against env steps
    checkpoints/latest.*        the networks (safetensors + JSON sidecar: algorithm, task, config, step)
    checkpoints/best.*          the networks at the best evaluation so far
    checkpoints/trainer.safetensors   the learner's full state and the loop's counters, for --resume

``--resume`` restores what ``learner.state_tensors()`` holds (for DQN: networks, target network,
optimizer, replay buffer, step counters) and the loop's counters (env steps, wall time, episodes,
best evaluation); metrics lines written after that checkpoint are dropped. Episodes in progress
when the run stopped start afresh, and the random streams are re-seeded from (seed, step).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import nn

from agents.common import PastSelves
from arena.io.checkpoint import CheckpointError, load_checkpoint, load_tensors, load_weights, save_checkpoint, save_tensors
from arena.rl.setup import (AGENTS, GAMES, PG_AGENTS, RunSettings, build_learner, checked_env, make_env,  # noqa: F401
                            make_vector_env, resolve_device, resolve_settings, settings_from_dict, vector_mode)
from arena.io.runs import append_metrics, new_run_dir, plot_curves, write_json

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
    learner = build_learner(settings, config, eval_env)
    pool = None
    if settings.env_kwargs.get("opponent") == "self":
        pool = PastSelves(learner, build_learner(settings, config, eval_env), seed=settings.seed)
    envs = make_vector_env(settings, pool)
    write_json(run / "config.json", {**dataclasses.asdict(settings), "config": dataclasses.asdict(learner.config)})
    loop = _restore(run, learner) if resume else _LoopState()
    history = _read_history(run, loop.step)
    writer = _tensorboard(run, loop.step)
    bar = _progress_bar(settings, loop.step, progress)
    recent: list[float] = []
    start = time.perf_counter() - loop.wall_time
    try:
        if loop.step == 0:
            _evaluate_and_save(run, settings, learner, eval_env, loop, history, writer, recent, {}, start)
        while loop.step < settings.steps:
            stats = learner.learn(envs)
            if pool is not None:
                pool.after_update()
            loop.step += int(stats["env_steps"])
            loop.episodes += len(stats["episode_returns"])
            recent = (recent + [float(r) for r in stats["episode_returns"]])[-100:]
            _log_train(writer, stats, loop.step)
            if loop.step >= loop.next_eval(settings) or loop.step >= settings.steps:
                _evaluate_and_save(run, settings, learner, eval_env, loop, history, writer, recent, stats, start)
            if bar is not None:
                bar.set_postfix(ret=f"{np.mean(recent[-20:]):.1f}" if recent else "-",
                                eval=f"{history[-1]['eval_return_mean']:.1f}" if history else "-", refresh=False)
                bar.update(min(loop.step, settings.steps) - bar.n)
    finally:
        if bar is not None:
            bar.close()
        writer.close()
        envs.close()
        eval_env.close()
    last = history[-1] if history else {"step": loop.step}
    return {**last, "run_dir": str(run), "best_eval_return": loop.best}


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


@dataclass
class _LoopState:
    """The loop's counters (mutable; saved with every checkpoint)."""

    step: int = 0
    wall_time: float = 0.0
    episodes: int = 0
    best: float = float("-inf")
    last_eval: int = 0

    def next_eval(self, settings: RunSettings) -> int:
        """The env step of the next evaluation after the last one (multiples of eval_every)."""
        return (self.last_eval // settings.eval_every + 1) * settings.eval_every


def _evaluate_and_save(run: Path, settings: RunSettings, learner: Any, env: gymnasium.Env, loop: _LoopState,
                       history: list[dict[str, Any]], writer: Any, recent: list[float], stats: dict[str, Any],
                       start: float) -> None:
    """Evaluate, append the metrics line, log, plot, then write the checkpoints (in this order, so a
    kill leaves at most a metrics line newer than the checkpoint, which resume drops)."""
    returns = evaluate(learner, env, settings.eval_episodes, settings.seed + 10_000)
    loop.wall_time = time.perf_counter() - start
    loop.last_eval = loop.step
    row: dict[str, Any] = {"step": loop.step, "wall_time": round(loop.wall_time, 3),
                           "eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
                           "train_return_mean": float(np.mean(recent)) if recent else None,
                           "episodes": loop.episodes}
    row.update({k: float(v) for k, v in stats.items() if isinstance(v, (int, float)) and k != "env_steps"})
    history.append(row)
    append_metrics(run, row)
    for key in ("eval_return_mean", "eval_return_std"):
        writer.add_scalar(f"eval/{key}", row[key], loop.step)
    writer.flush()
    (run / "plots").mkdir(exist_ok=True)
    plot_curves(run / "plots" / "learning_curve.png", history,
                {"return": ["eval_return_mean", "train_return_mean"]}, x="step",
                title=f"{settings.agent} on {settings.task}")
    meta = {"algorithm": settings.agent, "task": settings.task, "settings": dataclasses.asdict(settings),
            "config": dataclasses.asdict(learner.config), "step": loop.step, "metrics": row}
    networks = nn.ModuleDict(learner.networks())
    if row["eval_return_mean"] > loop.best:
        loop.best = row["eval_return_mean"]
        save_checkpoint(run / "checkpoints" / "best.safetensors", networks, meta)
    save_checkpoint(run / "checkpoints" / "latest.safetensors", networks, meta)
    state = {f"learner.{k}": v for k, v in learner.state_tensors().items()}
    state["loop.counters"] = torch.tensor([loop.step, loop.episodes, loop.last_eval], dtype=torch.int64)
    state["loop.times"] = torch.tensor([loop.wall_time, loop.best], dtype=torch.float64)
    save_tensors(run / "checkpoints" / "trainer.safetensors", state)


def _restore(run: Path, learner: Any) -> _LoopState:
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
    return _LoopState(step=step, wall_time=wall_time, episodes=episodes, best=best, last_eval=last_eval)


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


def _read_history(run: Path, step: int) -> list[dict[str, Any]]:
    """Metrics lines up to ``step``; newer ones (written after the last checkpoint) are dropped."""
    path = run / "metrics.jsonl"
    if step == 0 or not path.exists():
        path.unlink(missing_ok=True)
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in rows if r["step"] <= step]
    if len(kept) != len(rows):
        tmp = path.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        tmp.replace(path)
    return kept


def _checkpoint_file(path: Path, which: str) -> Path:
    """A run folder's ``checkpoints/<which>.safetensors`` (``latest`` if there is no ``best``), or ``path``."""
    if not path.is_dir():
        return path
    folder = path / "checkpoints"
    for name in (which, "latest"):
        if (folder / f"{name}.safetensors").exists():
            return folder / f"{name}.safetensors"
    raise CheckpointError(f"{path} holds no checkpoints/{which}.safetensors: is it an RL run folder?")


def _tensorboard(run: Path, step: int) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run / "tb"), purge_step=step if step > 0 else None)


def _log_train(writer: Any, stats: dict[str, Any], step: int) -> None:
    for r in stats["episode_returns"]:
        writer.add_scalar("train/episode_return", float(r), step)
    for key, value in stats.items():
        if key not in ("env_steps", "episode_returns") and isinstance(value, (int, float)):
            writer.add_scalar(f"train/{key}", float(value), step)


def _progress_bar(settings: RunSettings, step: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=settings.steps, initial=min(step, settings.steps), unit="step",
                desc=f"{settings.agent} {settings.task}", dynamic_ncols=True)
