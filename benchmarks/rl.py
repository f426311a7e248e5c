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
    python benchmarks/rl.py --tasks Acrobot-v1 --steps 50000

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

Report mode (``--suite tune`` / ``--suite heldout``, after Agarwal et al. 2021): DQN, PPO and A2C,
ours and SB3 with the Zoo's rows, on CartPole-v1, Acrobot-v1 and LunarLander-v3 (``pip install
"arena[box2d]"``), evaluated along the way, on seeds 0-9 (the seeds settings may be chosen on) or
100-109 (the held-out seeds, reported once; LunarLander runs the first 5). Every finished run is
appended to ``<out>/runs.jsonl`` (rerunning the command resumes: finished runs are read back, not
run again), then ``write_report`` pools them into ``<out>/report.json`` -- per agent and task: final
scores (mean of the last 3 evaluations), normalized learning-curve AUC, IQM of both with 95%
bootstrap intervals, seeds ending above the threshold, median steps / wall seconds to it; per agent
across tasks: IQM / median / mean with stratified-bootstrap intervals and P(ours > SB3) -- and the
plots ``aggregates.png`` (final), ``auc.png`` and ``profiles.png`` (performance profiles). Any
``--tasks``/``--seeds`` run with ``--eval-every`` and ``--out`` writes the same report.

    python benchmarks/rl.py --suite heldout                                 # hours: resumable
    python benchmarks/rl.py --agents dqn --seeds 0 1 2 3 4 5 6 7 8 9 --eval-every 5000 --eval-episodes 10 \
        --no-sb3 --set exploration_steps=5000 --out runs/tune-dqn-explore5k       # one change, tuning seeds

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

import dataclasses
import inspect
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import gymnasium
import numpy as np
import torch
import tyro

from agents.dqn_math import linear_schedule
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
    "Acrobot-v1": {  # "normalize": the Zoo wraps the vector env in VecNormalize (observations and rewards)
        "ppo": {"n_envs": 16, "normalize": True, "n_steps": 256, "gae_lambda": 0.94, "gamma": 0.99, "n_epochs": 4,
                "ent_coef": 0.0},
        "a2c": {"n_envs": 16, "normalize": True, "ent_coef": 0.0},
        "dqn": {"n_envs": 1, "learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000, "learning_starts": 0,
                "gamma": 0.99, "target_update_interval": 250, "train_freq": 4, "gradient_steps": -1,
                "exploration_fraction": 0.12, "exploration_final_eps": 0.1, "policy_kwargs": {"net_arch": [256, 256]}},
    },
    "LunarLander-v3": {  # the Zoo's LunarLander-v2 rows (v3 fixed bugs, same task)
        "ppo": {"n_envs": 16, "n_steps": 1024, "batch_size": 64, "gae_lambda": 0.98, "gamma": 0.999, "n_epochs": 4,
                "ent_coef": 0.01},
        "a2c": {"n_envs": 8, "gamma": 0.995, "n_steps": 5, "learning_rate": _linear(8.3e-4), "ent_coef": 1e-5},
        "dqn": {"n_envs": 1, "learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000, "learning_starts": 0,
                "gamma": 0.99, "target_update_interval": 250, "train_freq": 4, "gradient_steps": -1,
                "exploration_fraction": 0.12, "exploration_final_eps": 0.1, "policy_kwargs": {"net_arch": [256, 256]}},
    },
}
"""The RL Zoo's tuned SB3 settings per task and agent (``--sb3-hyperparams zoo``; rl-baselines3-zoo
hyperparams/{ppo,a2c,dqn}.yml). The budget is not the Zoo's: both sides train for our table's env
steps (``agents/hyperparams.toml``)."""

SUITE_TASKS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")
"""The tasks of ``--suite``."""
SUITE_SEEDS = {"tune": tuple(range(10)), "heldout": tuple(range(100, 110))}
"""``--suite tune``: the seeds settings may be chosen on; ``--suite heldout``: the seeds they are
reported on, run once."""
SUITE_MAX_SEEDS = {"LunarLander-v3": 5}
"""Tasks that run only the first few of the suite's seeds (LunarLander's runs are the long ones)."""
SUITE_EVAL_EVERY = {"CartPole-v1": 5_000, "Acrobot-v1": 5_000, "LunarLander-v3": 10_000}
"""Env steps between the suite's evaluations, per task."""
FINAL_EVALS = 3
"""A run's final score is the mean of its last this many evaluations."""


