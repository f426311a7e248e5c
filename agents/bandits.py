"""Bandit algorithms of Sutton & Barto (2018), chapter 2, vectorized over the testbed's R runs.

Each algorithm is a frozen config dataclass (its parameters and a ``label``) whose
``build(runs, arms, device)`` returns a small learner holding the estimates of R runs x k arms
as tensors. A learner answers ``select(generator) -> arms [R]`` and ``update(arms, rewards)``;
neither loops over runs. The update rules are pure functions (``incremental_update``,
``ucb_scores``, ``gradient_bandit_update``, ``gaussian_posterior``, ``sample_beta``) so their
tests need no testbed. ``run_testbed`` runs a list of algorithms on fresh testbeds that share
one seed (the same true arm values for every algorithm) and returns the per-step curves.

Greedy choices break ties uniformly at random, as the book does (with ``Q0 = 0`` a first-index
``argmax`` would always try arm 0 first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, Union

import torch

from envs.bandits import BanditConfig, BanditTestbed


class BanditLearner(Protocol):
    """The estimates of R runs, and how they choose and learn."""

    def select(self, generator: torch.Generator) -> torch.Tensor:
        """One arm per run, long ``[R]``."""

    def update(self, arms: torch.Tensor, rewards: torch.Tensor) -> None:
        """Learn from pulling ``arms`` long ``[R]`` and receiving ``rewards`` float ``[R]`` (in place)."""


@dataclass(frozen=True)
class EpsilonGreedy:
    """Action-value method (S&B 2.2-2.6): greedy on Q, a random arm with probability epsilon."""

    epsilon: float = 0.1  # probability of a uniformly random arm (0: greedy)
    step_size: float | None = None  # None: sample averages 1/n (eq. 2.3); else constant alpha (eq. 2.5)
    initial_value: float = 0.0  # Q1 of every arm (5 with epsilon 0 is the optimistic method, S&B 2.6)

    @property
    def label(self) -> str:
        name = "greedy" if self.epsilon == 0 else f"epsilon-greedy eps={_num(self.epsilon)}"
        alpha = "" if self.step_size is None else f" alpha={_num(self.step_size)}"
        q0 = "" if self.initial_value == 0 else f" Q0={_num(self.initial_value)}"
        return name + alpha + q0

    def build(self, runs: int, arms: int, device: torch.device | str = "cpu") -> EpsilonGreedyLearner:
        return EpsilonGreedyLearner(self, runs, arms, device)


@dataclass(frozen=True)
class UCB:
    """Upper-confidence-bound selection (S&B 2.7, eq. 2.10) on sample averages; c=sqrt(2) is UCB1."""

    c: float = 2.0  # exploration weight of the bonus c * sqrt(ln t / N(a))

    @property
    def label(self) -> str:
        return "UCB1" if math.isclose(self.c, math.sqrt(2)) else f"UCB c={_num(self.c)}"

    def build(self, runs: int, arms: int, device: torch.device | str = "cpu") -> UCBLearner:
        return UCBLearner(self, runs, arms, device)


@dataclass(frozen=True)
class GradientBandit:
    """Soft-max preferences learned by stochastic gradient ascent (S&B 2.8, eq. 2.12)."""

    step_size: float = 0.1  # alpha
    baseline: bool = True  # subtract the average reward so far (False: baseline 0)

    @property
    def label(self) -> str:
        return f"gradient bandit alpha={_num(self.step_size)} {'with' if self.baseline else 'without'} baseline"

    def build(self, runs: int, arms: int, device: torch.device | str = "cpu") -> GradientBanditLearner:
        return GradientBanditLearner(self, runs, arms, device)


@dataclass(frozen=True)
class ThompsonBernoulli:
    """Thompson sampling for 0/1 rewards: a Beta(a, b) posterior per arm, play the best sample."""

    prior_a: float = 1.0  # prior successes + 1 (Beta(1, 1) is uniform); must be >= 1
    prior_b: float = 1.0  # prior failures + 1; must be >= 1

    def __post_init__(self) -> None:
        if self.prior_a < 1 or self.prior_b < 1:
            raise ValueError(f"Beta prior parameters must be >= 1, got a={self.prior_a}, b={self.prior_b}")

    @property
    def label(self) -> str:
        return f"Thompson Bernoulli Beta({_num(self.prior_a)},{_num(self.prior_b)})"

    def build(self, runs: int, arms: int, device: torch.device | str = "cpu") -> ThompsonBernoulliLearner:
        return ThompsonBernoulliLearner(self, runs, arms, device)


@dataclass(frozen=True)
class ThompsonGaussian:
    """Thompson sampling for Gaussian rewards of known noise: a N(mean, var) posterior per arm."""

    prior_mean: float = 0.0  # mean of the prior on q*(a) (the testbed draws q* ~ N(0, 1))
    prior_std: float = 1.0  # std of that prior
    noise_std: float = 1.0  # the (known) std of a reward around q*(a)

    @property
    def label(self) -> str:
        return f"Thompson Gaussian N({_num(self.prior_mean)},{_num(self.prior_std)}^2)"

    def build(self, runs: int, arms: int, device: torch.device | str = "cpu") -> ThompsonGaussianLearner:
        return ThompsonGaussianLearner(self, runs, arms, device)


Algorithm = Union[EpsilonGreedy, UCB, GradientBandit, ThompsonBernoulli, ThompsonGaussian]


# ---- the math, as functions -------------------------------------------------------------
# Learners keep their estimates arm-major, [k, R]: a reduction over the k arms then runs along
# contiguous memory for all R runs at once, about 10x faster on a CPU than over the last dim
# of [R, k] (amax: 4 us vs 40 us at 2000 x 10).


def incremental_update(q: torch.Tensor, target: torch.Tensor, step_size: torch.Tensor | float) -> torch.Tensor:
    """``Q + step_size * (target - Q)`` (S&B eq. 2.4/2.5), any matching shapes.

    With ``step_size = 1/n`` for the n-th reward, Q is the sample average of the rewards; with
    a constant alpha it is the exponential recency-weighted average (eq. 2.6).
    """
    return q + step_size * (target - q)


def ucb_scores(q: torch.Tensor, counts: torch.Tensor, t: int, c: float) -> torch.Tensor:
    """``Q(a) + c sqrt(ln t / N(a))`` (S&B eq. 2.10), ``+inf`` for arms never pulled.

    Args:
        q: sample averages, float, any shape (``[k, R]`` in the learner).
        counts: pulls per arm ``N(a)``, float, the shape of ``q``.
        t: the current time step, 1 for the first pull; ``counts`` sum to ``t - 1`` per run.
        c: exploration weight.
    """
    if t == 1:  # nothing pulled yet (and ln 1 / 0 would be nan)
        return torch.full_like(q, math.inf)
    # ln t / 0 = inf gives the never-pulled arms +inf without a separate mask
    return (math.log(t) / counts).sqrt_().mul_(c).add_(q)


def gradient_bandit_update(
    h: torch.Tensor, pi: torch.Tensor, arms: torch.Tensor, advantage: torch.Tensor, step_size: float,
) -> torch.Tensor:
    """New preferences ``H + alpha (R - baseline) (1[a = A] - pi)`` (S&B eq. 2.12), ``[k, R]``.

    Args:
        h: preferences float ``[k, R]``; pi: their soft-max over arms ``[k, R]`` (the policy that chose).
        arms: the arms pulled, long ``[R]``; advantage: ``R_t - baseline`` float ``[R]``.
    """
    step = step_size * advantage  # (R,)
    return (h - step * pi).scatter_add_(0, arms[None, :], step[None, :])


def gaussian_posterior(
    counts: torch.Tensor, reward_sums: torch.Tensor, prior_mean: float, prior_std: float, noise_std: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of q*(a) after ``counts`` rewards summing to ``reward_sums``.

    The conjugate normal update with known reward noise: precision ``1/tau0^2 + n/sigma^2``,
    mean ``(mu0/tau0^2 + sum/sigma^2) / precision``. Any matching shapes.
    """
    precision = 1.0 / prior_std**2 + counts / noise_std**2
    mean = (prior_mean / prior_std**2 + reward_sums / noise_std**2) / precision
    return mean, precision.rsqrt()


