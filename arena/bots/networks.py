"""Trained networks as players: load an AlphaZero checkpoint, and let its network guide the
search for a person (B = 1, :class:`SearchPlayer`), a batched match (:func:`search_bot`), GTP
and replays. The training orchestration (arena/selfplay/alphazero.py) and the player registry
(arena/bots/players.py) both build on this module; it imports neither.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agents.alphazero import AlphaZeroConfig, make_network
from agents.mcts import MCTSConfig, network_evaluator, rollout_evaluator, search
from arena.bots.match import Bot
from arena.bots.thinking import Thinking, thinking_from
from arena.io import checkpoint as ckpt
from envs.core import Game
from nets.conv import GlobalPoolingNet


def search_bot(game: Game, net: torch.nn.Module, cfg: MCTSConfig, explore: bool = False,
               generator: torch.Generator | None = None) -> Bot:
    """The network's moves by search, batched: its strongest (``explore=False``) or with the
    self-play root noise (varied games between two deterministic players)."""
    evaluate = network_evaluator(game, net, cfg.score_utility)
    return lambda g, state: search(g, state, evaluate, cfg, explore=explore, generator=generator).action


def load_network(path: str | Path, device: str = "cpu") -> tuple[Any, torch.nn.Module, AlphaZeroConfig]:
    """``(game, network, config)`` from a checkpoint file or a run folder (its best network)."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "best.safetensors"
    tensors, meta = ckpt.load_checkpoint(path)
    if meta.get("algorithm") != "alphazero":
        raise ckpt.CheckpointError(f"{path} is not an AlphaZero network (algorithm: {meta.get('algorithm')!r})")
    cfg = ckpt.config_from_dict(AlphaZeroConfig, meta["config"])
    game = cfg.make_game()
    net = make_network(game, cfg)
    ckpt.load_weights(net, tensors, str(path))
    return game, net.to(device).eval(), cfg


@dataclass
class SearchPlayer:
    """A search-guided player for people, GTP and replays (B = 1, the same search code).
    With a ``net`` that has an ownership head, its thinking carries the territory estimate."""

    name: str
    evaluate: Any
    cfg: MCTSConfig
    net: torch.nn.Module | None = None

    def act(self, game: Game, state: Any) -> tuple[int, Thinking | None]:
        out = search(game, state, self.evaluate, self.cfg)
        return int(out.action[0]), thinking_from(out.policy[0], out.value[0], self.ownership(game, state))

    def ownership(self, game: Game, state: Any) -> torch.Tensor | None:
        """float [P]: the network's expected owner of each point of game 0, +1 black (None
        without an ownership head)."""
        if self.net is None or not isinstance(self.net, GlobalPoolingNet):
            return None
        return black_ownership(game, self.net, state)[0]


def black_ownership(game: Game, net: torch.nn.Module, state: Any) -> torch.Tensor:
    """float [B, P] in [-1, 1]: a global pooling network's ownership estimate, +1 black."""
    with torch.inference_mode():
        own = torch.tanh(net(game.observe(state)).ownership.float())
    return own * (1 - 2 * state.current_player.float())[:, None]


def search_player(game: Game, path: Path | None, simulations: int | None = None, seed: int = 0,
                  device: str = "cpu") -> SearchPlayer:
    """``mcts`` (``path`` None: uniform priors, random-playout values) or a trained network."""
    if path is None:
        generator = torch.Generator().manual_seed(seed)
        return SearchPlayer("mcts", rollout_evaluator(game, generator), MCTSConfig(simulations=simulations or 200,
                                                                                    algorithm="puct"))
    trained_game, net, cfg = load_network(path, device)
    any_size = isinstance(net, GlobalPoolingNet) and trained_game.spec.id == game.spec.id  # no size-bound weights
    if (trained_game.spec.id, trained_game.board_size) != (game.spec.id, game.board_size) and not any_size:
        raise ckpt.CheckpointError(f"{path} was trained on {trained_game.name} {trained_game.board_size}x"
                                   f"{trained_game.board_size}, not {game.name} {game.board_size}x{game.board_size}")
    search_cfg = cfg.play_search() if simulations is None else dataclasses.replace(cfg.play_search(), simulations=simulations)
    return SearchPlayer(f"alphazero({Path(path).name})", network_evaluator(game, net, search_cfg.score_utility),
                        search_cfg, net)
