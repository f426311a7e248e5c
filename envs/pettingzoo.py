"""PettingZoo AEC faces of the two-player games: ``tictactoe_env()`` and ``go_env(size=9)``.

Agents are ``"player_0"`` (moves first: X / black) and ``"player_1"``. Like PettingZoo's classic
envs, ``observe(agent)`` is a dict: ``"observation"``, the game's ``observe`` planes seen from
that agent's side (float32 ``(C, N, N)`` in [0, 1]), and ``"action_mask"``, int8 ``[A]``: the
legal moves for the agent to move, all zeros for the other agent and once the game is over.
Rewards come on the final move: +1 to the winner, -1 to the loser, 0 each for a draw.
Games end by termination only (Go's move cap is scored like a normal end).

One batched game with B = 1 underneath, stepped in checked mode: an illegal action raises
:class:`envs.core.IllegalActionError` naming the move and showing the board (we do not wrap
with ``TerminateIllegalWrapper``). ``render_mode``: ``"ansi"`` (the game's text board) or
``"rgb_array"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from envs import core
from envs.gym import observe_as, render_frame, scalar_action

AGENTS = ("player_0", "player_1")


class BoardGameAEC(AECEnv):
    """A two-player batched game (B = 1) as an agent-environment-cycle env."""

    metadata: dict[str, Any] = {
        "render_modes": ["ansi", "rgb_array"], "name": "arena_board_game_v0", "is_parallelizable": False,
        "render_fps": 2,
    }

    def __init__(self, game: Any, render_mode: str | None = None, device: torch.device | str = "cpu") -> None:
        """Build the env; call ``reset()`` before ``step()``.

        Args:
            game: a two-player batched game (``TicTacToe()``, ``Go(...)``).
            render_mode: ``None``, ``"ansi"`` or ``"rgb_array"``.
            device: where the game's tensors live.
        """
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.game = game
        self.render_mode = render_mode
        self.device = core.resolve_device(device)
        self.possible_agents = list(AGENTS)
        self.agents = list(AGENTS)
        observation = spaces.Dict({
            "observation": spaces.Box(0.0, 1.0, game.observation_shape, np.float32),
            "action_mask": spaces.Box(0, 1, (game.num_actions,), np.int8),
        })
        self.observation_spaces = {a: observation for a in AGENTS}
        self.action_spaces = {a: spaces.Discrete(game.num_actions) for a in AGENTS}
        self.state: Any = None
        self.reset()

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """A new game, ``player_0`` to move. The games have no chance, so ``seed`` changes nothing
        (the action spaces are seeded with it, for samplers)."""
        if seed is not None:
            for i, agent in enumerate(AGENTS):
                self.action_spaces[agent].seed(seed + i)
        self.state = self.game.init(1, self.device)
        self.agents = list(AGENTS)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = AGENTS[int(self.state.current_player[0])]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """``{"observation": float32 (C, N, N) from agent's side, "action_mask": int8 [A]}``."""
        player = torch.tensor([AGENTS.index(agent)], device=self.device)
        planes = observe_as(self.game, self.state, player)[0].cpu().numpy().astype(np.float32, copy=True)
        mask = np.zeros(self.game.num_actions, dtype=np.int8)
        if agent == self.agent_selection:
            mask[:] = self.state.legal_action_mask[0].cpu().numpy()
        return {"observation": planes, "action_mask": mask}

    def step(self, action: int | np.integer | None) -> None:
        """Play ``action`` for ``agent_selection`` (``None`` once that agent is done).

        Raises:
            IllegalActionError: the move is not legal in this position.
        """
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        a = torch.tensor([scalar_action(action)], dtype=torch.long, device=self.device)
        self.state = self.game.step(self.state, a, checked=True)
        rewards = self.state.rewards[0].tolist()
        self.rewards = {name: float(rewards[i]) for i, name in enumerate(AGENTS)}
        if bool(self.state.terminated[0]):
            self.terminations = dict.fromkeys(self.agents, True)
        self.agent_selection = AGENTS[1 - AGENTS.index(agent)]
        self._accumulate_rewards()

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: the game's text board; ``"rgb_array"``: uint8 ``[H, W, 3]``."""
        return render_frame(self.game, self.state, self.render_mode)

    def close(self) -> None:
        """Nothing to release (no window)."""


def tictactoe_raw_env(render_mode: str | None = None) -> BoardGameAEC:
    """Tic-tac-toe as an unwrapped AEC env."""
    from envs.tictactoe import TicTacToe

    env = BoardGameAEC(TicTacToe(), render_mode)
    env.metadata = {**env.metadata, "name": "arena_tictactoe_v0"}
    return env


def go_raw_env(
    size: int = 9, komi: float = 7.5, max_moves: int | None = None, render_mode: str | None = None,
) -> BoardGameAEC:
    """Go as an unwrapped AEC env."""
    from envs.go import Go

    env = BoardGameAEC(Go(size=size, komi=komi, max_moves=max_moves), render_mode)
    env.metadata = {**env.metadata, "name": f"arena_go_{size}x{size}_v0"}
    return env


def tictactoe_env(render_mode: str | None = None) -> AECEnv:
    """Tic-tac-toe wrapped in PettingZoo's ``OrderEnforcingWrapper`` (step before reset fails)."""
    return wrappers.OrderEnforcingWrapper(tictactoe_raw_env(render_mode))


def go_env(size: int = 9, komi: float = 7.5, max_moves: int | None = None, render_mode: str | None = None) -> AECEnv:
    """Go wrapped in PettingZoo's ``OrderEnforcingWrapper``."""
    return wrappers.OrderEnforcingWrapper(go_raw_env(size, komi, max_moves, render_mode))
