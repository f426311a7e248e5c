"""Our model-free agents against Stable-Baselines3 on one task, the same budget, as JSON lines.

For every agent name (``--agents dqn ppo a2c``) and seed, both sides train for the same env
steps with hyperparameters taken from one source -- our table ``agents/hyperparams.toml``
(``arena train``'s defaults) -- mapped onto the SB3 class's arguments of the same meaning
(``sb3_kwargs``; the mapped arguments are printed with the result). Then both greedy policies
play the same ``--eval-episodes`` evaluation episodes (seeds ``seed + 10000 + i``).

Measured: training env steps per second (the learning loop alone: no evaluation, no logging,
no run folder; one torch thread by default) and the final evaluation return. One JSON line per
(agent, seed, side) and a summary line per agent with the ratios ours / SB3.

    python benchmarks/rl.py                                   # DQN on CartPole-v1, seed 0
    python benchmarks/rl.py --agents dqn ppo --seeds 0 1 2
    python benchmarks/rl.py --task Acrobot-v1 --steps 50000

Not identical algorithms: our DQN adds double DQN and a dueling head (SB3's DQN has neither;
both use n-step returns, Huber loss, hard target copies); ``reinforce`` has no SB3 peer.
"""

from __future__ import annotations

import inspect
import json
import platform
import time
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
import tyro

from arena import rl

SB3_CLASSES = {"dqn": "DQN", "ppo": "PPO", "a2c": "A2C"}
"""Our agent name -> the SB3 class it is measured against."""


@dataclass(frozen=True)
class Config:
    """Options of the RL benchmark."""

    agents: tuple[str, ...] = ("dqn",)
    """Agents to measure (dqn, ppo, a2c, reinforce)."""
    task: str = "CartPole-v1"
    """Gymnasium id."""
    steps: int | None = None
    """Env steps per run (default: the table's budget for the task and agent)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds; each runs ours and SB3."""
    eval_episodes: int = 20
    """Deterministic evaluation episodes after training."""
    threads: int = 1
    """torch.set_num_threads for both sides."""
    sb3: bool = True
    """Also run SB3 (``--no-sb3`` to measure ours alone)."""


def run_ours(agent: str, task: str, steps: int | None, seed: int, episodes: int) -> dict[str, Any]:
    """Train our learner with the table's settings; env steps/s of the loop and final eval return."""
    settings, config = rl.resolve_settings(task, agent, steps, seed, "cpu")
    env = rl.make_env(settings)
    learner = rl.build_learner(settings, config, env)
    envs = rl.make_vector_env(settings)
    done = 0
    start = time.perf_counter()
    while done < settings.steps:
        done += int(learner.learn(envs)["env_steps"])
    seconds = time.perf_counter() - start
    returns = rl.evaluate(learner, env, episodes, seed + 10_000)
    return _row("ours", agent, task, seed, done, seconds, returns)


def run_sb3(agent: str, task: str, steps: int | None, seed: int, episodes: int) -> dict[str, Any]:
    """Train SB3's class for ``agent`` with the mapped hyperparameters; same measures as :func:`run_ours`."""
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    settings, config = rl.resolve_settings(task, agent, steps, seed, "cpu")
    full = {**_dataclass_dict(rl.agent_module(agent).default_config(agent)), **config}
    cls = getattr(stable_baselines3, SB3_CLASSES[agent])
    kwargs = sb3_kwargs(agent, full, settings.steps, settings.num_envs, cls)
    vec = make_vec_env(task, n_envs=settings.num_envs, seed=seed)
    model = cls("MlpPolicy", vec, seed=seed, device="cpu", verbose=0, **kwargs)
    start = time.perf_counter()
    model.learn(total_timesteps=settings.steps)
    seconds = time.perf_counter() - start
    returns = rl.evaluate(_SB3Actor(model), gymnasium.make(task), episodes, seed + 10_000)
    row = _row("sb3", agent, task, seed, settings.steps, seconds, returns)
    row["sb3_kwargs"] = {k: "linear schedule" if callable(v) else v for k, v in kwargs.items() if k != "policy_kwargs"}
    row["sb3_kwargs"]["net_arch"] = kwargs.get("policy_kwargs", {}).get("net_arch")
    return row


