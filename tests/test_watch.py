"""``arena watch``, headless (SDL_VIDEODRIVER=dummy from conftest.py): scripted keys and clicks
drive the real window; pixels of the drawn board are checked against the replayed position."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pygame
import pytest
import tyro

from arena.bots.players import Thinking
from arena.commands.watch import WatchCommand, run_watch
from arena.io.replays import Replay, save_replay
from arena.viewer.board import BOARD_RECT
from arena.viewer.watch import SLIDER, ReplayFeed, WatchSession, WatchWindow, open_replay
from envs.render import BLACK_STONE, WHITE_STONE
from go_reference import long_game

GO_MOVES = (40, 30, 81, 50)  # E5, D6, pass, F4 on 9x9


def go_replay(tmp_path: Path, thinking: bool = False, name: str = "go.json", moves: tuple[int, ...] = GO_MOVES) -> Path:
    recorded: tuple[Thinking | None, ...] = ()
    if thinking:  # white (the agent) showed a policy peaked on its moves
        def peaked(action: int) -> Thinking:
            policy = [0.0] * 82
            policy[action], policy[60] = 0.7, 0.3
            return Thinking(tuple(policy), -0.4)

        recorded = tuple(peaked(a) if i % 2 else None for i, a in enumerate(moves))
    replay = Replay("go", {"size": 9, "komi": 7.5}, ("human", "mcts"), moves, "B+R", recorded)
    return save_replay(replay, tmp_path / name)


def window_for(path: Path, **kwargs) -> WatchWindow:
    return WatchWindow(WatchSession(path, **kwargs), fps=0)


def keys(window: WatchWindow, *names: int) -> None:
    window.run(events=[pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="") for k in names])


def at(window: WatchWindow, point: int) -> tuple[int, int, int]:
    return tuple(window.surface.get_at(window.layout.center(point)))[:3]


def board_pixels(window: WatchWindow) -> np.ndarray:
    return pygame.surfarray.array3d(window.surface)[: BOARD_RECT.width, : BOARD_RECT.height].copy()


def test_step_forward_and_back_draws_the_replayed_position(tmp_path: Path) -> None:
    window = window_for(go_replay(tmp_path))
    session = window.session
    window.frame()
    assert session.index == 0 and at(window, 40) != BLACK_STONE
    keys(window, pygame.K_RIGHT)
    assert session.index == 1 and at(window, 40) == BLACK_STONE and "Move 1/4: black E5" in session.status()
    keys(window, pygame.K_RIGHT, pygame.K_RIGHT, pygame.K_RIGHT, pygame.K_RIGHT)  # one past the end: stays
    assert session.index == 4 and session.at_end and "B+R" in session.status()
    assert at(window, 40) == BLACK_STONE and at(window, 30) == WHITE_STONE
    assert [int(v) for v in session.state.board[0].tolist()] == [int(v) for v in session.states[4].board[0].tolist()]
    keys(window, pygame.K_LEFT, pygame.K_LEFT, pygame.K_LEFT)
    assert session.index == 1 and at(window, 30) != WHITE_STONE and at(window, 40) == BLACK_STONE
    keys(window, pygame.K_END)
    assert session.index == 4
    keys(window, pygame.K_HOME)
    assert session.index == 0 and at(window, 40) != BLACK_STONE
    window.screenshot(tmp_path / "watch.png")


def test_slider_and_buttons(tmp_path: Path) -> None:
    window = window_for(go_replay(tmp_path))
    window.run(events=[pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(SLIDER.right, SLIDER.centery), button=1)])
    assert window.session.index == 4
    window.run(events=[pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(SLIDER.centerx, SLIDER.centery), button=1)])
    assert window.session.index == 2
    back = next(b for b in window.buttons if b.command == "back")
    window.run(events=[pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=back.rect.center, button=1)])
    assert window.session.index == 1


def test_autoplay_advances_with_the_clock(tmp_path: Path) -> None:
    session = WatchSession(go_replay(tmp_path), delay=0.5)
    window = WatchWindow(session, fps=0)
    window.handle_event(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, mod=0, unicode=""))
    assert session.autoplay
    window.frame(now=100.0)
    assert session.index == 1
    window.frame(now=100.2)  # not yet
    assert session.index == 1
    for t in (100.6, 101.2, 101.8, 102.4, 103.0):
        window.frame(now=t)
    assert session.index == 4 and session.at_end
    session.toggle_autoplay()
    session.toggle_autoplay()  # starting again at the end starts over
    assert session.index == 0 and session.autoplay


def test_thinking_overlay_draws_when_recorded(tmp_path: Path) -> None:
    window = window_for(go_replay(tmp_path, thinking=True))
    session = window.session
    keys(window, pygame.K_RIGHT, pygame.K_RIGHT)  # after white's D6, which recorded its thinking
    assert session.shown_thinking is not None and "white's value -0.40" in session.info()
    shown = board_pixels(window)
    keys(window, pygame.K_h)
    assert not session.show_thinking
    hidden = board_pixels(window)
    assert (shown != hidden).any(axis=2).sum() > 300, "the heat map changes the board"
    keys(window, pygame.K_h, pygame.K_LEFT)  # black's move recorded nothing: no overlay
    assert session.shown_thinking is None


def test_tictactoe_replay_and_no_thinking(tmp_path: Path) -> None:
    path = save_replay(Replay("tictactoe", {}, ("minimax", "random"), (4, 0, 8), None), tmp_path / "t.json")
    window = window_for(path)
    keys(window, pygame.K_END)
    assert window.session.index == 3 and "unfinished" in window.session.status()
    assert window.session.shown_thinking is None


@pytest.mark.parametrize("content, match", [
    (b"\x00\xff garbage", "not an arena replay"),
    (b"{\"format\": \"other\"}", "not an arena replay"),
    (b"[1, 2, 3]", "not an arena replay"),
    (b"{\"format\": \"arena-replay\", \"version\": 1, \"game\": \"chess\", \"players\": [\"a\", \"b\"], \"moves\": []}",
     "unknown game"),
    (b"{\"format\": \"arena-replay\", \"version\": 1, \"game\": \"go\", \"config\": {\"size\": 99},"
     b" \"players\": [\"a\", \"b\"], \"moves\": []}", "unknown game or config"),
    (b"{\"format\": \"arena-replay\", \"version\": 1, \"game\": \"tictactoe\", \"players\": [\"a\", \"b\"],"
     b" \"moves\": [4, 4]}", "move 2"),
    (b"{\"format\": \"arena-replay\", \"version\": 1, \"game\": \"tictactoe\", \"players\": [\"a\", \"b\"],"
     b" \"moves\": [4, 99999999999]}", "move 2"),
    (b"{\"format\": \"arena-replay\", \"version\": 1, \"game\": \"tictactoe\", \"players\": [\"a\", \"b\"],"
     b" \"moves\": [4], \"thinking\": [{\"policy\": [1.0], \"value\": 0}]}", "thinking of move 1"),
    (b"{\"format\": \"arena-replay\", \"version\": 1, \"game\": \"tictactoe\", \"players\": [\"a\", \"b\"],"
     b" \"moves\": \"abc\"}", "not an arena replay"),
])
def test_corrupt_or_foreign_replay_is_a_clear_error(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        open_replay(path)
    with pytest.raises(ValueError, match=match):
        run_watch(WatchCommand(path))


def test_a_game_far_longer_than_the_self_play_cap_replays(tmp_path: Path) -> None:
    actions, ref = long_game(5, 200, seed=4)  # 200 moves: the 5x5 self-play cap was 50
    path = save_replay(Replay("go", {"size": 5, "komi": 7.5}, ("a", "b"), tuple(actions), None), tmp_path / "long.json")
    window = window_for(path)
    keys(window, pygame.K_END)
    session = window.session
    assert session.index == 200 and session.game.max_moves is None
    assert session.state.board[0].tolist() == ref.board and "Move 200/200" in session.status()


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        run_watch(WatchCommand(tmp_path / "nothing.json"))
    with pytest.raises(ValueError, match="no replays"):
        run_watch(WatchCommand(tmp_path))


def test_live_mode_picks_up_a_newly_written_replay(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "replays").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"alphazero": {"game": "go", "size": 9, "komi": 7.5}}))
    (run / "metrics.jsonl").write_text(json.dumps({"step": 120, "elo": 310.4}) + "\n")
    from arena.viewer.watch import run_game

    session = WatchSession(feed=ReplayFeed(run / "replays"), game=run_game(run), autoplay=True, delay=0.1)
    window = WatchWindow(session, fps=0)
    window.frame(now=0.0)
    assert session.replay is None and session.game.board_size == 9 and "Waiting" in session.status()
    first = go_replay(run / "replays", name="go-1.json")
    window.frame(now=1.5)
    assert session.path == first and session.index == 0 and "step 120, elo 310" in session.info()
    second = go_replay(run / "replays", name="go-2.json", moves=(20, 21))
    os.utime(second, ns=(first.stat().st_mtime_ns + 10**9,) * 2)  # surely newer
    window.frame(now=3.0)  # the first game is still playing: it is finished first
    assert session.path == first
    t = 3.0
    while session.path == first and t < 20:
        t += 0.1
        window.frame(now=t)
    assert session.path == second and session.autoplay
    (run / "replays" / "go-3.json").write_bytes(b"broken")
    os.utime(run / "replays" / "go-3.json", ns=(second.stat().st_mtime_ns + 10**9,) * 2)
    for _ in range(40):
        t += 0.2
        window.frame(now=t)
    assert session.path == second and "skipped go-3.json" in session.message  # never a crash


def test_run_watch_real_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's own loop reading pygame's queue: a folder shows its newest game."""
    go_replay(tmp_path, name="old.json")
    newest = go_replay(tmp_path, name="new.json", moves=(10,))
    os.utime(newest, ns=(newest.stat().st_mtime_ns + 10**9,) * 2)
    seen = []
    right = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT, mod=0, unicode="")
    script = [[right], [pygame.event.Event(pygame.QUIT)]]

    def events() -> list:
        seen.append(pygame.display.get_surface().get_at((0, 0)))
        return script.pop(0) if script else [pygame.event.Event(pygame.QUIT)]

    monkeypatch.setattr(pygame.event, "get", events)
    run_watch(tyro.cli(WatchCommand, args=[str(tmp_path)]))
    assert seen, "the loop ran"
