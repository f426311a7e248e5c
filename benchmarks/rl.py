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

Goal mode (``--eval-every 5000 --eval-episodes 10 --sb3-hyperparams zoo``): both sides are also
evaluated every ``--eval-every`` env steps (the first step count at or past each multiple; ours
between learner updates -- PPO 256 env steps apart on CartPole -- SB3's from a callback between
vector-env steps) with the same deterministic episodes on a separate env, and again at the end
when the last evaluation was not at the final step. Evaluation time is excluded from the wall seconds on both sides. Each run row adds
``evals`` ([env step, wall seconds, mean]), the first evaluation point (the multiple of
``--eval-every`` it stands for, so both sides count alike; the step count itself is
``actual_step_to_threshold``) and wall second whose mean reached ``--threshold`` (None if never)
and ``final_eval_mean``; the summary adds per side the medians of
those (a seed that never reached it counts as infinitely late; the median is None when it is),
the final means per seed, the ratios ours / SB3 and whether the goals held (median steps <= SB3's,
median seconds <= half SB3's, every seed's final mean >= threshold). ``--sb3-hyperparams zoo``
gives SB3 the RL Zoo's tuned CartPole-v1 settings (``ZOO``) instead of our table mapped over.

    python benchmarks/rl.py --agents ppo a2c dqn --seeds 0 1 2 3 4 --eval-every 5000 --eval-episodes 10 --sb3-hyperparams zoo

Not identical algorithms: our DQN adds double DQN and a dueling head (SB3's DQN has neither;
both use n-step returns, Huber loss, hard target copies); ``reinforce`` has no SB3 peer.

