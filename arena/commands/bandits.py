"""``arena bandits``: the 10-armed testbed comparisons of Sutton & Barto (2018), chapter 2.

Runs every algorithm of the chosen figures on R runs x T steps (``agents.bandits.run_testbed``,
each distinct (testbed, algorithm) pair once, all on the same seed) and writes to the run folder:

- ``results.json``: ``{"<algorithm label with its parameters>": {"average_reward": [T floats],
  "optimal_action": [T fractions]}, ...}``; a label carries its testbed in brackets unless it
  is the standard one (Gaussian, q* ~ N(0, 1)), e.g. ``"UCB1 [Bernoulli]"``;
- one PNG per figure (average reward and % optimal action against the step);
- ``config.json``; and it prints a summary table (the mean over the last 10% of the steps).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from tqdm import tqdm

from agents.bandits import (
    UCB, Algorithm, Curves, EpsilonGreedy, GradientBandit, ThompsonBernoulli, ThompsonGaussian, run_testbed,
)
from arena.io import runs
from envs.bandits import BanditConfig

import matplotlib.pyplot as plt  # noqa: E402,I001  (after arena.io.runs chose the Agg backend)

FigureName = Literal[
    "epsilon-greedy", "optimistic", "ucb", "gradient", "thompson-bernoulli", "thompson-gaussian", "nonstationary",
]
ALL_FIGURES: tuple[FigureName, ...] = (
    "epsilon-greedy", "optimistic", "ucb", "gradient", "thompson-bernoulli", "thompson-gaussian", "nonstationary",
)


class Figure(NamedTuple):
    """One comparison: a testbed (``arms`` is set by the command) and the algorithms on it."""

    title: str
    bandit: BanditConfig
    algorithms: tuple[Algorithm, ...]


FIGURES: dict[str, Figure] = {
    "epsilon-greedy": Figure("S&B figure 2.2: greedy vs epsilon-greedy (sample averages)", BanditConfig(),
                             (EpsilonGreedy(0.0), EpsilonGreedy(0.01), EpsilonGreedy(0.1))),
    "optimistic": Figure("S&B figure 2.3: optimistic vs realistic initial values (alpha 0.1)", BanditConfig(),
                         (EpsilonGreedy(0.0, 0.1, 5.0), EpsilonGreedy(0.1, 0.1, 0.0))),
    "ucb": Figure("S&B figure 2.4: UCB vs epsilon-greedy", BanditConfig(), (UCB(2.0), EpsilonGreedy(0.1))),
    "gradient": Figure("S&B figure 2.5: gradient bandit, q* ~ N(4, 1)", BanditConfig(mean_offset=4.0),
                       (GradientBandit(0.1, True), GradientBandit(0.4, True),
                        GradientBandit(0.1, False), GradientBandit(0.4, False))),
    "thompson-bernoulli": Figure("Thompson sampling on Bernoulli arms, p* ~ U(0, 1)", BanditConfig(kind="bernoulli"),
                                 (ThompsonBernoulli(), UCB(math.sqrt(2)), EpsilonGreedy(0.1))),
    "thompson-gaussian": Figure("Thompson sampling on the Gaussian testbed", BanditConfig(),
                                (ThompsonGaussian(), UCB(2.0), EpsilonGreedy(0.1))),
    "nonstationary": Figure("S&B exercise 2.5: drifting arms (random walk 0.01), sample average vs alpha 0.1",
                            BanditConfig(drift_std=0.01, initial_mean_std=0.0),
                            (EpsilonGreedy(0.1), EpsilonGreedy(0.1, 0.1))),
}


@dataclass(frozen=True)
class BanditsCommand:
    """The k-armed testbed figures of Sutton & Barto chapter 2: PNG plots and results.json."""

    runs: int = 2000
    """Independent runs (testbeds) averaged per curve."""
    steps: int = 1000
    """Pulls per run."""
    arms: int = 10
    """Arms per testbed (k)."""
    figures: tuple[FigureName, ...] = field(default=ALL_FIGURES)
    """Which comparisons to run and plot (default: all)."""
    seed: int = 0
    """Random seed: every algorithm faces the same arms, and the same seed gives the same curves."""
    out: Path | None = None
    """Run folder (default runs/bandits-<timestamp>)."""
    device: Literal["cpu", "cuda"] = "cpu"
    """Torch device (these tensors are small: the CPU is the fast choice)."""
    threads: int = 1
    """torch.set_num_threads (1 is fastest for [k, 2000] tensors on a small CPU)."""
    progress: bool = True
    """Show a progress bar (--no-progress to hide it)."""

    def __post_init__(self) -> None:
        for name in ("runs", "steps", "arms"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if not self.figures:
            raise ValueError(f"choose at least one figure of {', '.join(ALL_FIGURES)}")

    def run(self) -> Path:
        return run_bandits(self)


def result_key(label: str, bandit: BanditConfig) -> str:
    """The results.json key: the algorithm's label, plus its testbed unless it is the standard one."""
    parts = []
    if bandit.kind == "bernoulli":
        parts.append("Bernoulli")
    elif bandit.initial_mean_std == 0:
        parts.append(f"q* = {bandit.mean_offset:g}")
    elif bandit.mean_offset != 0 or bandit.initial_mean_std != 1:
        parts.append(f"q* ~ N({bandit.mean_offset:g}, {bandit.initial_mean_std:g}^2)")
    if bandit.kind == "gaussian" and bandit.noise_std != 1:
        parts.append(f"noise {bandit.noise_std:g}")
    if not bandit.stationary:
        parts.append(f"drift {bandit.drift_std:g}")
    return f"{label} [{', '.join(parts)}]" if parts else label


