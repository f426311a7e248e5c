"""Bandit testbed speed: our torch algorithms against a plain vectorized numpy loop, as JSON lines.

Measured, at R runs x T steps (2000 x 1000 by default, the figures of Sutton & Barto ch. 2):

- ``peer``: greedy, epsilon-greedy 0.01 / 0.1 (sample averages) and UCB c=2 on the Gaussian
  10-armed testbed, ours (``agents.bandits.run_testbed``) and the same algorithms written here in
  plain numpy (arrays ``[R, k]``, one vectorized step per time step, ties broken at random, as
  ours), alternating ``--repeats`` times, best run each; the row reports ``ours_over_numpy``;
- ``full``: the whole ``arena bandits`` comparison (every distinct testbed/algorithm pair of
  every figure, 16 algorithms), ours only, without plotting or writing files;
- ``final``: per algorithm of the peer set, the mean reward and optimal-action fraction over
  the last 10% of the steps from both implementations (they agree within the noise).

The first step of each implementation is warmed up untimed. Run ``python benchmarks/bandits.py
--help``; results and the machine are recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import tyro

from agents.bandits import UCB, EpsilonGreedy, run_testbed
from arena.commands.bandits import ALL_FIGURES, FIGURES
from envs.bandits import BanditConfig

PEER_SET = (EpsilonGreedy(0.0), EpsilonGreedy(0.01), EpsilonGreedy(0.1), UCB(2.0))


@dataclass(frozen=True)
class Config:
    """Options of the bandit benchmark."""

    runs: int = 2000
    """Independent runs R."""
    steps: int = 1000
    """Steps T per run."""
    arms: int = 10
    """Arms k."""
    repeats: int = 3
    """Alternating repeats of ours and numpy; each row reports the best (least disturbed) run."""
    threads: int = 1
    """torch.set_num_threads (numpy's elementwise loops are single-threaded anyway)."""
    seed: int = 0
    """Random seed of both implementations."""


def numpy_testbed(epsilons_and_c: list[tuple[float, float | None]], runs: int, steps: int, arms: int,
                  seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The plain numpy peer: epsilon-greedy (``c is None``) or UCB(c), sample averages, ``[R, k]`` arrays.

    Returns ``{name: (average_reward [T], optimal_action [T])}``.
    """
    results = {}
    rows = np.arange(runs)
    for epsilon, c in epsilons_and_c:
        rng = np.random.default_rng(seed)
        q_star = rng.standard_normal((runs, arms))
        best = q_star.argmax(axis=1)
        q = np.zeros((runs, arms))
        n = np.zeros((runs, arms))
        reward_curve, optimal_curve = np.empty(steps), np.empty(steps)
        for t in range(steps):
            if c is None:
                scores = q
            elif t == 0:
                scores = np.full_like(q, np.inf)
            else:
                with np.errstate(divide="ignore"):
                    scores = q + c * np.sqrt(math.log(t + 1) / n)  # inf for unpulled arms
            tied = scores == scores.max(axis=1, keepdims=True)
            arm = np.where(tied, rng.random((runs, arms)), -1.0).argmax(axis=1)
            if epsilon > 0:
                explore = rng.random(runs) < epsilon
                arm = np.where(explore, rng.integers(arms, size=runs), arm)
            reward = q_star[rows, arm] + rng.standard_normal(runs)
            n[rows, arm] += 1
            q[rows, arm] += (reward - q[rows, arm]) / n[rows, arm]
            reward_curve[t] = reward.mean()
            optimal_curve[t] = (arm == best).mean()
        results[f"eps={epsilon:g}" if c is None else f"UCB c={c:g}"] = (reward_curve, optimal_curve)
    return results


def full_comparison(runs: int, steps: int, arms: int, seed: int) -> int:
    """Every distinct (testbed, algorithm) pair of ``arena bandits``; returns how many ran."""
    jobs: dict[BanditConfig, dict[str, Any]] = {}
    for name in ALL_FIGURES:
        fig = FIGURES[name]
        for algorithm in fig.algorithms:
            jobs.setdefault(replace(fig.bandit, arms=arms), {})[algorithm.label] = algorithm
    for bandit, algorithms in jobs.items():
        run_testbed(list(algorithms.values()), bandit, runs, steps, seed)
    return sum(len(a) for a in jobs.values())


def run(cfg: Config) -> list[dict[str, Any]]:
    torch.set_num_threads(cfg.threads)
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        print(json.dumps({"bench": "bandits", **row}), flush=True)

    emit({"machine": machine(), "runs": cfg.runs, "steps": cfg.steps, "arms": cfg.arms, "repeats": cfg.repeats})
    peer = [(a.epsilon, None) if isinstance(a, EpsilonGreedy) else (0.0, a.c) for a in PEER_SET]
    run_testbed(PEER_SET, BanditConfig(arms=cfg.arms), runs=cfg.runs, steps=2, seed=cfg.seed)  # warm-up
    numpy_testbed(peer, cfg.runs, 2, cfg.arms, cfg.seed)
    ours_s, numpy_s = [], []
    for _ in range(cfg.repeats):
        start = time.perf_counter()
        ours = run_testbed(PEER_SET, BanditConfig(arms=cfg.arms), cfg.runs, cfg.steps, cfg.seed)
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = numpy_testbed(peer, cfg.runs, cfg.steps, cfg.arms, cfg.seed)
        numpy_s.append(time.perf_counter() - start)
    emit({"measure": "peer", "algorithms": [a.label for a in PEER_SET], "ours_s": round(min(ours_s), 3),
          "numpy_s": round(min(numpy_s), 3), "ours_over_numpy": round(min(ours_s) / min(numpy_s), 2),
          "ours_runs_s": [round(s, 3) for s in ours_s], "numpy_runs_s": [round(s, 3) for s in numpy_s]})

    full_s = []
    for _ in range(cfg.repeats):
        start = time.perf_counter()
        count = full_comparison(cfg.runs, cfg.steps, cfg.arms, cfg.seed)
        full_s.append(time.perf_counter() - start)
    emit({"measure": "full", "algorithms": count, "ours_s": round(min(full_s), 3),
          "ours_runs_s": [round(s, 3) for s in full_s]})

    tail = slice(-max(1, cfg.steps // 10), None)
    for algorithm, (reward, optimal) in zip(PEER_SET, theirs.values()):
        mine = ours[algorithm.label]
        emit({"measure": "final", "algorithm": algorithm.label, "last_steps": cfg.steps // 10,
              "ours": {"average_reward": round(float(mine.average_reward[tail].mean()), 3),
                       "optimal_action": round(float(mine.optimal_action[tail].mean()), 3)},
              "numpy": {"average_reward": round(float(reward[tail].mean()), 3),
                        "optimal_action": round(float(optimal[tail].mean()), 3)}})
    return rows


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout if shutil.which("lscpu") else ""
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")),
                 platform.processor())
    return {"cpu": model, "cpu_count": os.cpu_count(), "torch": torch.__version__, "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "date": datetime.date.today().isoformat(), "loadavg_1min": os.getloadavg()[0]}


def main() -> None:
    run(tyro.cli(Config))


if __name__ == "__main__":
    main()