@dataclass(frozen=True)
class Config:
    """Options of the RL benchmark."""

    agents: tuple[str, ...] = ("dqn",)
    """Agents to measure (dqn, ppo, a2c, reinforce)."""
    tasks: tuple[str, ...] = ("CartPole-v1",)
    """Gymnasium ids, one after another."""
    steps: int | None = None
    """Env steps per run (default: the table's budget for the task and agent)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds; each runs ours and SB3."""
    eval_episodes: int = 20
    """Deterministic evaluation episodes after training (and at every ``eval_every``)."""
    eval_every: int | None = None
    """Also evaluate both sides every this many env steps and report the steps / wall seconds until
    the evaluation mean first reaches ``threshold`` (evaluation time excluded on both sides)."""
    threshold: float | None = None
    """Evaluation mean that counts as solved (default: the task's, ``rl_stats.TASKS``: CartPole-v1 475,
    Acrobot-v1 -100, LunarLander-v3 200)."""
    sb3_hyperparams: Literal["ours", "zoo"] = "ours"
    """SB3's settings: ours mapped (``sb3_kwargs``) or the RL Zoo's tuned ones for the task (``ZOO``)."""
    threads: int = 1
    """torch.set_num_threads for both sides."""
    sb3: bool = True
    """Also run SB3 (``--no-sb3`` to measure ours alone)."""
    bootstrap_reps: int = 2000
    """Bootstrap resamples behind each interval of the report."""
    set: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """``KEY=VALUE`` overrides of our table's settings for every run, one per ``--set`` (``--set lr=5e-4
    --set exploration_steps=5000``; values as TOML: ``lr=5e-4``,
    ``hidden=[128,128]``, ``normalize_advantages=true``; ``steps`` changes SB3's budget too), to try a
    change on the tuning seeds before it goes into ``agents/hyperparams.toml``."""
    suite: Literal["none", "tune", "heldout"] = "none"
    """A whole report: DQN, PPO and A2C on CartPole-v1, Acrobot-v1 and LunarLander-v3 against SB3 with
    the Zoo's settings, evaluated along the way (``SUITE_EVAL_EVERY``, 10 episodes), on seeds 0-9
    (``tune``) or 100-109 (``heldout``; LunarLander the first 5), into ``--out`` (default
    ``runs/rl-<suite>``). It replaces --agents/--tasks/--seeds/--eval-every/--eval-episodes/
    --sb3-hyperparams; ``--steps`` still caps every run."""
    out: Path | None = None
    """Folder for ``runs.jsonl`` (one line per finished run, appended as it ends; a rerun with the same
    folder skips the runs already there, so an interrupted report goes on where it stopped),
    ``report.json`` (the aggregates) and the plots ``aggregates.png`` / ``auc.png`` / ``profiles.png``.
    Needs evaluations along the way (``--eval-every`` or ``--suite``)."""


