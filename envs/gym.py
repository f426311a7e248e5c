"""Gymnasium faces: single-agent envs over one batched game (B = 1), registered by id.

Ids (registered on ``import envs``; string entry points, so nothing heavy loads early)::

    gymnasium.make("arena/TicTacToe-v0", opponent="minimax", agent_color="random")
    gymnasium.make("arena/Go-v0", size=9, komi=7.5, opponent="random", agent_color=0)
    gymnasium.make("arena/Bandit-v0", steps=1000, arms=10)   # BanditConfig fields as kwargs
    gymnasium.make_vec("arena/TicTacToe-v0", num_envs=64, vectorization_mode="vector_entry_point")

Two-player games become single-agent against an opponent: ``"random"`` (uniform over legal
moves), ``"minimax"`` (tic-tac-toe only: the perfect solver, random among optimal moves), or any
callable bot ``f(game, state) -> int`` that gets the game and a B=1 state. The agent plays
``agent_color`` (0 moves first: X / black; 1 second; ``"random"`` draws it at every reset from
the seeded ``np_random``); when the opponent moves first, ``reset`` plays its move already.

- Observation: the game's ``observe`` planes from the agent's side, float32 ``(C, N, N)`` in [0, 1].
- Action: ``Discrete(num_actions)``; the legal ones are ``info["action_mask"]`` (int8 ``[A]``,
  ready for ``action_space.sample(mask=...)``) and :meth:`BoardGameEnv.action_masks` (bool, the
  sb3-contrib ``MaskablePPO`` convention). All zeros once the game is over.
- Reward: +1 when the agent wins, -1 when it loses, 0 otherwise (a draw included), summed over
  the agent's move and the opponent's reply. Games always end by termination (Go's move cap
  is scored like a normal end), never by truncation.
- An illegal action by the agent, or a step after the game ended, raises the game's own
  :class:`envs.core.IllegalActionError` (:class:`envs.core.GameFinishedError`) with the move
  and the board in the message: the game's checked ``step`` does the check, so these envs hold
  no second copy of the rules.
- ``env.action_space.sample()`` draws a *legal* action: the space is a :class:`LegalDiscrete`
  that reads the env's current mask when no ``mask``/``probability`` is given (its ``contains``
  still accepts every index). That is how Gymnasium's and SB3's checkers, which step with
  unmasked samples, play legal games; an explicitly chosen illegal action still raises.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

from envs import core
from envs.core import GameFinishedError, IllegalActionError, observe_as, put_rows, state_rows  # noqa: F401 (re-exported)

__all__ = [
    "BanditEnv", "BoardGameEnv", "GameFinishedError", "GoEnv", "IllegalActionError", "LegalDiscrete", "TicTacToeEnv",
    "batch_opponent", "observe_as", "put_rows", "register_envs", "scalar_action", "state_rows",
]

Bot = Callable[[Any, Any], int]  # f(game, state with B = 1) -> action
BatchOpponent = Callable[[Any, torch.Generator], torch.Tensor]  # (state [B], generator) -> long [B]
OpponentSpec = str | Bot  # "random", "minimax" or a Bot
ColorSpec = int | str  # 0, 1 or "random"

ENTRY_POINTS: dict[str, tuple[str, str | None]] = {
    "arena/TicTacToe-v0": ("envs.gym:TicTacToeEnv", "envs.vector:TicTacToeVectorEnv"),
    "arena/Go-v0": ("envs.gym:GoEnv", "envs.vector:GoVectorEnv"),
    "arena/Bandit-v0": ("envs.gym:BanditEnv", None),
}


def register_envs() -> None:
    """Register the ``arena/...`` ids with Gymnasium; calling it again does nothing."""
    for env_id, (entry_point, vector_entry_point) in ENTRY_POINTS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point, vector_entry_point=vector_entry_point)


class LegalDiscrete(spaces.Discrete):
    """``Discrete(n)`` whose ``sample()`` without a mask draws among ``legal_mask()``'s actions.

    ``legal_mask`` returns int8 ``[n]`` or ``None`` (no game yet: sample over all ``n``). An
    explicit ``mask`` or ``probability`` is used as given, as in :class:`spaces.Discrete`.
    """

    def __init__(self, n: int, legal_mask: Callable[[], np.ndarray | None], seed: int | None = None) -> None:
        super().__init__(n, seed=seed)
        self.legal_mask = legal_mask

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None) -> np.int64:
        if mask is None and probability is None:
            mask = self.legal_mask()
        return super().sample(mask=mask, probability=probability)


class BoardGameEnv(gymnasium.Env[np.ndarray, np.int64]):
    """One game of a two-player batched game against a fixed opponent (see the module doc)."""

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array", "human"], "render_fps": 2}

    def __init__(
        self, game: Any, opponent: OpponentSpec = "random", agent_color: ColorSpec = 0,
        render_mode: str | None = None, device: torch.device | str = "cpu",
    ) -> None:
        """Build the env; call ``reset()`` before ``step()``.

        Args:
            game: a batched game (``envs.make("tictactoe")``, ``Go(...)``).
            opponent: ``"random"``, ``"minimax"`` (tic-tac-toe) or a bot ``f(game, state) -> int``.
            agent_color: 0 (moves first), 1, or ``"random"`` (drawn at every reset).
            render_mode: ``None``, ``"ansi"`` (the game's text board), ``"rgb_array"`` or
                ``"human"`` (a pygame window showing the ``rgb_array`` frame after every
                ``reset`` and ``step``, at most ``metadata["render_fps"]`` frames a second).
            device: where the game's tensors live (the CPU is fastest for B = 1).
        """
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.game = game
        self.render_mode = render_mode
        self.device = core.resolve_device(device)
        self.observation_space = spaces.Box(0.0, 1.0, game.observation_shape, np.float32)
        self.action_space = LegalDiscrete(game.num_actions, self._sample_mask)
        self._opponent = batch_opponent(game, opponent)
        self._color_spec = parse_color(agent_color)
        self._generator = torch.Generator(self.device)
        self.agent_color = 0  # this episode's colour
        self.state: Any = None  # the batched state, B = 1
        self._window: Any = None  # envs.render.HumanWindow in human mode, opened on the first frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new game; the opponent moves first when the agent plays colour 1."""
        super().reset(seed=seed)
        self._generator.manual_seed(int(self.np_random.integers(2**62)))
        self.agent_color = draw_colors(self._color_spec, 1, self.np_random)[0]
        self.state = self.game.init(1, self.device, self._generator)
        self._play_opponent()
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: int | np.integer | np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play the agent's ``action`` and the opponent's reply.

        Raises:
            IllegalActionError: ``action`` is not legal here (GameFinishedError: the game is over).
        """
        a = torch.tensor([scalar_action(action)], dtype=torch.long, device=self.device)
        self.state = self.game.step(self.state, a, checked=True)
        reward = float(self.state.rewards[0, self.agent_color])
        reward += self._play_opponent()
        terminated = bool(self.state.terminated[0])
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, terminated, False, self._info()

    def action_masks(self) -> np.ndarray:
        """Bool ``[A]``: the legal actions now (sb3-contrib's ``MaskablePPO`` calls this)."""
        return self.state.legal_action_mask[0].cpu().numpy().copy()

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: the game's text board; ``"rgb_array"``: uint8 ``[H, W, 3]``; ``"human"``:
        shows that same frame in the window (``reset`` and ``step`` call this) and returns None."""
        if self.render_mode == "human":
            if self.state is not None:
                if self._window is None:
                    from envs.render import HumanWindow

                    self._window = HumanWindow(f"arena: {self.game.name}", self.metadata.get("render_fps", 4))
                self._window.show(render_frame(self.game, self.state, "rgb_array"))
            return None
        return render_frame(self.game, self.state, self.render_mode)

    def close(self) -> None:
        """Close the human-mode window, if one is open."""
        if self._window is not None:
            self._window.close()
            self._window = None

    def _play_opponent(self) -> float:
        """Let the opponent move until it is the agent's turn; its moves' reward to the agent."""
        reward = 0.0
        while not bool(self.state.terminated[0]) and int(self.state.current_player[0]) != self.agent_color:
            action = self._opponent(self.state, self._generator)
            try:
                self.state = self.game.step(self.state, action, checked=True)
            except IllegalActionError as error:
                raise IllegalActionError(f"the opponent chose an illegal move: {error}") from error
            reward += float(self.state.rewards[0, self.agent_color])
        return reward

    def _sample_mask(self) -> np.ndarray | None:
        return None if self.state is None else self.action_masks().astype(np.int8)

    def _observation(self) -> np.ndarray:
        planes = observe_as(self.game, self.state, torch.tensor([self.agent_color], device=self.device))
        return planes[0].cpu().numpy().astype(np.float32, copy=True)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_masks().astype(np.int8), "agent_color": self.agent_color}


class TicTacToeEnv(BoardGameEnv):
    """``arena/TicTacToe-v0``: tic-tac-toe against ``"random"``, ``"minimax"`` or a bot."""

    def __init__(
        self, opponent: OpponentSpec = "random", agent_color: ColorSpec = 0,
        render_mode: str | None = None, device: torch.device | str = "cpu",
    ) -> None:
        from envs.tictactoe import TicTacToe

        super().__init__(TicTacToe(), opponent, agent_color, render_mode, device)


class GoEnv(BoardGameEnv):
    """``arena/Go-v0``: Go (Tromp-Taylor, positional superko) against ``"random"`` or a bot."""

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array", "human"], "render_fps": 4}

    def __init__(
        self, size: int = 9, komi: float = 7.5, max_moves: int | None = None,
        opponent: OpponentSpec = "random", agent_color: ColorSpec = 0,
        render_mode: str | None = None, device: torch.device | str = "cpu",
    ) -> None:
        from envs.go import Go

        super().__init__(Go(size=size, komi=komi, max_moves=max_moves), opponent, agent_color, render_mode, device)


class BanditEnv(gymnasium.Env[int, np.int64]):
    """``arena/Bandit-v0``: one run of the k-armed testbed, ``steps`` pulls per episode.

    The observation is the constant 0 of ``Discrete(1)`` (a bandit has one state); the action
    is the arm; the reward is the pull's reward. The episode is truncated (not terminated)
    after ``steps`` pulls. ``info`` holds ``optimal_action`` (the best arm before the pull) and
    ``expected_reward`` (``q*`` of the pulled arm), for regret and %-optimal curves.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 30}

    def __init__(self, steps: int = 1000, render_mode: str | None = None, **config: Any) -> None:
        """Build the env; call ``reset()`` before ``step()``.

        Args:
            steps: pulls per episode.
            render_mode: ``None`` or ``"ansi"``.
            **config: fields of :class:`envs.bandits.BanditConfig` (``arms``, ``kind``, ...).
        """
        from envs.bandits import BanditConfig, BanditTestbed

        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be 'ansi' or None, got {render_mode!r}")
        self.testbed = BanditTestbed(BanditConfig(**config))
        self.steps = steps
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(1)
        self.action_space = spaces.Discrete(self.testbed.num_actions)
        self._generator = torch.Generator()
        self.state: Any = None
        self._last = "no pull yet"

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """Draw fresh arms (from the seeded ``np_random``)."""
        super().reset(seed=seed)
        self._generator.manual_seed(int(self.np_random.integers(2**62)))
        self.state = self.testbed.init(1, "cpu", self._generator)
        self._last = "no pull yet"
        return 0, {"optimal_action": int(self.testbed.optimal_action(self.state)[0])}

    def step(self, action: int | np.integer | np.ndarray) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Pull arm ``action``.

        Raises:
            ValueError: the arm is out of range.
            RuntimeError: the episode is over (call ``reset``).
        """
        if int(self.state.step[0]) >= self.steps:
            raise RuntimeError(f"the bandit episode ended after {self.steps} pulls; call reset()")
        arm = scalar_action(action)
        optimal = int(self.testbed.optimal_action(self.state)[0])
        expected = float(self.testbed.expected_reward(self.state, [arm])[0])
        self.state, reward = self.testbed.pull(self.state, [arm], self._generator)
        pulls = int(self.state.step[0])
        self._last = f"pull {pulls}/{self.steps}: arm {arm} paid {float(reward[0]):.3f} (best arm {optimal})"
        info = {"optimal_action": optimal, "expected_reward": expected}
        return 0, float(reward[0]), False, pulls >= self.steps, info

    def render(self) -> str | None:
        """``"ansi"``: the last pull and the true arm values."""
        if self.render_mode != "ansi":
            return None
        q = ", ".join(f"{v:.2f}" for v in self.state.q_star[0].tolist())
        return f"{self._last}\nq* = [{q}]"


# ----- shared by the single and vector faces ------------------------------------------------


def batch_opponent(game: Any, opponent: OpponentSpec) -> BatchOpponent:
    """The opponent as a batched policy ``(state [B], generator) -> long [B]``.

    ``"random"`` is :func:`envs.core.random_actions` (no loop); ``"minimax"`` is the tic-tac-toe
    solver; a bot ``f(game, state) -> int`` is called once per unfinished game with a B = 1
    state. Finished games get action 0 (ignored by unchecked ``step``).
    """
    if isinstance(opponent, str):
        if opponent == "random":
            return core.random_actions
        if opponent == "minimax":
            if game.name != "tictactoe":
                raise ValueError(f"the minimax opponent exists for tic-tac-toe only, not {game.name}")
            from envs.tictactoe_solver import minimax_actions

            def minimax(state: Any, generator: torch.Generator) -> torch.Tensor:
                seed = int(torch.randint(2**62, (1,), device=generator.device, generator=generator))
                return minimax_actions(state, random.Random(seed))

            return minimax
        raise ValueError(f"unknown opponent {opponent!r}; use 'random', 'minimax' or a callable f(game, state) -> int")
    if callable(opponent):
        def per_game(state: Any, generator: torch.Generator) -> torch.Tensor:
            done = state.terminated.tolist()
            actions = [0 if d else int(opponent(game, state_rows(state, slice(i, i + 1)))) for i, d in enumerate(done)]
            return torch.tensor(actions, dtype=torch.long, device=state.terminated.device)

        return per_game
    raise TypeError(f"opponent must be 'random', 'minimax' or a callable, got {type(opponent).__name__}")


def parse_color(agent_color: ColorSpec) -> int | None:
    """0 or 1 for a fixed colour, ``None`` for ``"random"``; a ValueError otherwise."""
    if agent_color == "random":
        return None
    if isinstance(agent_color, (int, np.integer)) and not isinstance(agent_color, bool) and agent_color in (0, 1):
        return int(agent_color)
    raise ValueError(f"agent_color must be 0 (moves first), 1 or 'random', got {agent_color!r}")


def draw_colors(spec: int | None, n: int, rng: np.random.Generator) -> list[int]:
    """``n`` agent colours: all ``spec``, or fair coin flips from ``rng`` when ``spec`` is None."""
    if spec is None:
        return [int(c) for c in rng.integers(0, 2, size=n)]
    return [spec] * n


def render_frame(game: Any, state: Any, mode: str | None) -> str | np.ndarray | None:
    """What ``render()`` returns for game 0 of ``state``: ``"ansi"`` the game's text board,
    ``"rgb_array"`` a uint8 ``[H, W, 3]`` picture, anything else ``None``."""
    if mode == "ansi":
        return game.render(state, 0)
    if mode == "rgb_array":
        return draw_board(game, state.board[0].cpu().numpy())
    return None


def draw_board(game: Any, board: np.ndarray) -> np.ndarray:
    """The ``rgb_array`` frame of one board (``[N * N]`` cells), uint8 ``[H, W, 3]``."""
    from envs.render import draw_go, draw_tictactoe

    if game.name == "tictactoe":
        return draw_tictactoe(board, 192)
    return draw_go(board, game.board_size, 32 * game.board_size)


def scalar_action(action: int | np.integer | np.ndarray) -> int:
    """One integer action from an int, a numpy integer or a one-element integer array."""
    a = np.asarray(action)
    if a.size != 1 or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"expected one integer action, got {action!r}")
    return int(a.reshape(()).item())
