"""README's "Add a game", as a test: a new board game written only against envs/ (its rules,
its facts, one ``register`` line) is trainable by AlphaZero, evaluated, replayed and playable in
the window, with no change anywhere in agents/ or arena/.

The game is 4x4 tic-tac-toe (four in a row wins), batched like every game in envs/."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pygame
import torch

from envs import core
from envs.spec import REGISTRY, GameSpec, register

N = 4
LINES = tuple(
    [tuple(r * N + c for c in range(N)) for r in range(N)]  # rows
    + [tuple(r * N + c for r in range(N)) for c in range(N)]  # columns
    + [tuple(i * N + i for i in range(N)), tuple(i * N + N - 1 - i for i in range(N))]  # diagonals
)


@dataclass(frozen=True)
class FourState:
    board: torch.Tensor  # int8 [B, 16]: +1 X, -1 O, 0 empty
    current_player: torch.Tensor  # long [B]
    legal_action_mask: torch.Tensor  # bool [B, 16]
    rewards: torch.Tensor  # float [B, 2]
    terminated: torch.Tensor  # bool [B]
    winner: torch.Tensor  # long [B]: 0, 1, or -1

    @property
    def batch_size(self) -> int:
        return self.board.shape[0]


class FourByFour:
    """The rules, and the facts arena asks of a game (envs.core.Game)."""

    name = "tictactoe4"
    num_actions = N * N
    num_players = 2
    board_size = N
    observation_shape = (3, N, N)
    seat_names = ("X", "O")
    has_pass = False
    board_style = "cells"
    has_territory = False
    board_sizes = (N,)

    @property
    def spec(self) -> GameSpec:
        return GameSpec.of("tictactoe4")

    def init(self, batch: int = 1, device: torch.device | str | None = None,
             generator: torch.Generator | None = None) -> FourState:
        device = core.resolve_device(device)
        return FourState(torch.zeros(batch, N * N, dtype=torch.int8, device=device),
                         torch.zeros(batch, dtype=torch.long, device=device),
                         torch.ones(batch, N * N, dtype=torch.bool, device=device),
                         torch.zeros(batch, 2, device=device), torch.zeros(batch, dtype=torch.bool, device=device),
                         torch.full((batch,), -1, dtype=torch.long, device=device))

    def step(self, state: FourState, action: torch.Tensor | int, checked: bool = True) -> FourState:
        action = core.as_actions(action, state.batch_size, state.board.device)
        if checked:
            core.check_actions(self, state, action)
        sign = (1 - 2 * state.current_player).to(torch.int8)
        board = state.board.scatter(1, action[:, None], sign[:, None])
        lines = torch.tensor(LINES, device=board.device)
        won = (board[:, lines] == sign[:, None, None]).all(dim=2).any(dim=1)
        terminated = won | (board != 0).all(dim=1)
        mover = state.current_player
        rewards = torch.stack([won.float(), -won.float()], dim=1)
        rewards = torch.where(mover[:, None] == 0, rewards, rewards.flip(1))
        after = FourState(board, 1 - mover, (board == 0) & ~terminated[:, None], rewards, terminated,
                          torch.where(won, mover, -1))
        return after if checked else core.freeze_finished(state, after)

    def pass_turn(self, state: FourState) -> FourState:
        return replace(state, current_player=1 - state.current_player)

    def observe(self, state: FourState) -> torch.Tensor:
        sign = (1 - 2 * state.current_player).to(torch.int8)[:, None]
        side = (state.current_player == 0).float()[:, None].expand(-1, N * N)
        return torch.stack([(state.board == sign).float(), (state.board == -sign).float(), side], 1).view(-1, 3, N, N)

    def symmetries(self, planes: torch.Tensor, policy: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return core.symmetries(planes, policy, N)

    def result_text(self, state: FourState, index: int = 0) -> str | None:
        if not bool(state.terminated[index]):
            return None
        w = int(state.winner[index])
        return "draw" if w < 0 else f"{'XO'[w]} wins"

    def resigned_text(self, winner: int) -> str:
        return f"{'XO'[winner]} wins (resignation)"

    def render(self, state: FourState, index: int = 0) -> str:
        cells = state.board[index].tolist()
        return "\n".join(" ".join(".XO"[v] for v in cells[r * N:(r + 1) * N]) for r in range(N))

    def action_to_string(self, action: int) -> str:
        r, c = divmod(action, N)
        return f"{'ABCD'[c]}{N - r}"

    def string_to_action(self, text: str) -> int:
        t = text.strip().upper()
        if len(t) != 2 or t[0] not in "ABCD" or t[1] not in "1234":
            raise ValueError(f"not a 4x4 cell: {text!r}")
        return (N - int(t[1])) * N + "ABCD".index(t[0])


if "tictactoe4" not in REGISTRY:
    register("tictactoe4", FourByFour)  # the one line a new game adds (in envs/, its module's last line)


def test_the_rules_play_a_line_of_four() -> None:
    game = GameSpec.of("tictactoe4").make()
    state = game.init(1)
    for a in (0, 4, 1, 5, 2, 6):
        state = game.step(state, a)
    assert not bool(state.terminated[0])
    state = game.step(state, 3)
    assert game.result_text(state) == "X wins" and state.rewards[0].tolist() == [1.0, -1.0]


def test_alphazero_trains_a_registered_game_for_a_few_seconds(tmp_path: Path) -> None:
    """``arena train tictactoe4``'s path (the small-game preset, shortened): self-play, learning,
    evaluation against random, a checkpoint and replays; the trained network then plays."""
    from arena.bots.players import make_player
    from arena.commands.train import Train, run_train
    from arena.io.replays import load_replay, replay_states
    from arena.selfplay.alphazero import load_network

    run = tmp_path / "run"
    final = run_train(Train(game="tictactoe4", seconds=4.0, eval_every=2.0, eval_games=10, games=64,
                            simulations=8, play_simulations=8, run_dir=run))
    assert final["games"] >= 64 and final["step"] > 0
    assert final["win_random"] + final["draw_random"] > 0.5  # a search over 8 simulations, trained or not
    assert "optimal_policy" not in final and "win_minimax" not in final  # no solver for this game
    game, net, cfg = load_network(run / "checkpoints" / "best.safetensors")
    assert isinstance(game, FourByFour) and cfg.game == "tictactoe4"
    player = make_player(str(run), game, simulations=8)
    action, thinking = player.act(game, game.init(1))
    assert bool(game.init(1).legal_action_mask[0, action]) and thinking is not None
    replays = sorted((run / "replays").glob("*.json"))
    assert replays, "self-play replays are written"
    replay = load_replay(replays[0])
    replayed, states = replay_states(replay)
    assert replay.game == "tictactoe4" and len(states) == len(replay.moves) + 1
    assert replayed.result_text(states[-1]) == replay.result  # the game's own result text


def test_the_window_plays_a_registered_game(tmp_path: Path) -> None:
    """The play window draws the new game's cells and plays a click and the agent's reply."""
    from arena.bots.players import make_player
    from arena.viewer.board import BUTTONS, WINDOW_SIZE, buttons_for, draw, layout_for
    from arena.viewer.session import PlaySession

    game = FourByFour()
    session = PlaySession(game, make_player("random", game), 0, config={}, replay_dir=tmp_path)
    assert session.play(5)
    session.wait_for_agent(10)
    cells = session.state.board[0].tolist()
    assert sum(1 for v in cells if v) == 2, "the agent replied"
    assert not session.pass_move()  # no pass in this game: a message, not a move
    assert [b.command for b in buttons_for(game)] == [c for _, c in BUTTONS if c not in ("pass", "territory")]
    layout = layout_for(game)
    surface = pygame.Surface(WINDOW_SIZE)
    draw(surface, session, layout, buttons_for(game))
    empty = cells.index(0)
    assert surface.get_at(layout.center(5)) != surface.get_at(layout.center(empty)), "X drawn in its cell"
    session.resign()
    assert session.result == "O wins (resignation)"
    assert list(tmp_path.glob("*.json")), "the game is saved as a replay"


def test_gtp_and_a_match_serve_a_registered_game() -> None:
    """GTP speaks the new game's coordinates; a match plays it between two bots."""
    from arena.bots.match import make_bot, play_match
    from arena.bots.players import make_player
    from arena.go.gtp import GtpEngine

    engine = GtpEngine("tictactoe4", 4, 0.0, lambda game: make_player("random", game))
    assert engine.handle_line("boardsize 4") == "= \n\n" and engine.handle_line("boardsize 9").startswith("?")
    assert engine.handle_line("play black B3") == "= \n\n"
    reply = engine.handle_line("genmove white")
    assert reply.startswith("= ") and reply.strip()[2:] != "B3"
    game = FourByFour()
    result = play_match(game, (make_bot("random", game, 0), make_bot("random", game, 1)), 10)
    assert result.games == 10 and result.wins + result.draws + result.losses == 10