def run_ours(agent: str, task: str, steps: int | None, seed: int, episodes: int,
             eval_every: int | None = None, threshold: float = 475.0,
             overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train our learner with the table's settings (and ``overrides``); env steps/s of the loop and
    final eval return (with ``eval_every``, also the periodic evaluations, see :class:`_Tracker`)."""
    settings, config = rl.resolve_settings(task, agent, steps, seed, "cpu", overrides)
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
    return {**_row("ours", agent, task, seed, done, seconds, returns), **tracker.fields(), "overrides": overrides or {}}


def run_sb3(agent: str, task: str, steps: int | None, seed: int, episodes: int,
            eval_every: int | None = None, threshold: float = 475.0, hyperparams: str = "ours",
            overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train SB3's class for ``agent`` with the mapped hyperparameters (or the RL Zoo's with
    ``hyperparams="zoo"``) for our table's budget; same measures as :func:`run_ours`."""
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    settings, config = rl.resolve_settings(task, agent, steps, seed, "cpu", overrides)
    cls = getattr(stable_baselines3, SB3_CLASSES[agent])
    if hyperparams == "zoo":
        if agent not in ZOO.get(task, {}):
            raise ValueError(f"no RL Zoo settings for {agent} on {task} in benchmarks/rl.py ZOO")
        kwargs = dict(ZOO[task][agent])
        num_envs = kwargs.pop("n_envs")
        normalize = kwargs.pop("normalize", False)
    else:
        normalize = False
        full = {**dataclasses.asdict(agent_module(agent).default_config(agent)), **config}
        kwargs = sb3_kwargs(agent, full, settings.steps, settings.num_envs, cls)
        num_envs = settings.num_envs
    vec = make_vec_env(task, n_envs=num_envs, seed=seed)
    if normalize:  # as the Zoo's normalize: true (running mean/std of observations and returns)
        from stable_baselines3.common.vec_env import VecNormalize

        vec = VecNormalize(vec, gamma=kwargs.get("gamma", 0.99))
    model = cls("MlpPolicy", vec, seed=seed, device="cpu", verbose=0, **kwargs)
    eval_env = gymnasium.make(task)
    actor = _SB3Actor(model, vec if normalize else None)
    tracker = _Tracker(eval_every, threshold, lambda: rl.evaluate(actor, eval_env, episodes, seed + 10_000))
    tracker.start = start = time.perf_counter()
    model.learn(total_timesteps=settings.steps, callback=_sb3_callback(tracker) if eval_every else None)
    seconds = time.perf_counter() - start - tracker.eval_seconds
    returns = tracker.final(int(model.num_timesteps))
    row = {**_row("sb3", agent, task, seed, int(model.num_timesteps), seconds, returns), **tracker.fields()}
    row["overrides"] = overrides or {}
    row["sb3_hyperparams"] = hyperparams
    row["sb3_kwargs"] = {k: "linear schedule" if callable(v) else v for k, v in kwargs.items() if k != "policy_kwargs"}
    row["sb3_kwargs"]["net_arch"] = kwargs.get("policy_kwargs", {}).get("net_arch")
    row["sb3_kwargs"]["normalize"] = normalize
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
        if config.get("lr_anneal_steps", 0) > 0:  # ours: the same schedule of env steps, here of SB3's progress
            lr, end, span = config["lr"], config["lr"] * config.get("lr_end_fraction", 0.0), config["lr_anneal_steps"]
            kwargs["learning_rate"] = lambda remaining: linear_schedule(lr, end, span, int((1.0 - remaining) * steps))
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
    """Print the JSON lines: the machine, then per task and agent every run and a summary with
    ratios; with ``--out`` also append every run to ``runs.jsonl`` and write the report and plots."""
    cfg = with_suite(cfg)
    torch.set_num_threads(cfg.threads)
    print(json.dumps({"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                      "torch": torch.__version__, "threads": cfg.threads, "tasks": list(cfg.tasks),
                      "cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)}))
    overrides = parse_overrides(cfg.set)
    log = cfg.out / "runs.jsonl" if cfg.out else None
    finished = [r for r in read_runs(log) if r.get("overrides", {}) == overrides] if log else []
    rows: list[dict[str, Any]] = []
    for task in cfg.tasks:
        threshold = task_threshold(task, cfg.threshold)
        eval_every = SUITE_EVAL_EVERY[task] if cfg.suite != "none" else cfg.eval_every
        for agent in cfg.agents:
            sides: dict[str, list[dict[str, Any]]] = {"ours": [], "sb3": []}
            for seed in task_seeds(cfg, task):
                for side in ("ours", "sb3") if cfg.sb3 and agent in SB3_CLASSES else ("ours",):
                    row = _finished_run(finished, side, agent, task, seed)
                    if row is None:
                        if side == "ours":
                            row = run_ours(agent, task, cfg.steps, seed, cfg.eval_episodes, eval_every, threshold,
                                           overrides)
                        else:
                            row = run_sb3(agent, task, cfg.steps, seed, cfg.eval_episodes, eval_every, threshold,
                                          cfg.sb3_hyperparams, overrides)
                        if log:
                            _append(log, row)
                    print(json.dumps(row), flush=True)
                    sides[side].append(row)
                    rows.append(row)
            summary = _summary(agent, task, sides)
            if eval_every:
                summary.update(_goal_summary(sides, threshold))
            print(json.dumps(summary), flush=True)
    if cfg.out:
        result = write_report(rows, cfg.out, cfg.bootstrap_reps)
        for line in result["aggregates"]:
            print(json.dumps(line), flush=True)
        print(json.dumps({"report": str(cfg.out / "report.json"), "plots": result["plots"]}), flush=True)


def with_suite(cfg: Config) -> Config:
    """``cfg`` with ``--suite``'s settings filled in (unchanged for ``--suite none``); checks that
    ``--out`` has evaluations to report."""
    if cfg.suite != "none":
        cfg = dataclasses.replace(cfg, agents=("dqn", "ppo", "a2c"), tasks=SUITE_TASKS, seeds=SUITE_SEEDS[cfg.suite],
                                  eval_episodes=10, sb3_hyperparams="zoo",
                                  out=cfg.out or Path("runs") / f"rl-{cfg.suite}")
    if cfg.out and cfg.suite == "none" and not cfg.eval_every:
        raise SystemExit("--out reports learning curves: give --eval-every (or --suite)")
    return cfg


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("lr=5e-4", "hidden=[128, 128]")`` -> ``{"lr": 0.0005, "hidden": [128, 128]}`` (values read as
    TOML; a bare word is a string)."""
    import tomllib

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out


def task_seeds(cfg: Config, task: str) -> tuple[int, ...]:
    """The seeds ``task`` runs: all of ``cfg.seeds``, or under ``--suite`` the first
    ``SUITE_MAX_SEEDS[task]`` of them."""
    if cfg.suite != "none" and task in SUITE_MAX_SEEDS:
        return cfg.seeds[:SUITE_MAX_SEEDS[task]]
    return cfg.seeds


def task_threshold(task: str, given: float | None) -> float:
    """``given``, else the task's solved threshold from ``rl_stats.TASKS`` (an unknown task needs
    ``--threshold``)."""
    if given is not None:
        return given
    bounds = _rl_stats().TASKS.get(task)
    if bounds is None:
        raise SystemExit(f"no threshold known for {task}: give --threshold")
    return bounds.threshold


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The run rows already in ``path`` (none if it does not exist); a torn last line (a run killed
    while its line was written) is dropped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _finished_run(rows: list[dict[str, Any]], side: str, agent: str, task: str, seed: int) -> dict[str, Any] | None:
    for row in rows:
        if (row["side"], row["agent"], row["task"], row["seed"]) == (side, agent, task, seed) and "evals" in row:
            return row
    return None


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def final_score(row: dict[str, Any]) -> float:
    """A run's final evaluation mean: the mean of its last ``FINAL_EVALS`` evaluations."""
    means = [m for _, _, m in row["evals"]]
    return float(np.mean(means[-FINAL_EVALS:]))


def write_report(rows: list[dict[str, Any]], out: Path, reps: int = 2000) -> dict[str, Any]:
    """Aggregate the runs (rliable, ``benchmarks/rl_stats.py``) into ``out/report.json`` and the
    plots; returns the report.

    Per agent and task, per side: every seed's final score (``final_score``) and normalized area
    under its learning curve, the share of seeds whose final score reaches the task's threshold,
    the median env steps and wall seconds to it (a seed that never got there counts as infinitely
    late), and the IQM of both normalized scores with its 95% bootstrap interval. Per agent across
    the tasks: IQM / median / mean of the normalized final score and of the AUC with 95%
    stratified-bootstrap intervals, and P(ours > SB3) with its interval. rliable's [runs, tasks]
    arrays need as many runs on every task, so the cross-task figures use the seeds every task ran
    (under ``--suite``: the first 5); the per-task ones use all of them.
    """
    stats = _rl_stats()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    per_task, aggregates = [], []
    final: dict[str, np.ndarray] = {}  # "<agent> (ours|SB3)" -> normalized [common seeds, tasks]
    auc: dict[str, np.ndarray] = {}
    for agent in agents:
        sides = [s for s in ("ours", "sb3") if any(r["agent"] == agent and r["side"] == s for r in rows)]
        for task in tasks:
            threshold = next(r["threshold"] for r in rows if r["task"] == task)
            line: dict[str, Any] = {"part": "task", "agent": agent, "task": task, "threshold": threshold}
            for side in sides:
                runs = sorted((r for r in rows if (r["agent"], r["task"], r["side"]) == (agent, task, side)),
                              key=lambda r: r["seed"])
                finals = [final_score(r) for r in runs]
                aucs = [run_auc(r) for r in runs]
                line[side] = {
                    "seeds": [r["seed"] for r in runs], "final": finals, "auc": [round(a, 4) for a in aucs],
                    "seeds_ending_above": sum(f >= threshold for f in finals), "runs": len(runs),
                    "median_steps_to_threshold": _median_or_none([r["steps_to_threshold"] for r in runs]),
                    "median_seconds_to_threshold": _median_or_none([r["seconds_to_threshold"] for r in runs]),
                    "iqm_final": stats.aggregate({side: stats.normalize(finals, task)[:, None]}, reps, 0)[side]["iqm"],
                    "iqm_auc": stats.aggregate({side: np.array(aucs)[:, None]}, reps, 0)[side]["iqm"],
                }
            per_task.append(line)
        common = _common_seeds(rows, agent, sides, tasks)
        for side in sides:
            by_seed = {(r["task"], r["seed"]): r for r in rows if r["agent"] == agent and r["side"] == side}
            grid = [[by_seed[(t, s)] for t in tasks] for s in common]
            key = f"{agent} {_LABEL[side]}"
            final[key] = np.array([[float(stats.normalize(final_score(r), r["task"])) for r in seed_runs]
                                   for seed_runs in grid])
            auc[key] = np.array([[run_auc(r) for r in seed_runs] for seed_runs in grid])
        line = {"part": "aggregate", "agent": agent, "tasks": tasks, "seeds": common, "sides": sides}
        if len(sides) == 2:
            ours, peer = f"{agent} {_LABEL['ours']}", f"{agent} {_LABEL['sb3']}"
            line["p_improvement_final"] = stats.probability_of_improvement(final[ours], final[peer], reps, 0)
            line["p_improvement_auc"] = stats.probability_of_improvement(auc[ours], auc[peer], reps, 0)
        aggregates.append(line)
    # one bootstrap per score kind serves both report.json and the plots (the same intervals in both)
    final_ci, auc_ci = stats.aggregate(final, reps, 0), stats.aggregate(auc, reps, 0)
    for line in aggregates:
        for side in line.pop("sides"):
            key = f"{line['agent']} {_LABEL[side]}"
            line[side] = {"final": final_ci[key], "auc": auc_ci[key]}
    out.mkdir(parents=True, exist_ok=True)
    label = f"normalized score over {', '.join(tasks)}"
    plots = [str(stats.plot_aggregates(final_ci, out / "aggregates.png",
                                       f"Final return ({label}, seeds {_seed_span(aggregates[0]['seeds'])})")),
             str(stats.plot_aggregates(auc_ci, out / "auc.png", f"Learning-curve AUC ({label})")),
             str(stats.plot_performance_profiles(final, out / "profiles.png", reps=reps))]
    report = {"tasks": tasks, "agents": agents, "final_evals": FINAL_EVALS, "per_task": per_task,
              "aggregates": aggregates, "plots": plots}
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def run_auc(row: dict[str, Any]) -> float:
    """A run's normalized area under its learning curve (``rl_stats.learning_curve_auc`` of its evaluations)."""
    return _rl_stats().learning_curve_auc([s for s, _, _ in row["evals"]], [m for _, _, m in row["evals"]],
                                          row["task"])


_LABEL = {"ours": "(ours)", "sb3": "(SB3)"}


def _common_seeds(rows: list[dict[str, Any]], agent: str, sides: list[str], tasks: list[str]) -> list[int]:
    """The seeds that ran on every task for every side of ``agent``, in order."""
    seeds = None
    for side in sides:
        for task in tasks:
            have = {r["seed"] for r in rows if (r["agent"], r["task"], r["side"]) == (agent, task, side)}
            seeds = have if seeds is None else seeds & have
    return sorted(seeds or ())


def _seed_span(seeds: list[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0]) if seeds else "none"


def _median_or_none(values: list[float | None]) -> float | None:
    """The median with None as infinitely late; None when the median itself is."""
    median = float(np.median([math.inf if v is None else v for v in values])) if values else math.inf
    return None if math.isinf(median) else round(median, 2)


def _rl_stats() -> Any:
    """benchmarks/rl_stats.py as a module (it sits beside this script, not in a package)."""
    import importlib.util
    import sys

    if "rl_stats" in sys.modules:
        return sys.modules["rl_stats"]
    spec = importlib.util.spec_from_file_location("rl_stats", Path(__file__).with_name("rl_stats.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


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
            out[f"{side}_median_{key}"] = _median_or_none([r[key] for r in runs])
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
        return {"threshold": self.threshold, "evals": [[s, round(t, 2), m] for s, t, m in self.records],
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


class _SB3Actor:
    """An SB3 model behind our learners' ``act`` (masks are not used by these tasks); with
    ``normalizer`` (the training VecNormalize) observations are scaled by its running statistics,
    which evaluation does not update."""

    def __init__(self, model: Any, normalizer: Any = None) -> None:
        self.model, self.normalizer = model, normalizer

    def act(self, obs: np.ndarray, action_mask: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        if self.normalizer is not None:
            obs = self.normalizer.normalize_obs(obs)
        return self.model.predict(obs, deterministic=deterministic)[0]


if __name__ == "__main__":
    main(tyro.cli(Config))
