"""The ``arena play`` window, headless (SDL_VIDEODRIVER=dummy from conftest.py): scripted clicks
and keys drive the real event loop; the drawn surface is saved as PNG and its pixels checked."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import pytest
import torch
import tyro

import envs
from arena.bots.players import Thinking, make_player
from arena.commands.play import PlayCommand, make_session, run_play
from arena.io.replays import Replay, load_replay, replay_states, save_replay
from arena.viewer.board import BOARD_RECT
from arena.viewer.session import PlaySession
from arena.viewer.window import PlayWindow, click_event, key_event
from envs.render import BLACK_STONE, CROSS, INK, NOUGHT, WHITE_STONE, star_points


class FakeThinker:
    """Plays its first legal move and shows a made-up policy over the legal moves."""

    name = "fake"

    def act(self, game: Any, state: Any) -> tuple[int, Thinking | None]:
        legal = state.legal_action_mask[0].nonzero().flatten().tolist()
        weights = [float(i + 1) for i in range(len(legal))]
        policy = [0.0] * game.num_actions
        for a, w in zip(legal, weights):
            policy[a] = w / sum(weights)
        return legal[0], Thinking(tuple(policy), 0.25)


class BlockingPlayer:
    """Thinks until released (to catch the window while the agent is busy)."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()

    def act(self, game: Any, state: Any) -> tuple[int, Thinking | None]:
        assert self.release.wait(10), "test never released the player"
        return int(state.legal_action_mask[0].nonzero()[0]), None


class BrokenPlayer:
    name = "broken"

    def act(self, game: Any, state: Any) -> tuple[int, Thinking | None]:
        raise RuntimeError("no network")


def window_for(game_id: str, opponent: Any, tmp_path: Path, human_seat: int = 0, **config: Any) -> PlayWindow:
    game = envs.make(game_id, **config)  # type: ignore[arg-type]
    if isinstance(opponent, str):
        opponent = make_player(opponent, game, seed=0)
    session = PlaySession(game, opponent, human_seat, config=config, replay_dir=tmp_path / "replays")
    return PlayWindow(session, fps=0)


def click(window: PlayWindow, point: int) -> None:
    """One scripted click on a point, then the agent's reply (run waits for it)."""
    window.run(events=[click_event(window.layout.center(point))])


def pixel(path: Path, xy: tuple[int, int]) -> tuple[int, int, int]:
    return tuple(pygame.image.load(str(path)).get_at(xy))[:3]


def board_pixels(window: PlayWindow) -> np.ndarray:
    return pygame.surfarray.array3d(window.surface)[: BOARD_RECT.width, : BOARD_RECT.height].copy()


def test_full_tictactoe_game_against_random(tmp_path: Path) -> None:
    window = window_for("tictactoe", "random", tmp_path)
    session = window.session
    while not session.over:
        click(window, int(session.state.legal_action_mask[0].nonzero()[0]))
    assert bool(session.state.terminated[0]) and session.result in ("X wins", "O wins", "draw")
    assert session.status().startswith("Game over")
    shot = window.screenshot(tmp_path / "ttt.png")
    board = session.state.board[0].tolist()
    x_cell, o_cell = board.index(1), board.index(-1)
    cx, cy = window.layout.center(x_cell)  # on the arms of the X (a winning stroke may cross it)
    assert CROSS in {pixel(shot, (cx + dx, cy + dy)) for dx in (-30, 30) for dy in (-30, 30)}
    cx, cy = window.layout.center(o_cell)  # an O is a ring: its colour sits at the radius
    assert NOUGHT in {pixel(shot, (cx + dx, cy)) for dx in range(45, 70)}
    saved = list((tmp_path / "replays").glob("tictactoe-*.json"))
    assert len(saved) == 1, "a finished game writes its replay"
    assert load_replay(saved[0]).result == session.result


def test_go_click_draws_stones_on_the_goban(tmp_path: Path) -> None:
    window = window_for("go", "random", tmp_path, size=9, komi=7.5)
    point = window.session.game.string_to_action("E5")
    click(window, point)
    shot = window.screenshot(tmp_path / "go.png")
    assert pixel(shot, window.layout.center(point)) == BLACK_STONE
    reply = window.session.last_move
    assert reply is not None and reply != point
    if reply != window.session.game.pass_action:
        assert pixel(shot, window.layout.center(reply)) == WHITE_STONE  # the last-move ring leaves the centre
    # a click between points lands on the nearest one; one in the margin does nothing
    assert window.layout.point_at((5, 5)) is None


