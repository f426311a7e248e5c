"""The territory overlay (key O) of the play and watch windows, headless (SDL_VIDEODRIVER=dummy
from conftest.py), and the ownership that replays keep. A fake player shows a chosen ownership:
no network is trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import pytest

import envs
from arena.bots.players import Thinking
from arena.io.replays import Replay, load_replay, save_replay
from arena.viewer.board import BOARD_RECT, territory_estimate
from arena.viewer.session import PlaySession
from arena.viewer.watch import WatchSession, WatchWindow, open_replay
from arena.viewer.window import PlayWindow, click_event, key_event
from envs.render import BLACK_STONE, WHITE_STONE, WOOD

SIZE = 9
BLACK_LAND, WHITE_LAND, UNSURE, MY_STONE = 20, 24, 22, 40  # C7, G7, E7 (|o| < 0.2), E5


def chosen_ownership() -> tuple[float, ...]:
    """Black's C7 and white's G7 sure, E7 unsure, and the person's stone on E5 dead."""
    own = [0.0] * (SIZE * SIZE)
    own[BLACK_LAND], own[WHITE_LAND], own[UNSURE], own[MY_STONE] = 0.95, -0.95, 0.1, -0.9
    return tuple(own)


class OwnershipThinker:
    """Plays its first legal move, with a uniform policy and ``ownership`` (None: like a
    search without an ownership head)."""

    name = "owner"

    def __init__(self, ownership: tuple[float, ...] | None) -> None:
        self.ownership = ownership

    def act(self, game: Any, state: Any) -> tuple[int, Thinking | None]:
        legal = state.legal_action_mask[0].nonzero().flatten().tolist()
        policy = tuple(1 / len(legal) if a in legal else 0.0 for a in range(game.num_actions))
        return legal[0], Thinking(policy, 0.1, self.ownership)


def play_window(opponent: Any, tmp_path: Path, game_id: str = "go") -> PlayWindow:
    config = {"size": SIZE, "komi": 7.5} if game_id == "go" else {}
    game = envs.make(game_id, **config)  # type: ignore[arg-type]
    session = PlaySession(game, opponent, 0, config=config, replay_dir=tmp_path / "replays")
    return PlayWindow(session, fps=0)


def press(window: Any, *keys: int) -> None:
    window.run(events=[key_event(k) for k in keys])


def board_pixels(window: Any) -> np.ndarray:
    return pygame.surfarray.array3d(window.surface)[: BOARD_RECT.width, : BOARD_RECT.height].copy()


def at(window: Any, point: int) -> tuple[int, int, int]:
    """The pixel a little right of and below ``point``: off the grid lines and the star points,
    inside a sure point's square."""
    x, y = window.layout.center(point)
    return tuple(window.surface.get_at((x + 6, y + 6)))[:3]


def near(color: tuple[int, int, int], target: tuple[int, int, int], within: int = 25) -> bool:
    return max(abs(a - b) for a, b in zip(color, target)) <= within


def test_o_toggles_the_territory_squares(tmp_path: Path) -> None:
    window = play_window(OwnershipThinker(chosen_ownership()), tmp_path)
    session = window.session
    window.run(events=[click_event(window.layout.center(MY_STONE))])
    press(window, pygame.K_h)  # heat map off: only the territory changes the board below
    assert not session.show_territory and at(window, BLACK_LAND) == WOOD
    hidden = board_pixels(window)
    press(window, pygame.K_o)
    assert session.show_territory and session.message == ""
    assert near(at(window, BLACK_LAND), BLACK_STONE), "a near-black square on black's sure point"
    assert near(at(window, WHITE_LAND), WHITE_STONE), "a near-white square on white's sure point"
    assert at(window, UNSURE) == WOOD, "no square where the network is unsure"
    assert near(at(window, MY_STONE), WHITE_STONE), "a white square marks the dead black stone"
    window.screenshot(tmp_path / "territory.png")
    press(window, pygame.K_o)
    assert not session.show_territory and (board_pixels(window) == hidden).all()


def test_the_button_toggles_it_and_the_info_line_shows_the_estimate(tmp_path: Path) -> None:
    from arena.viewer.board import info_line

    window = play_window(OwnershipThinker(chosen_ownership()), tmp_path)
    window.run(events=[click_event(window.layout.center(MY_STONE))])
    assert "estimate" not in info_line(window.session)
    button = next(b for b in window.buttons if b.command == "territory")
    window.run(events=[click_event(button.rect.center)])
    assert window.session.show_territory
    assert "estimate W+8.3" in info_line(window.session)  # 0.95 - 0.95 + 0.1 - 0.9 - 7.5