def run_bandits(cmd: BanditsCommand) -> Path:
    """Run the chosen figures, write results.json, config.json and one PNG per figure; returns the folder."""
    torch.set_num_threads(cmd.threads)
    figures = {name: FIGURES[name] for name in ALL_FIGURES if name in cmd.figures}  # canonical order
    # every distinct (testbed, algorithm) pair runs once, even when several figures show it
    jobs: dict[BanditConfig, dict[str, Algorithm]] = {}
    for fig in figures.values():
        bandit = replace(fig.bandit, arms=cmd.arms)
        for algorithm in fig.algorithms:
            jobs.setdefault(bandit, {})[algorithm.label] = algorithm
    run_dir = runs.new_run_dir("bandits", cmd.out)
    runs.write_config(run_dir, cmd)

    total = cmd.steps * sum(len(algs) for algs in jobs.values())
    bar = tqdm(total=total, desc="bandits", unit="step", disable=not cmd.progress, dynamic_ncols=True)

    def progress(label: str, steps: int) -> None:
        bar.set_postfix_str(label, refresh=False)
        bar.update(steps)

    curves: dict[str, Curves] = {}
    start = time.perf_counter()
    with bar:
        for bandit, algorithms in jobs.items():
            results = run_testbed(list(algorithms.values()), bandit, cmd.runs, cmd.steps, cmd.seed, cmd.device, progress)
            curves.update({result_key(label, bandit): c for label, c in results.items()})
    wall = time.perf_counter() - start

    runs.write_json(run_dir / "results.json", {
        key: {"average_reward": _rounded(c.average_reward), "optimal_action": _rounded(c.optimal_action)}
        for key, c in curves.items()
    })
    for name, fig in figures.items():
        bandit = replace(fig.bandit, arms=cmd.arms)
        plot_figure(run_dir / f"{name}.png", fig.title,
                    {a.label: curves[result_key(a.label, bandit)] for a in fig.algorithms})
    _print_summary(curves, cmd, wall)
    print(f"wrote {run_dir / 'results.json'} and {len(figures)} plots in {run_dir}")
    return run_dir


def plot_figure(path: Path, title: str, curves: dict[str, Curves]) -> Path:
    """Average reward and % optimal action against the step, one line per algorithm.

    Not ``runs.plot_curves``: its panels take metric names from one history, and here both
    panels share the algorithm labels, with the second one in percent.
    """
    fig, (ax_reward, ax_optimal) = plt.subplots(1, 2, figsize=(11, 4))
    for label, c in curves.items():
        steps = range(1, len(c.average_reward) + 1)
        ax_reward.plot(steps, c.average_reward.numpy(), label=label, linewidth=0.9)
        ax_optimal.plot(steps, 100 * c.optimal_action.numpy(), label=label, linewidth=0.9)
    ax_reward.set_ylabel("average reward")
    ax_optimal.set_ylabel("% optimal action")
    ax_optimal.set_ylim(0, 100)
    for ax in (ax_reward, ax_optimal):
        ax.set_xlabel("steps")
        ax.grid(alpha=0.3)
    ax_optimal.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    return runs.save_figure(fig, path)


def _print_summary(curves: dict[str, Curves], cmd: BanditsCommand, wall: float) -> None:
    """One row per algorithm: the mean over the last 10% of the steps."""
    tail = max(1, cmd.steps // 10)
    width = max(len(k) for k in curves)
    print(f"\n{cmd.runs} runs x {cmd.steps} steps, {cmd.arms} arms, seed {cmd.seed}: "
          f"{len(curves)} algorithms in {wall:.1f} s; mean of the last {tail} steps")
    print(f"{'algorithm':<{width}}  avg reward  % optimal")
    for key, c in curves.items():
        print(f"{key:<{width}}  {float(c.average_reward[-tail:].mean()):10.3f}  "
              f"{100 * float(c.optimal_action[-tail:].mean()):9.1f}")


def _rounded(values: torch.Tensor) -> list[float]:
    """Per-step values as short JSON floats (6 decimals: far below the noise of 2000 runs)."""
    return [round(v, 6) for v in values.tolist()]