def sample_gamma(shape: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gamma(shape, 1) samples for ``shape >= 1`` (any tensor shape), drawn from ``generator``.

    One dense round of Marsaglia & Tsang's (2000) method; the ~2-5% of draws it rejects are
    redrawn by torch's exact gamma sampler (3x slower per draw, so only for those). Mixing two
    exact samplers this way is still exact, and no global random state is touched.
    """
    d = shape - 1.0 / 3.0
    x = torch.randn(d.shape, device=d.device, generator=generator)
    u = torch.rand(d.shape, device=d.device, generator=generator)
    v = (9.0 * d).rsqrt_().mul_(x).add_(1.0)
    v = v * v * v
    # accept when log u < x^2/2 + d - d v + d log v; v <= 0 gives a nan or -inf right side: rejected
    bound = v.log().sub_(v).add_(1.0).mul_(d).addcmul_(x, x, value=0.5)
    ok = u.log_() < bound
    out = v.mul_(d)
    rejected = (~ok).nonzero(as_tuple=True)
    if rejected[0].numel() > 0:
        out[rejected] = torch._standard_gamma(shape[rejected], generator=generator)
    return out


def sample_beta(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Beta(a, b) samples (``a, b >= 1``, same shape) as ``X / (X + Y)`` of two Gamma draws."""
    xy = sample_gamma(torch.stack([a, b]), generator)  # (2, *a.shape)
    return xy[0] / (xy[0] + xy[1])


def random_argmax(values: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The best arm of each run, ``[k, R] -> long [R]``, ties broken uniformly at random.

    A run with m tied best arms draws j uniform in 0..m-1 and takes its (j+1)-th tied arm.
    """
    best = values == values.amax(dim=0)  # (k, R)
    index = torch.arange(values.shape[0], device=values.device)[:, None]  # (k, 1)
    ties = best.sum(dim=0)  # (R,)
    if int(ties.max()) > 1:
        j = torch.rand(ties.shape, device=values.device, generator=generator) * ties
        j = torch.minimum(j.long(), ties - 1)  # (R,) guards rand * m rounding up to m
        best &= best.cumsum(dim=0) == j + 1  # keep only the (j+1)-th tied arm
    return (best * index).sum(dim=0)


# ---- the learners: state of R runs, select and update ------------------------------------
class EpsilonGreedyLearner:
    """Q and N of ``EpsilonGreedy`` for R runs, arm-major ``[k, R]``."""

    def __init__(self, cfg: EpsilonGreedy, runs: int, arms: int, device: torch.device | str) -> None:
        self.cfg = cfg
        self.q = torch.full((arms, runs), float(cfg.initial_value), device=device)  # (k, R)
        self.n = torch.zeros(arms, runs, device=device)  # (k, R) pulls per arm

    def select(self, generator: torch.Generator) -> torch.Tensor:
        greedy = random_argmax(self.q, generator)
        if self.cfg.epsilon == 0:
            return greedy
        arms, runs = self.q.shape
        explore = torch.rand(runs, device=self.q.device, generator=generator) < self.cfg.epsilon
        random_arm = torch.randint(arms, (runs,), device=self.q.device, generator=generator)
        return torch.where(explore, random_arm, greedy)

    def update(self, arms: torch.Tensor, rewards: torch.Tensor) -> None:
        _value_update(self.q, self.n, arms, rewards, self.cfg.step_size)


class UCBLearner:
    """Sample averages, counts ``[k, R]`` and the time step of ``UCB`` for R runs."""

    def __init__(self, cfg: UCB, runs: int, arms: int, device: torch.device | str) -> None:
        self.cfg = cfg
        self.q = torch.zeros(arms, runs, device=device)
        self.n = torch.zeros(arms, runs, device=device)
        self.t = 0

    def select(self, generator: torch.Generator) -> torch.Tensor:
        self.t += 1
        return random_argmax(ucb_scores(self.q, self.n, self.t, self.cfg.c), generator)

    def update(self, arms: torch.Tensor, rewards: torch.Tensor) -> None:
        _value_update(self.q, self.n, arms, rewards, None)


class GradientBanditLearner:
    """Preferences H ``[k, R]``, the last policy and the average-reward baseline of ``GradientBandit``."""

    def __init__(self, cfg: GradientBandit, runs: int, arms: int, device: torch.device | str) -> None:
        self.cfg = cfg
        self.h = torch.zeros(arms, runs, device=device)  # (k, R)
        self.pi = torch.full((arms, runs), 1.0 / arms, device=device)  # (k, R) soft-max of h
        self.average_reward = torch.zeros(runs, device=device)  # (R,)
        self.t = 0

    def select(self, generator: torch.Generator) -> torch.Tensor:
        self.pi = torch.softmax(self.h, dim=0)
        # inverse-CDF sampling: far cheaper than torch.multinomial for small k
        u = torch.rand(self.h.shape[1], device=self.h.device, generator=generator)
        arms = (self.pi.cumsum(dim=0) < u).sum(dim=0)
        return arms.clamp_(max=self.h.shape[0] - 1)  # guards u above a rounded-down total

    def update(self, arms: torch.Tensor, rewards: torch.Tensor) -> None:
        self.t += 1
        if self.cfg.baseline:
            # the average of all rewards up through and including time t (S&B 2018, p. 37)
            self.average_reward = incremental_update(self.average_reward, rewards, 1.0 / self.t)
            advantage = rewards - self.average_reward
        else:
            advantage = rewards
        self.h = gradient_bandit_update(self.h, self.pi, arms, advantage, self.cfg.step_size)


class ThompsonBernoulliLearner:
    """Beta posterior parameters (a, b) ``[k, R]`` of ``ThompsonBernoulli`` for R runs."""

    def __init__(self, cfg: ThompsonBernoulli, runs: int, arms: int, device: torch.device | str) -> None:
        self.a = torch.full((arms, runs), float(cfg.prior_a), device=device)
        self.b = torch.full((arms, runs), float(cfg.prior_b), device=device)

    def select(self, generator: torch.Generator) -> torch.Tensor:
        return sample_beta(self.a, self.b, generator).max(dim=0).indices  # continuous: no ties

    def update(self, arms: torch.Tensor, rewards: torch.Tensor) -> None:
        # rewards are 0/1; a fractional reward in [0, 1] counts as that much success
        idx = arms[None, :]
        self.a.scatter_add_(0, idx, rewards[None, :])
        self.b.scatter_add_(0, idx, 1.0 - rewards[None, :])


class ThompsonGaussianLearner:
    """Counts, reward sums and the posterior (mean, std) ``[k, R]`` of ``ThompsonGaussian``."""

    def __init__(self, cfg: ThompsonGaussian, runs: int, arms: int, device: torch.device | str) -> None:
        self.cfg = cfg
        self.n = torch.zeros(arms, runs, device=device)
        self.sums = torch.zeros(arms, runs, device=device)
        self.mean = torch.full((arms, runs), float(cfg.prior_mean), device=device)
        self.std = torch.full((arms, runs), float(cfg.prior_std), device=device)

    def select(self, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, device=self.mean.device, generator=generator)
        return torch.addcmul(self.mean, self.std, noise).max(dim=0).indices  # continuous: no ties

    def update(self, arms: torch.Tensor, rewards: torch.Tensor) -> None:
        cfg, idx = self.cfg, arms[None, :]
        n = self.n.gather(0, idx) + 1.0
        sums = self.sums.gather(0, idx) + rewards[None, :]
        mean, std = gaussian_posterior(n, sums, cfg.prior_mean, cfg.prior_std, cfg.noise_std)
        for table, value in ((self.n, n), (self.sums, sums), (self.mean, mean), (self.std, std)):
            table.scatter_(0, idx, value)


# ---- the testbed run ----------------------------------------------------------------------


class Curves(NamedTuple):
    """Per-step results of one algorithm, averaged over the R runs."""

    average_reward: torch.Tensor  # float [T]: mean reward received at each step
    optimal_action: torch.Tensor  # float [T]: fraction of runs that pulled a best arm


def run_testbed(
    algorithms: Sequence[Algorithm], bandit: BanditConfig = BanditConfig(), runs: int = 2000,
    steps: int = 1000, seed: int = 0, device: torch.device | str = "cpu",
    progress: Callable[[str, int], None] | None = None, report_every: int = 100,
) -> dict[str, Curves]:
    """Run every algorithm for ``steps`` pulls on R fresh runs of the same testbed.

    Each algorithm starts from a generator seeded with ``seed``, so all of them face the same
    true arm values (common random numbers); the same seed gives the same curves.

    Args:
        algorithms: the configs to run (labels must be distinct).
        bandit: the testbed; runs: R; steps: T.
        progress: called as ``progress(label, steps_done_since_last_call)`` every
            ``report_every`` steps and at the end of each algorithm.

    Returns:
        ``{algorithm.label: Curves}`` with ``[T]`` CPU tensors, in the order given.
    """
    labels = [a.label for a in algorithms]
    if len(set(labels)) != len(labels):
        raise ValueError(f"algorithm labels must be distinct, got {labels}")
    if bandit.kind == "gaussian" and any(isinstance(a, ThompsonBernoulli) for a in algorithms):
        raise ValueError("ThompsonBernoulli needs 0/1 rewards: use BanditConfig(kind='bernoulli')")
    testbed = BanditTestbed(bandit)
    results = {}
    for algorithm, label in zip(algorithms, labels):
        generator = torch.Generator(device).manual_seed(seed)
        state = testbed.init(runs, device, generator)
        learner = algorithm.build(runs, bandit.arms, device)
        rewards = torch.empty(steps, runs, device=device)  # (T, R)
        optimal = torch.empty(steps, runs, dtype=torch.bool, device=device)  # (T, R)
        best = testbed.optimal_action(state)
        done = 0
        for t in range(steps):
            arms = learner.select(generator)
            if not bandit.stationary:
                best = testbed.optimal_action(state)  # the best arm when this pull is made
            torch.eq(arms, best, out=optimal[t])
            state, reward = testbed.pull(state, arms, generator)
            rewards[t] = reward
            learner.update(arms, reward)
            if progress is not None and (t + 1 - done == report_every or t + 1 == steps):
                progress(label, t + 1 - done)
                done = t + 1
        results[label] = Curves(rewards.mean(dim=1).cpu(), optimal.float().mean(dim=1).cpu())
    return results


def _value_update(q: torch.Tensor, n: torch.Tensor, arms: torch.Tensor, rewards: torch.Tensor,
                  step_size: float | None) -> None:
    """Move ``Q[arms[r], r]`` towards ``rewards[r]`` in place; ``None`` step size is 1/N (sample average)."""
    idx = arms[None, :]  # (1, R)
    count = n.gather(0, idx) + 1.0
    n.scatter_(0, idx, count)
    alpha = 1.0 / count if step_size is None else step_size
    q.scatter_(0, idx, incremental_update(q.gather(0, idx), rewards[None, :], alpha))


def _num(x: float) -> str:
    """A parameter as written by hand: 0.1, 2, 1.41."""
    return f"{x:g}" if abs(x - round(x, 2)) < 1e-12 else f"{x:.3g}"