def test_estimate_is_the_ownership_sum_minus_komi() -> None:
    game = envs.make("go", size=SIZE, komi=7.5)
    assert territory_estimate(game, (1.0,) * 81) == "estimate B+73.5"
    assert territory_estimate(game, (0.25,) * 40 + (0.0,) * 41) == "estimate B+2.5"
    assert territory_estimate(game, (-0.5,) * 81) == "estimate W+48.0"
    assert territory_estimate(envs.make("go", size=SIZE, komi=0.0), (0.0,) * 81) == "estimate even"


def test_no_ownership_says_so_and_draws_nothing(tmp_path: Path) -> None:
    window = play_window(OwnershipThinker(None), tmp_path)
    window.run(events=[click_event(window.layout.center(MY_STONE))])
    before = board_pixels(window)
    press(window, pygame.K_o)
    assert window.session.show_territory and "owner shows no territory estimate" in window.session.message
    assert "arena train go" in window.session.message
    assert (board_pixels(window) == before).all()
    ttt = play_window(OwnershipThinker(None), tmp_path, "tictactoe")
    assert "territory" not in [b.command for b in ttt.buttons]
    press(ttt, pygame.K_o)
    assert not ttt.session.show_territory and "no territory" in ttt.session.message


def test_replay_json_keeps_ownership_only_when_there_is_one(tmp_path: Path) -> None:
    policy = (1.0,) + (0.0,) * 81
    with_own = Thinking(policy, 0.5, chosen_ownership())
    replay = Replay("go", {"size": SIZE, "komi": 7.5}, ("human", "owner"), (40, 0, 81),
                    None, (None, with_own, Thinking(policy, -0.2)))
    path = save_replay(replay, tmp_path / "r.json")
    entries = json.loads(path.read_text())["thinking"]
    assert entries[1]["ownership"] == list(chosen_ownership()) and "ownership" not in entries[2]
    back = load_replay(path)
    assert back.thinking == (None, with_own, Thinking(policy, -0.2))
    assert back.thinking[2].ownership is None and json.loads(path.read_text())["version"] == 1


def test_play_window_replays_keep_the_ownership(tmp_path: Path) -> None:
    window = play_window(OwnershipThinker(chosen_ownership()), tmp_path)
    window.run(events=[click_event(window.layout.center(MY_STONE)), pygame.event.Event(pygame.QUIT)])
    replay, _, _ = open_replay(window.saved_to)
    assert replay.thinking[0] is None and replay.thinking[1].ownership == chosen_ownership()


def test_watch_draws_the_recorded_territory(tmp_path: Path) -> None:
    policy = tuple(1 / 82 for _ in range(82))
    thinking = (None, Thinking(policy, 0.1, chosen_ownership()), None)  # black E5, white A9, black pass
    path = save_replay(Replay("go", {"size": SIZE, "komi": 7.5}, ("human", "owner"), (MY_STONE, 0, 81), None,
                              thinking), tmp_path / "w.json")
    window = WatchWindow(WatchSession(path), fps=0)
    session = window.session
    press(window, pygame.K_RIGHT, pygame.K_o)
    assert session.show_territory and "no territory recorded" in session.info()
    press(window, pygame.K_RIGHT, pygame.K_RIGHT, pygame.K_h)  # after black's pass: white's estimate still
    assert session.shown_ownership == chosen_ownership() and "estimate W+8.3" in session.info()
    assert near(at(window, BLACK_LAND), BLACK_STONE) and near(at(window, MY_STONE), WHITE_STONE)
    press(window, pygame.K_o)
    assert at(window, BLACK_LAND) == WOOD and "estimate" not in session.info()


def test_ownership_that_does_not_fit_the_board_is_refused(tmp_path: Path) -> None:
    bad = Thinking((1.0,) + (0.0,) * 81, 0.0, (0.5,) * 25)
    path = save_replay(Replay("go", {"size": SIZE, "komi": 7.5}, ("a", "b"), (40,), None, (bad,)), tmp_path / "b.json")
    with pytest.raises(ValueError, match="25 ownership values, not one per point"):
        open_replay(path)