def sb3_kwargs(agent: str, config: dict[str, Any], steps: int, num_envs: int, cls: type) -> dict[str, Any]:
    """Our config (all fields) as the SB3 class's arguments of the same meaning; arguments the
    class does not take are left out."""
    if agent == "dqn":
        per_call = config["train_frequency"] * num_envs  # env steps between our gradient bursts
        kwargs = {
            "learning_rate": config["lr"], "buffer_size": config["buffer_size"],
            "learning_starts": config["learning_starts"], "batch_size": config["batch_size"], "tau": config["tau"],
            "gamma": config["gamma"], "train_freq": config["train_frequency"],
            "gradient_steps": config["gradient_steps"], "n_steps": config["n_step"],
            # ours counts gradient steps between target copies, SB3 counts env steps
            "target_update_interval": max(1, config["target_update_every"] * per_call // max(1, config["gradient_steps"])),
            "exploration_fraction": min(1.0, config["exploration_steps"] / steps),
            "exploration_initial_eps": config["eps_start"], "exploration_final_eps": config["eps_end"],
            "max_grad_norm": config["max_grad_norm"],
            "policy_kwargs": {"net_arch": list(config["hidden"])},
        }
    else:  # policy gradients: the fields share SB3's names, except the minibatch size and the network
        names = ("learning_rate", "n_steps", "gamma", "gae_lambda", "n_epochs", "clip_range", "ent_coef", "vf_coef",
                 "max_grad_norm")
        kwargs = {k: config[k] for k in names if k in config}
        if "minibatch_size" in config:
            kwargs["batch_size"] = config["minibatch_size"]
        if "normalize_advantages" in config:
            kwargs["normalize_advantage"] = config["normalize_advantages"]
        if config.get("anneal_steps", 0) > 0:  # ours falls linearly to 0 over anneal_steps; SB3 over the run
            lr, clip = config["learning_rate"], config.get("clip_range", 0.2)
            kwargs["learning_rate"] = lambda remaining: lr * remaining
            if config.get("anneal_clip"):
                kwargs["clip_range"] = lambda remaining: clip * remaining
        activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}.get(config.get("activation", "tanh"), torch.nn.Tanh)
        kwargs["policy_kwargs"] = {"net_arch": list(config.get("hidden", (64, 64))), "activation_fn": activation}
    accepted = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kwargs.items() if k in accepted}


def main(cfg: Config) -> None:
    """Print the JSON lines: the machine, then per agent every run and a summary with ratios."""
    torch.set_num_threads(cfg.threads)
    print(json.dumps({"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                      "torch": torch.__version__, "threads": cfg.threads, "task": cfg.task}))
    for agent in cfg.agents:
        rows: dict[str, list[dict[str, Any]]] = {"ours": [], "sb3": []}
        for seed in cfg.seeds:
            rows["ours"].append(run_ours(agent, cfg.task, cfg.steps, seed, cfg.eval_episodes))
            print(json.dumps(rows["ours"][-1]), flush=True)
            if cfg.sb3 and agent in SB3_CLASSES:
                rows["sb3"].append(run_sb3(agent, cfg.task, cfg.steps, seed, cfg.eval_episodes))
                print(json.dumps(rows["sb3"][-1]), flush=True)
        print(json.dumps(_summary(agent, cfg.task, rows)), flush=True)


def _row(side: str, agent: str, task: str, seed: int, steps: int, seconds: float, returns: np.ndarray) -> dict[str, Any]:
    return {"side": side, "agent": agent, "task": task, "seed": seed, "env_steps": steps,
            "train_seconds": round(seconds, 2), "steps_per_s": round(steps / seconds, 1),
            "eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std())}


def _summary(agent: str, task: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Means over seeds per side and the ratios ours / SB3 (None without SB3 rows)."""
    out: dict[str, Any] = {"summary": agent, "task": task}
    for side, runs in rows.items():
        for key in ("steps_per_s", "eval_return_mean"):
            out[f"{side}_{key}"] = float(np.mean([r[key] for r in runs])) if runs else None
    for key in ("steps_per_s", "eval_return_mean"):
        ours, theirs = out[f"ours_{key}"], out[f"sb3_{key}"]
        out[f"ratio_{key}"] = round(ours / theirs, 3) if ours is not None and theirs else None
    return out


def _dataclass_dict(config: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(config)


class _SB3Actor:
    """An SB3 model behind our learners' ``act`` (masks are not used by these tasks)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def act(self, obs: np.ndarray, action_mask: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        return self.model.predict(obs, deterministic=deterministic)[0]


if __name__ == "__main__":
    main(tyro.cli(Config))