def test_illegal_click_is_refused_with_a_message(tmp_path: Path) -> None:
    window = window_for("tictactoe", "random", tmp_path)
    session = window.session
    click(window, 4)
    before = list(session.moves)
    for cell in before:  # both occupied cells: mine and the agent's
        click(window, cell)
        assert session.message.startswith("Illegal move")
        assert session.moves == before and window.open
    window.run(events=[key_event(pygame.K_p)])  # no pass in tic-tac-toe
    assert "no pass" in session.message and session.moves == before
    shot = window.screenshot(tmp_path / "illegal.png")
    assert pygame.image.load(str(shot)).get_size() == window.surface.get_size()


def test_undo_takes_back_my_move_and_the_reply(tmp_path: Path) -> None:
    window = window_for("go", "random", tmp_path, size=9, komi=7.5)
    session = window.session
    click(window, 40)
    after_first = session.state.board.clone()
    click(window, 20)
    assert len(session.moves) == 4
    window.run(events=[key_event(pygame.K_u)])
    assert len(session.moves) == 2 and torch.equal(session.state.board, after_first)
    window.run(events=[key_event(pygame.K_u)])
    assert session.moves == [] and int(session.state.board.abs().sum()) == 0
    window.run(events=[key_event(pygame.K_u)])
    assert session.message == "Nothing to undo."


def test_closing_mid_game_writes_a_replay_that_replays(tmp_path: Path) -> None:
    window = window_for("go", FakeThinker(), tmp_path, size=9, komi=7.5)
    session = window.session
    click(window, 40)
    click(window, 31)
    window.run(events=[pygame.event.Event(pygame.QUIT)])
    assert not window.open and window.saved_to is not None
    data = json.loads(window.saved_to.read_text())
    assert data["format"] == "arena-replay" and data["version"] == 1 and data["game"] == "go"
    assert data["config"] == {"size": 9, "komi": 7.5} and data["players"] == ["human", "fake"]
    assert data["result"] is None and len(data["thinking"]) == len(data["moves"]) == 4
    assert data["thinking"][0] is None and data["thinking"][1]["value"] == 0.25
    game, states = replay_states(load_replay(window.saved_to))
    assert torch.equal(states[-1].board, session.state.board)
    assert not list(window.saved_to.parent.glob("*.tmp")), "atomic write leaves no temporary file"


def test_thinking_heat_map_draws_and_toggles(tmp_path: Path) -> None:
    for game_id, config in (("tictactoe", {}), ("go", {"size": 9, "komi": 7.5})):
        window = window_for(game_id, FakeThinker(), tmp_path, **config)
        click(window, 4 if game_id == "tictactoe" else 40)
        assert window.session.shown_thinking is not None and window.session.show_thinking
        shown = board_pixels(window)
        window.run(events=[key_event(pygame.K_h)])
        assert not window.session.show_thinking
        hidden = board_pixels(window)
        assert (shown != hidden).any(axis=2).sum() > 1000, "the heat map changes the board"
        window.screenshot(tmp_path / f"heat-{game_id}.png")


def test_no_moves_while_the_agent_thinks(tmp_path: Path) -> None:
    slow = BlockingPlayer()
    window = window_for("tictactoe", slow, tmp_path, human_seat=1)  # the agent (X) moves first
    session = window.session
    window.frame()  # starts the agent's thread; the loop keeps drawing meanwhile
    assert session.agent_busy and "thinking" in session.status()
    window.handle_event(click_event(window.layout.center(4)))
    window.frame()
    assert session.moves == [] and session.message.startswith("Wait")
    slow.release.set()
    session.wait_for_agent()
    assert session.moves == [0] and session.human_to_move


def test_swap_and_new_game_forget_a_pending_answer(tmp_path: Path) -> None:
    slow = BlockingPlayer()
    window = window_for("tictactoe", slow, tmp_path, human_seat=1)
    session = window.session
    session.poll()
    assert session.agent_busy
    window.handle_event(key_event(pygame.K_s))  # now I play X, and it is my move
    assert session.human_seat == 0 and session.human_to_move
    slow.release.set()
    click(window, 4)  # the stale answer for the empty board is ignored
    assert session.moves[0] == 4 and len(session.moves) == 2
    window.handle_event(key_event(pygame.K_n))
    assert session.moves == [] and len(list((tmp_path / "replays").glob("*.json"))) == 1


def test_resign_ends_and_saves(tmp_path: Path) -> None:
    window = window_for("go", "random", tmp_path, size=9, komi=7.5)
    session = window.session
    window.run(events=[key_event(pygame.K_p)])  # I pass
    assert session.moves[0] == session.game.pass_action
    window.run(events=[key_event(pygame.K_r)])
    assert session.over and session.result == "W+R"
    click(window, 40)
    assert "over" in session.message
    assert load_replay(session.replay_path).result == "W+R"