Not identical env plumbing either: ours trains on what ``arena train`` builds
(``rl.make_vector_env``: policy gradients get the task's registered batched env -- Gymnasium's
numpy ``CartPoleVectorEnv`` -- and DQN synchronous copies), SB3 on its own ``make_vec_env``
(a ``DummyVecEnv`` of ``n_envs`` copies, as the RL Zoo trains it). Each side's hyperparameters are
its own table's (ours: ``agents/hyperparams.toml``; SB3: ``ZOO`` with ``--sb3-hyperparams zoo``);
the budget (env steps), the evaluation episodes and the machine are the same, and the runs of one
seed go back to back (ours, then SB3's).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium
import numpy as np
import torch
import tyro

from arena.rl import loop as rl
from arena.rl.setup import agent_module

SB3_CLASSES = {"dqn": "DQN", "ppo": "PPO", "a2c": "A2C"}
"""Our agent name -> the SB3 class it is measured against."""


def _linear(initial: float) -> Any:
    """The RL Zoo's ``lin_<x>``: falls linearly to 0 over the run (SB3's progress_remaining)."""
    return lambda remaining: remaining * initial


ZOO: dict[str, dict[str, dict[str, Any]]] = {
    "CartPole-v1": {  # rl-baselines3-zoo hyperparams/{ppo,a2c,dqn}.yml; n_envs is the vector env size
        "ppo": {"n_envs": 8, "n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20,
                "ent_coef": 0.0, "learning_rate": _linear(1e-3), "clip_range": _linear(0.2)},
        "a2c": {"n_envs": 8, "ent_coef": 0.0},
        "dqn": {"n_envs": 1, "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000,
                "gamma": 0.99, "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128,
                "exploration_fraction": 0.16, "exploration_final_eps": 0.04, "policy_kwargs": {"net_arch": [256, 256]}},
    },
}
"""The RL Zoo's tuned SB3 settings per task and agent (``--sb3-hyperparams zoo``)."""


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
    """Deterministic evaluation episodes after training (and at every ``eval_every``)."""
    eval_every: int | None = None
    """Also evaluate both sides every this many env steps and report the steps / wall seconds until
    the evaluation mean first reaches ``threshold`` (evaluation time excluded on both sides)."""
    threshold: float = 475.0
    """Evaluation mean that counts as solved (CartPole-v1: 475)."""
    sb3_hyperparams: Literal["ours", "zoo"] = "ours"
    """SB3's settings: ours mapped (``sb3_kwargs``) or the RL Zoo's tuned ones for the task (``ZOO``)."""
    threads: int = 1
    """torch.set_num_threads for both sides."""
    sb3: bool = True
    """Also run SB3 (``--no-sb3`` to measure ours alone)."""


def run_ours(agent: str, task: str, steps: int | None, seed: int, episodes: int,
             eval_every: int | None = None, threshold: float = 475.0) -> dict[str, Any]:
    """Train our learner with the table's settings; env steps/s of the loop and final eval return
    (with ``eval_every``, also the periodic evaluations, see :class:`_Tracker`)."""
    settings, config = rl.resolve_settings(task, agent, steps, seed, "cpu")
    env = rl.make_env(settings)
    learner = rl.build_learner(settings, config, env)
    envs = rl.make_vector_env(settings)
    tracker = _Tracker(eval_every, threshold, lambda: rl.evaluate(learner, env, episodes, seed + 10_000))
    done = 0
    tracker.start = start = time.perf_counter()
    while done < settings.steps:
        done += int(learner.learn(envs)["env_steps"])
        tracker.maybe(done)
    seconds = time.perf_counter() - start - tracker.eval_seconds
    returns = tracker.final(done)
    return {**_row("ours", agent, task, seed, done, seconds, returns), **tracker.fields()}


def run_sb3(agent: str, task: str, steps: int | None, seed: int, episodes: int,
            eval_every: int | None = None, threshold: float = 475.0, hyperparams: str = "ours") -> dict[str, Any]:
    """Train SB3's class for ``agent`` with the mapped hyperparameters (or the RL Zoo's with
    ``hyperparams="zoo"``) for our table's budget; same measures as :func:`run_ours`."""
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    settings, config = rl.resolve_settings(task, agent, steps, seed, "cpu")
    cls = getattr(stable_baselines3, SB3_CLASSES[agent])
    if hyperparams == "zoo":
        if agent not in ZOO.get(task, {}):
            raise ValueError(f"no RL Zoo settings for {agent} on {task} in benchmarks/rl.py ZOO")
        kwargs = dict(ZOO[task][agent])
        num_envs = kwargs.pop("n_envs")
    else:
        full = {**_dataclass_dict(agent_module(agent).default_config(agent)), **config}
        kwargs = sb3_kwargs(agent, full, settings.steps, settings.num_envs, cls)
        num_envs = settings.num_envs
    vec = make_vec_env(task, n_envs=num_envs, seed=seed)
    model = cls("MlpPolicy", vec, seed=seed, device="cpu", verbose=0, **kwargs)
    eval_env = gymnasium.make(task)
    tracker = _Tracker(eval_every, threshold, lambda: rl.evaluate(_SB3Actor(model), eval_env, episodes, seed + 10_000))
    tracker.start = start = time.perf_counter()
    model.learn(total_timesteps=settings.steps, callback=_sb3_callback(tracker) if eval_every else None)
    seconds = time.perf_counter() - start - tracker.eval_seconds
    returns = tracker.final(int(model.num_timesteps))
    row = {**_row("sb3", agent, task, seed, int(model.num_timesteps), seconds, returns), **tracker.fields()}
    row["sb3_hyperparams"] = hyperparams
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
                      "torch": torch.__version__, "threads": cfg.threads, "task": cfg.task,
                      "cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)}))
    for agent in cfg.agents:
        rows: dict[str, list[dict[str, Any]]] = {"ours": [], "sb3": []}
        for seed in cfg.seeds:
            rows["ours"].append(run_ours(agent, cfg.task, cfg.steps, seed, cfg.eval_episodes, cfg.eval_every,
                                         cfg.threshold))
            print(json.dumps(rows["ours"][-1]), flush=True)
            if cfg.sb3 and agent in SB3_CLASSES:
                rows["sb3"].append(run_sb3(agent, cfg.task, cfg.steps, seed, cfg.eval_episodes, cfg.eval_every,
                                           cfg.threshold, cfg.sb3_hyperparams))
                print(json.dumps(rows["sb3"][-1]), flush=True)
        summary = _summary(agent, cfg.task, rows)
        if cfg.eval_every:
            summary.update(_goal_summary(rows, cfg.threshold))
        print(json.dumps(summary), flush=True)


def _row(side: str, agent: str, task: str, seed: int, steps: int, seconds: float, returns: np.ndarray) -> dict[str, Any]:
    """One run's line; ``load_1m`` is the machine's 1-minute load average when the run ended (other
    jobs on a shared machine slow both sides; ratios of runs under similar load are what compare)."""
    return {"side": side, "agent": agent, "task": task, "seed": seed, "env_steps": steps,
            "train_seconds": round(seconds, 2), "steps_per_s": round(steps / seconds, 1),
            "eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
            "load_1m": round(os.getloadavg()[0], 2)}


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


def _goal_summary(rows: dict[str, list[dict[str, Any]]], threshold: float) -> dict[str, Any]:
    """Per side the medians over seeds of the steps / wall seconds until the evaluation mean first
    reached ``threshold`` (never = infinitely late; an infinite median is None), the final means per
    seed, the ratios ours / SB3 and the goals."""
    out: dict[str, Any] = {"threshold": threshold}
    for side, runs in rows.items():
        for key in ("steps_to_threshold", "seconds_to_threshold"):
            values = [math.inf if r[key] is None else r[key] for r in runs]
            median = float(np.median(values)) if values else math.inf
            out[f"{side}_median_{key}"] = None if math.isinf(median) else round(median, 2)
        out[f"{side}_final_eval_means"] = [r["final_eval_mean"] for r in runs]
        out[f"{side}_seeds_reaching"] = sum(r["steps_to_threshold"] is not None for r in runs)
    for key in ("steps_to_threshold", "seconds_to_threshold"):
        ours, theirs = out[f"ours_median_{key}"], out[f"sb3_median_{key}"]
        out[f"ratio_median_{key}"] = round(ours / theirs, 3) if ours is not None and theirs else None
    ours_steps, sb3_steps = out["ours_median_steps_to_threshold"], out["sb3_median_steps_to_threshold"]
    ours_s, sb3_s = out["ours_median_seconds_to_threshold"], out["sb3_median_seconds_to_threshold"]
    out["goal_steps_le_sb3"] = ours_steps is not None and (sb3_steps is None or ours_steps <= sb3_steps)
    out["goal_seconds_le_half_sb3"] = ours_s is not None and (sb3_s is None or ours_s <= 0.5 * sb3_s)
    out["goal_every_seed_final_ge_threshold"] = bool(rows["ours"]) and all(
        r["final_eval_mean"] >= threshold for r in rows["ours"])
    return out


class _Tracker:
    """Periodic evaluation of one run: at the first step count at or past each multiple of
    ``every`` (``maybe``), and at the end (``final``). Records (env step, wall seconds without
    evaluation time, mean) and the first record whose mean reached ``threshold``; ``every`` None
    evaluates once, at the end."""

    def __init__(self, every: int | None, threshold: float, evaluate: Any) -> None:
        self.every, self.threshold, self.evaluate = every, threshold, evaluate
        self.start = time.perf_counter()
        self.eval_seconds = 0.0
        self.next = every or 0
        self.records: list[tuple[int, float, float]] = []
        self.last: tuple[int, np.ndarray] | None = None
        self.reached: tuple[int, float, int] | None = None  # (nominal point, wall seconds, actual step)

    def maybe(self, step: int) -> None:
        if self.every and step >= self.next:
            point = self.next  # the nominal evaluation point (a multiple of every) this step count stands for
            self._evaluate(step, point)
            while self.next <= step:
                self.next += self.every

    def final(self, step: int) -> np.ndarray:
        if self.last is None or self.last[0] != step:
            self._evaluate(step)
        assert self.last is not None
        return self.last[1]

    def fields(self) -> dict[str, Any]:
        if not self.every:
            return {}
        return {"evals": [[s, round(t, 2), m] for s, t, m in self.records],
                "steps_to_threshold": None if self.reached is None else self.reached[0],
                "seconds_to_threshold": None if self.reached is None else round(self.reached[1], 2),
                "actual_step_to_threshold": None if self.reached is None else self.reached[2],
                "final_eval_mean": self.records[-1][2]}

    def _evaluate(self, step: int, point: int | None = None) -> None:
        begin = time.perf_counter()
        returns = self.evaluate()
        wall = begin - self.start - self.eval_seconds
        self.eval_seconds += time.perf_counter() - begin
        mean = float(returns.mean())
        self.records.append((step, wall, mean))
        self.last = (step, returns)
        if self.reached is None and mean >= self.threshold:
            self.reached = (step if point is None else point, wall, step)


def _sb3_callback(tracker: _Tracker) -> Any:
    """An SB3 callback that hands the tracker the env steps so far after every vector-env step."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Eval(BaseCallback):
        def _on_step(self) -> bool:
            tracker.maybe(int(self.num_timesteps))
            return True

    return _Eval()


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
