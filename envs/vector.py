"""A Gymnasium ``VectorEnv`` straight over the batched state: B games, one ``game.step`` per turn.

No Python loop over games steps them: the agent's B moves are one batched ``step``, the
opponent's replies another (``"random"`` is :func:`envs.core.random_actions` over the batch;
``"minimax"`` and callable bots choose per game, as opponents, but are still stepped batched).
Numpy goes in and out as Gymnasium expects; the tensors live on ``device``.

Autoreset: ``AutoresetMode.NEXT_STEP``, Gymnasium's default and the one its vector wrappers
accept. A step that ends game ``i`` returns that game's final observation, its reward and
``terminated[i] = True``; the *next* step ignores ``actions[i]``, starts a new game there and
returns its first observation with reward 0 and ``terminated[i] = False`` (the opponent's
opening move, when the agent plays second, is played in that reset). Finished games are
never stepped, so a game's checked ``step`` still rejects every illegal move.

``info`` every step (Gymnasium's dict-of-arrays form, with ``_key`` masks):
``action_mask`` int8 ``[B, A]`` (all zeros for a finished game), ``agent_color`` int ``[B]``.
Illegal actions for games that are running raise :class:`envs.core.IllegalActionError`.
``action_space.sample()`` draws legal actions (like :class:`envs.gym.LegalDiscrete`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs import core
from envs.gym import (
    ColorSpec, OpponentSpec, batch_opponent, draw_board, draw_colors, observe_as, parse_color, put_rows, state_rows,
)


class LegalMultiDiscrete(spaces.MultiDiscrete):
    """``MultiDiscrete`` whose ``sample()`` without a mask draws legal actions per game.

    ``legal_mask`` returns int8 ``[B, A]`` or ``None`` (before the first reset).
    """

    def __init__(self, nvec: np.ndarray, legal_mask: Callable[[], np.ndarray | None], seed: int | None = None) -> None:
        super().__init__(nvec, seed=seed)
        self.legal_mask = legal_mask

    def sample(
        self, mask: tuple[np.ndarray, ...] | None = None, probability: tuple[np.ndarray, ...] | None = None,
    ) -> np.ndarray:
        if mask is None and probability is None:
            legal = self.legal_mask()
            mask = None if legal is None else tuple(legal)
        return super().sample(mask=mask, probability=probability)


class BoardGameVectorEnv(VectorEnv):
    """``num_envs`` games of a two-player batched game against one opponent (see module doc)."""

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["ansi", "rgb_array"], "render_fps": 2,
    }

    def __init__(
        self, game: Any, num_envs: int, opponent: OpponentSpec = "random", agent_color: ColorSpec = 0,
        device: torch.device | str | None = "cpu", render_mode: str | None = None,
    ) -> None:
        """Build the env; call ``reset()`` before ``step()``.

        Args:
            game: a batched game.
            num_envs: B, the number of games.
            opponent: ``"random"``, ``"minimax"`` (tic-tac-toe) or a bot ``f(game, state) -> int``.
            agent_color: 0 (moves first), 1, or ``"random"`` (drawn per game at every reset).
            device: where the tensors live (``None`` / ``"auto"``: CUDA when present).
            render_mode: ``None``, ``"ansi"`` or ``"rgb_array"`` (``render()`` gives one per game).
        """
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.game = game
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.device = core.resolve_device(device)
        self.single_observation_space = spaces.Box(0.0, 1.0, game.observation_shape, np.float32)
        self.single_action_space = spaces.Discrete(game.num_actions)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = LegalMultiDiscrete(np.full(num_envs, game.num_actions), self._sample_mask)
        self._opponent = batch_opponent(game, opponent)
        self._color_spec = parse_color(agent_color)
        self._generator = torch.Generator(self.device)
        self.agent_color = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.state: Any = None
        self._autoreset = np.zeros(num_envs, dtype=bool)  # games that ended on the last step

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start B new games; returns observations float32 ``[B, C, N, N]`` and the info dict."""
        super().reset(seed=seed, options=options)
        self._generator.manual_seed(int(self.np_random.integers(2**62)))
        everything = torch.arange(self.num_envs, device=self.device)
        self.state, self.agent_color = self._fresh_games(everything, None, self.agent_color)
        self._autoreset[:] = False
        return self._observations(), self._info()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Reset the games that ended last step, play the agent's moves and the opponent's replies.

        Args:
            actions: int ``[B]`` (ignored for the games being reset).

        Returns:
            ``(obs float32 [B, C, N, N], rewards float64 [B], terminations bool [B],
            truncations bool [B] (always False), info)``.
        """
        actions = core.as_actions(np.asarray(actions), self.num_envs, self.device)
        state, colors = self.state, self.agent_color
        rewards = torch.zeros(self.num_envs, device=self.device)
        if self._autoreset.any():
            resetting = torch.as_tensor(np.flatnonzero(self._autoreset), device=self.device)
            state, colors = self._fresh_games(resetting, state, colors)
        playing = np.flatnonzero(~self._autoreset)
        if playing.size == self.num_envs:  # the common case: no row copies
            state = self.game.step(state, actions, checked=True)
            rewards = state.rewards.gather(1, colors[:, None])[:, 0]
        elif playing.size:
            index = torch.as_tensor(playing, device=self.device)
            moved = self.game.step(state_rows(state, index), actions[index], checked=True)
            rewards[index] = moved.rewards.gather(1, colors[index][:, None])[:, 0]
            state = put_rows(state, index, moved)
        state, replies = self._opponent_turns(state, colors)
        self.state, self.agent_color = state, colors
        terminated = state.terminated.cpu().numpy().copy()
        self._autoreset = terminated.copy()
        rewards_np = (rewards + replies).cpu().numpy().astype(np.float64)
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self._observations(), rewards_np, terminated, truncated, self._info()

    def render(self) -> tuple[Any, ...] | None:
        """One frame per game: text boards (``"ansi"``) or uint8 ``[H, W, 3]`` (``"rgb_array"``)."""
        if self.render_mode == "ansi":
            return tuple(self.game.render(self.state, i) for i in range(self.num_envs))
        if self.render_mode == "rgb_array":
            boards = self.state.board.cpu().numpy()
            return tuple(draw_board(self.game, b) for b in boards)
        return None

    def _fresh_games(self, index: torch.Tensor, state: Any, colors: torch.Tensor) -> tuple[Any, torch.Tensor]:
        """New games in the rows ``index`` (long ``[K]``) with newly drawn agent colours; the
        opponent opens where the agent plays second. ``state`` None: ``index`` is every row."""
        k = index.numel()
        fresh = self.game.init(k, self.device, self._generator)
        drawn = torch.tensor(draw_colors(self._color_spec, k, self.np_random), device=self.device)
        fresh, _ = self._opponent_turns(fresh, drawn)
        if state is None:
            return fresh, drawn
        return put_rows(state, index, fresh), colors.index_copy(0, index, drawn)

    def _opponent_turns(self, state: Any, colors: torch.Tensor) -> tuple[Any, torch.Tensor]:
        """The opponent moves in every running game where the agent is not to move.

        Returns the new state and the reward float ``[B]`` those moves gave the agent.
        """
        reward = torch.zeros(state.terminated.shape[0], device=self.device)
        while True:
            waiting = (~state.terminated & (state.current_player != colors)).nonzero()[:, 0]
            if waiting.numel() == 0:
                return state, reward
            everyone = waiting.numel() == reward.numel()
            sub = state if everyone else state_rows(state, waiting)
            actions = self._opponent(sub, self._generator)
            try:
                moved = self.game.step(sub, actions, checked=True)
            except core.IllegalActionError as error:
                raise core.IllegalActionError(f"the opponent chose an illegal move: {error}") from error
            reward[waiting] += moved.rewards.gather(1, colors[waiting][:, None])[:, 0]
            state = moved if everyone else put_rows(state, waiting, moved)

    def _observations(self) -> np.ndarray:
        return observe_as(self.game, self.state, self.agent_color).cpu().numpy().astype(np.float32, copy=True)

    def _info(self) -> dict[str, Any]:
        everyone = np.ones(self.num_envs, dtype=bool)
        return {
            "action_mask": self._masks(), "_action_mask": everyone,
            "agent_color": self.agent_color.cpu().numpy().copy(), "_agent_color": everyone.copy(),
        }

    def _masks(self) -> np.ndarray:
        return self.state.legal_action_mask.cpu().numpy().astype(np.int8)

    def _sample_mask(self) -> np.ndarray | None:
        return None if self.state is None else self._masks()


class TicTacToeVectorEnv(BoardGameVectorEnv):
    """``make_vec("arena/TicTacToe-v0", num_envs=B, vectorization_mode="vector_entry_point")``."""

    def __init__(
        self, num_envs: int, opponent: OpponentSpec = "random", agent_color: ColorSpec = 0,
        device: torch.device | str | None = "cpu", render_mode: str | None = None,
    ) -> None:
        from envs.tictactoe import TicTacToe

        super().__init__(TicTacToe(), num_envs, opponent, agent_color, device, render_mode)


class GoVectorEnv(BoardGameVectorEnv):
    """``make_vec("arena/Go-v0", num_envs=B, vectorization_mode="vector_entry_point", size=9)``.

    ``max_moves`` is the episode cap (default ``2 * N * N``); it cannot be 0 (none): the games
    of one batch step and reset by rows, which needs one superko history width for all.
    """

    def __init__(
        self, num_envs: int, size: int = 9, komi: float = 7.5, max_moves: int | None = None,
        opponent: OpponentSpec = "random", agent_color: ColorSpec = 0,
        device: torch.device | str | None = "cpu", render_mode: str | None = None,
    ) -> None:
        from envs.go import Go

        if max_moves == 0:
            raise ValueError("GoVectorEnv needs a move cap (max_moves > 0, or None for 2 * N * N)")
        game = Go(size=size, komi=komi, max_moves=max_moves)
        super().__init__(game, num_envs, opponent, agent_color, device, render_mode)