def test_a_failing_opponent_shows_a_message(tmp_path: Path) -> None:
    window = window_for("tictactoe", BrokenPlayer(), tmp_path)
    click(window, 4)
    window.run(max_frames=3)
    assert "broken failed" in window.session.message and window.open
    assert window.session.moves == [4]


def test_play_command_and_session(tmp_path: Path) -> None:
    cmd = tyro.cli(PlayCommand, args=["go", "--size", "7", "--color", "white", "--replay-dir", str(tmp_path)])
    session = make_session(cmd)
    # 7x7 has a shipped network (arena/weights/go7); a size without one meets random
    assert session.game.board_size == 7 and session.human_seat == 1 and session.opponent.name == "alphazero(go7)"
    assert make_session(tyro.cli(PlayCommand, args=["go", "--size", "13"])).opponent.name == "random"
    assert session.game.max_moves is None  # people play every legal move: no self-play move cap
    assert make_session(PlayCommand()).opponent.name == "minimax"
    if importlib.util.find_spec("arena.selfplay.alphazero") is not None:  # make_player reaches it for other names
        with pytest.raises(ValueError, match="unknown opponent"):
            make_session(PlayCommand(opponent="nobody"))


STARS = {
    9: {(2, 2), (2, 6), (6, 2), (6, 6), (4, 4)},  # the 3-3 points and tengen
    13: {(3, 3), (3, 9), (9, 3), (9, 9), (6, 6)},  # the 4-4 points and tengen
    19: {(r, c) for r in (3, 9, 15) for c in (3, 9, 15)},  # 4-4 points, side stars, tengen
}


@pytest.mark.parametrize("size", sorted(STARS))
def test_star_points_are_those_of_real_boards(size: int, tmp_path: Path) -> None:
    assert set(star_points(size)) == STARS[size] and len(star_points(size)) == len(STARS[size])
    window = window_for("go", "random", tmp_path, size=size)
    window.frame()
    inner = [(r, c) for r in range(1, size - 1) for c in range(1, size - 1)]  # off the thick edge lines
    for r, c in inner:  # a star's disc covers the pixel diagonally beside the grid crossing
        x, y = window.layout.center(r * size + c)
        assert (tuple(window.surface.get_at((x + 1, y + 1)))[:3] == INK) == ((r, c) in STARS[size]), (r, c)


def test_star_points_of_other_sizes() -> None:
    assert star_points(5) == ((2, 2),) and star_points(6) == ()  # tengen only; no room on 6x6
    assert star_points(7) == ((2, 2), (2, 4), (4, 2), (4, 4))  # the 3-3 points, no crowded tengen
    assert len(star_points(11)) == 5 and len(star_points(15)) == 9 and len(star_points(18)) == 4
    assert all(0 <= r < n and 0 <= c < n for n in range(5, 20) for r, c in star_points(n))


def test_run_play_real_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The command's own loop, reading pygame's queue: one click on the centre, then close."""
    from arena.viewer.board import layout_for

    center = layout_for(envs.make("tictactoe")).center(4)
    script = [[click_event(center)], [], [pygame.event.Event(pygame.QUIT)]]
    monkeypatch.setattr(pygame.event, "get", lambda: script.pop(0) if script else [pygame.event.Event(pygame.QUIT)])
    run_play(PlayCommand(replay_dir=tmp_path))
    (saved,) = tmp_path.glob("tictactoe-*.json")
    assert f"replay saved to {saved}" in capsys.readouterr().out
    assert load_replay(saved).moves[0] == 4


def test_replay_round_trip(tmp_path: Path) -> None:
    replay = Replay("tictactoe", {}, ("human", "minimax"), (4, 0, 8), None, (None, Thinking((1.0,) + (0.0,) * 8, 0.0)))
    path = save_replay(replay, tmp_path / "r.json")
    back = load_replay(path)
    assert back.moves == replay.moves and back.thinking[1] == replay.thinking[1] and back.thinking[2] is None
    with pytest.raises(ValueError, match="arena-replay"):
        Replay.from_json({"format": "other"})


def test_screenshots_script(tmp_path: Path) -> None:
    from arena.viewer.screenshots import make_screenshots

    paths = make_screenshots(tmp_path, simulations=4)
    assert [p.name for p in paths] == ["play-tictactoe.png", "play-go.png"]
    assert all(pygame.image.load(str(p)).get_size() == (640, 760) for p in paths)
