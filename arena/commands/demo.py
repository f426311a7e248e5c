"""``arena demo``: two bots play each other and every board is printed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from envs import GameId


@dataclass(frozen=True)
class Demo:
    """Play two bots against each other and print every board (minimax vs random by default)."""

    game: GameId = "tictactoe"
    """Which game to play."""
    first: Literal["minimax", "random"] = "minimax"
    """Bot moving first (X in tic-tac-toe, black in Go); minimax is tic-tac-toe only."""
    second: Literal["minimax", "random"] = "random"
    """Bot moving second."""
    games: int = 3
    """Number of games; the players swap seats after every game."""
    size: int = 9
    """Go board size (5..19)."""
    komi: float = 7.5
    """Go komi."""
    seed: int = 0
    """Random seed: the same seed replays the same games."""
    quiet: bool = False
    """Print only the results, not every board."""


def run_demo(cfg: Demo) -> dict[str, int]:
    """Play ``cfg.games`` games, printing boards; returns the win/draw tally by bot name."""
    from arena.bots.match import make_bot, play_game
    from envs.spec import GameSpec

    game = GameSpec.for_board(cfg.game, size=cfg.size, komi=cfg.komi).uncapped().make()
    names = [cfg.first, cfg.second]
    bots = [make_bot(n, game, cfg.seed + i) for i, n in enumerate(names)]
    tally = {f"{names[0]} (bot 1) wins": 0, f"{names[1]} (bot 2) wins": 0, "draws": 0}
    for g in range(cfg.games):
        seats = (0, 1) if g % 2 == 0 else (1, 0)  # seats[p] = which bot plays player p
        print(f"\n=== game {g + 1}: {names[seats[0]]} moves first, {names[seats[1]]} second ===")
        for state, action in play_game(game, (bots[seats[0]], bots[seats[1]])):
            if not cfg.quiet and action is not None:
                print(f"\n{game.action_to_string(action)}\n{game.render(state)}")
        returns = state.rewards[0].tolist()
        if returns[0] == returns[1]:
            tally["draws"] += 1
            print("result: draw")
        else:
            winner_player = 0 if returns[0] > returns[1] else 1
            bot = seats[winner_player]
            tally[f"{names[bot]} (bot {bot + 1}) wins"] += 1
            print(f"result: {names[bot]} (bot {bot + 1}) wins as player {winner_player + 1}")
    print("\n" + ", ".join(f"{k}: {v}" for k, v in tally.items()))
    return tally
