"""The k-armed bandit testbed of Sutton & Barto (2018), chapter 2, vectorized over R runs.

Each of R independent runs has its own k arms. Gaussian arms (section 2.3) draw their
true values ``q*(a) ~ N(mean_offset, initial_mean_std^2)`` once, and a pull of arm ``a``
pays ``N(q*(a), noise_std^2)``; ``mean_offset=4`` gives the gradient-bandit testbed of
figure 2.5. Bernoulli arms draw ``p*(a) ~ U(0, 1)`` and pay 1 with probability ``p*(a)``.
With ``drift_std > 0`` the task is non-stationary (exercise 2.5 uses 0.01): after every
pull each true value takes an independent ``N(0, drift_std^2)`` random-walk step
(Bernoulli probabilities are clipped back into [0, 1]).

Everything is a pure function of the state and a ``torch.Generator``: the same seed gives
the same rewards bit for bit on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch

BanditKind = Literal["gaussian", "bernoulli"]


@dataclass(frozen=True)
class BanditConfig:
    """One testbed: the arms of every run and how they pay."""

    arms: int = 10  # k, the number of arms per run
    kind: BanditKind = "gaussian"  # "gaussian" (S&B 2.3) or "bernoulli" (p* ~ U(0, 1))
    mean_offset: float = 0.0  # Gaussian: centre of the q* draw (+4 for S&B figure 2.5)
    noise_std: float = 1.0  # Gaussian: std of a reward around q*(a)
    drift_std: float = 0.0  # > 0: non-stationary, each q* random-walks by N(0, drift_std^2) per pull
    initial_mean_std: float = 1.0  # Gaussian: std of the q* draw (0 with drift: exercise 2.5)

    def __post_init__(self) -> None:
        if self.arms < 1:
            raise ValueError(f"a bandit needs at least one arm, got arms={self.arms}")
        if self.kind not in ("gaussian", "bernoulli"):
            raise ValueError(f"kind must be 'gaussian' or 'bernoulli', got {self.kind!r}")
        for name in ("noise_std", "drift_std", "initial_mean_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def stationary(self) -> bool:
        """True when the arms never change (``drift_std == 0``)."""
        return self.drift_std == 0


@dataclass(frozen=True)
class BanditState:
    """The true arm values of R runs."""

    q_star: torch.Tensor  # float [R, k]: true mean reward of each arm (p* for Bernoulli)
    step: torch.Tensor  # long [R]: pulls made so far in each run

    @property
    def runs(self) -> int:
        return self.q_star.shape[0]


class Pull(NamedTuple):
    """What one pull returns."""

    state: BanditState  # the arms after the pull (drifted when non-stationary)
    reward: torch.Tensor  # float [R]: the reward each run received


class BanditTestbed:
    """The k-armed testbed as pure functions over a batch of R runs."""

    def __init__(self, config: BanditConfig = BanditConfig()) -> None:
        self.config = config

    @property
    def num_actions(self) -> int:
        return self.config.arms

    def init(
        self, runs: int, device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> BanditState:
        """Draw fresh arms for ``runs`` independent runs.

        Args:
            runs: R, the number of independent runs.
            device: where the tensors live; ``None`` means the generator's device, else CPU.
            generator: the source of randomness (``None``: torch's global generator).

        Returns:
            ``BanditState`` with ``q_star`` float ``[R, k]`` and ``step`` zeros long ``[R]``.
        """
        if runs < 1:
            raise ValueError(f"runs must be >= 1, got {runs}")
        device = _device(device, generator)
        cfg = self.config
        shape = (runs, cfg.arms)
        if cfg.kind == "bernoulli":
            q_star = torch.rand(shape, device=device, generator=generator)
        else:
            q_star = torch.randn(shape, device=device, generator=generator)
            q_star = cfg.mean_offset + cfg.initial_mean_std * q_star
        return BanditState(q_star=q_star, step=torch.zeros(runs, dtype=torch.long, device=device))

    def pull(
        self, state: BanditState, action: torch.Tensor | int | list[int],
        generator: torch.Generator | None = None,
    ) -> Pull:
        """Pull arm ``action[r]`` in every run ``r``.

        The reward is drawn from the arms *before* they drift; then every arm of every run
        takes its random-walk step (non-stationary only) and ``step`` grows by one.

        Args:
            state: the current arms, ``q_star`` ``[R, k]``.
            action: long ``[R]`` arm indices in ``0..k-1`` (a scalar is used for every run).
            generator: the source of randomness (``None``: torch's global generator).

        Returns:
            ``Pull(state, reward)`` with ``reward`` float ``[R]``.

        Raises:
            ValueError: wrong shape, non-integer dtype, or an arm out of range.
        """
        action = self._check_actions(state, action)
        cfg = self.config
        q = state.q_star
        mean = q.gather(1, action[:, None])[:, 0]  # (R,)
        if cfg.kind == "bernoulli":
            u = torch.rand(mean.shape, device=q.device, generator=generator)
            reward = (u < mean).to(q.dtype)
        else:
            noise = torch.randn(mean.shape, device=q.device, generator=generator)
            reward = mean + cfg.noise_std * noise
        if not cfg.stationary:
            step = torch.randn(q.shape, device=q.device, generator=generator)
            q = q + cfg.drift_std * step
            if cfg.kind == "bernoulli":
                q = q.clamp(0.0, 1.0)
        return Pull(BanditState(q_star=q, step=state.step + 1), reward)

    def optimal_action(self, state: BanditState) -> torch.Tensor:
        """The best arm of each run now, long ``[R]`` (the first one on ties)."""
        return state.q_star.argmax(dim=1)

    def expected_reward(self, state: BanditState, action: torch.Tensor | int | list[int]) -> torch.Tensor:
        """``q*(action)`` per run, float ``[R]``: the mean reward of that pull."""
        action = self._check_actions(state, action)
        return state.q_star.gather(1, action[:, None])[:, 0]

    def _check_actions(self, state: BanditState, action: torch.Tensor | int | list[int]) -> torch.Tensor:
        """Long ``[R]`` on the state's device, or a ValueError that says what is wrong."""
        runs, arms = state.q_star.shape
        action = torch.as_tensor(action, device=state.q_star.device)
        if action.dtype.is_floating_point or action.dtype.is_complex or action.dtype == torch.bool:
            raise ValueError(f"bandit actions must be integer arm indices, got dtype {action.dtype}")
        if action.dim() == 0:
            action = action.expand(runs)
        if action.shape != (runs,):
            raise ValueError(f"expected one arm per run, shape ({runs},), got shape {tuple(action.shape)}")
        bad = (action < 0) | (action >= arms)
        if bool(bad.any()):
            r = int(bad.nonzero()[0, 0])
            raise ValueError(f"arm {int(action[r])} in run {r} is out of range: arms are 0..{arms - 1}")
        return action.long()


def _device(device: torch.device | str | None, generator: torch.Generator | None) -> torch.device:
    """The explicit device, else the generator's, else the CPU."""
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")
