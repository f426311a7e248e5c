"""Players a person or a match can face: bots, searches and trained networks, by name.

A :class:`Player` picks one move in a single game (B=1) and may say what it was thinking:
the viewer draws that as a heat map, the GTP engine and replays record it. Bots from
:mod:`arena.bots.match` (``random``, ``minimax``) become players through :class:`BotPlayer`;
``mcts`` and checkpoints are AlphaZero searches (see :func:`make_player`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from arena.bots.match import Bot, make_bot
from arena.bots.networks import search_player
from arena.bots.thinking import Thinking, thinking_from  # noqa: F401 (players show Thinking; re-exported)
from envs.core import Game


class Player(Protocol):
    """Anything that can take a seat in a game."""

    name: str

    def act(self, game: Game, state: Any) -> tuple[int, Thinking | None]:
        """The move to play in game 0 of ``state`` (a legal one), and optional thinking."""
        ...


@dataclass
class BotPlayer:
    """A :data:`arena.bots.match.Bot` seen as a player (it does not show its thinking)."""

    name: str
    bot: Bot

    def act(self, game: Game, state: Any) -> tuple[int, Thinking | None]:
        return int(self.bot(game, state)[0]), None


def make_player(spec: str, game: Game, simulations: int | None = None, seed: int = 0,
                device: str = "cpu") -> Player:
    """A player from a name: ``random``, ``minimax`` (tic-tac-toe), ``mcts`` (search with a
    uniform prior and random-rollout-free value 0), ``shipped`` (the Go network shipped for this
    board size, :func:`shipped_network`), or the path of a checkpoint / run folder of an
    AlphaZero training (its network guides the search).

    ``simulations`` sets the search budget (``None``: the agent's default play-time budget).
    Raises ``ValueError`` (or :class:`arena.io.checkpoint.CheckpointError`) with a clear message
    for an unknown name or an unusable file.
    """
    if spec in ("random", "minimax"):
        return BotPlayer(spec, make_bot(spec, game, seed))
    if spec == "shipped":
        shipped = shipped_network(game.name, game.board_size)
        if shipped is None:
            raise ValueError(f"no network ships for {game.name} {game.board_size}x{game.board_size} "
                             f"(shipped: {', '.join(sorted(p.name for p in SHIPPED.glob('*'))) or 'none'})")
        return search_player(game, shipped, simulations=simulations, seed=seed, device=device)
    if spec == "mcts":
        return search_player(game, None, simulations=simulations, seed=seed, device=device)
    path = Path(spec)
    if path.exists():
        if _algorithm(path) in ("dqn", "reinforce", "a2c", "ppo"):
            return learner_player(game, path, device)
        return search_player(game, path, simulations=simulations, seed=seed, device=device)
    raise ValueError(
        f"unknown opponent {spec!r}: use random, minimax (tic-tac-toe), mcts, shipped (the network that "
        "ships for this board), or the path of a checkpoint (.safetensors) or training run folder"
    )


SHIPPED = Path(__file__).parent.parent / "weights"
"""Networks that ship with the package (a run folder each: checkpoints/, metrics.jsonl, config.json)."""


def shipped_network(game: str, size: int = 0) -> Path | None:
    """The network shipped for this game and board (``arena/weights/<label>``: ``go9``,
    ``go5``; see :attr:`envs.spec.GameSpec.label`), or None."""
    from envs.spec import GameSpec

    folder = SHIPPED / GameSpec.for_board(game, size=size).label
    return folder if (folder / "checkpoints" / "best.safetensors").exists() else None


@dataclass
class LearnerPlayer:
    """A model-free agent (DQN, REINFORCE, A2C, PPO) trained on one of our games: its greedy
    action on the game's observation planes, legal moves only."""

    name: str
    learner: Any

    def act(self, game: Game, state: Any) -> tuple[int, Thinking | None]:
        obs = game.observe(state).cpu().numpy().astype("float32")
        mask = state.legal_action_mask.cpu().numpy()
        return int(self.learner.act(obs, action_mask=mask, deterministic=True)[0]), None


def learner_player(game: Game, path: Path, device: str = "cpu") -> LearnerPlayer:
    """A :class:`LearnerPlayer` from an ``arena train <game> --agent dqn|ppo|...`` run or checkpoint."""
    from arena.io.checkpoint import CheckpointError
    from arena.rl.loop import load_learner

    _, settings, learner, meta = load_learner(path, device=device)
    trained_on = settings.env_id.split("/")[-1].split("-")[0].lower()
    if trained_on != game.name or settings.env_kwargs.get("size", game.board_size) != game.board_size:
        raise CheckpointError(f"{path} was trained on {settings.task}, not {game.name}")
    return LearnerPlayer(f"{meta['algorithm']}({path.name})", learner)


def _algorithm(path: Path) -> str | None:
    """The algorithm named by a checkpoint's (or a run folder's best checkpoint's) sidecar."""
    from arena.io.checkpoint import CheckpointError, read_sidecar

    file = path / "checkpoints" / "best.safetensors" if path.is_dir() else path
    try:
        return read_sidecar(file).get("algorithm")
    except CheckpointError:
        return None
