"""Go on the batched engine: the end of the game and Tromp-Taylor scoring (seki, hand-counted
areas), board sizes, checked-mode errors, the move cap and uncapped games far past it,
observations, coordinates and batched games, checked against the scalar reference
(tests/go_reference.py) and hand-counted values. The capture, ko and suicide rules are in
tests/test_go.py."""

from __future__ import annotations

import pytest
import torch

import envs
from envs import core
from envs.go import SENTINEL, Go
from go_positions import game_from, legal, play
from go_reference import GoReference, assert_state_matches, long_game, parse_vertex

# A seki in the top-left corner: black A5-A4 and white C5-C4-C3-B3-A3 share the
# liberties B5 and B4 and have no others; whoever plays there first gets captured.
SEKI = """
X . O X .
X . O X .
O O O X .
X X X X .
. . . . .
"""


# ----- end of game and scoring --------------------------------------------------------------


def test_seki_shared_liberties_count_for_nobody() -> None:
    game, state, ref = game_from(SEKI)
    # Hand count: black 9 stones + 9 points of territory, white 5 stones, B5 and B4 neutral.
    assert game.areas(state)[0].tolist() == [18, 5]
    assert ref.areas() == (18, 5, 2)
    # It is a seki: filling a shared liberty puts the filler in atari, and it is captured.
    for mover, fill, answer, lost in [(0, "B5", "B4", 3), (1, "B5", "B4", 6)]:
        g, s, r = game_from(SEKI, to_play=mover)
        s = play(g, s, r, [fill, answer])
        assert s.captures[0, 1 - mover] == lost
    state = play(game, state, ref, ["pass", "pass"])
    assert bool(state.terminated[0])
    assert float(state.score[0]) == 18 - 5 - 7.5
    assert int(state.winner[0]) == 0
    assert state.rewards[0].tolist() == [1.0, -1.0]
    assert not bool(state.legal_action_mask.any())


@pytest.mark.parametrize(
    "text, komi, black, white, winner, rewards",
    [
        # Walls on columns B and D: column C touches both colours and is neutral.
        (". X . O .\n" * 5, 7.5, 10, 10, 1, [-1.0, 1.0]),
        (". X . O .\n" * 5, 0, 10, 10, -1, [0.0, 0.0]),
        # Walls on columns C and D: 15 against 10.
        (". . X O .\n" * 5, 7.5, 15, 10, 1, [-1.0, 1.0]),
        (". . X O .\n" * 5, 5, 15, 10, -1, [0.0, 0.0]),
        (". . X O .\n" * 5, 4.5, 15, 10, 0, [1.0, -1.0]),
        # A white stone left in black's area: it counts for white, and the region it
        # touches (A5-A4-A3-A2-A1 minus A3) reaches both colours, so it counts for nobody.
        (". X . O .\n. X . O .\nO X . O .\n. X . O .\n. X . O .\n", 0.5, 5, 11, 1, [-1.0, 1.0]),
        # Two black eyes (B4, D4) and three white ones on the first line: 15 against 10.
        ("X X X X X\nX . X . X\nX X X X X\nO O O O O\n. O . O .\n", 7.5, 15, 10, 1, [-1.0, 1.0]),
        ("X X X X X\nX . X . X\nX X X X X\nO O O O O\n. O . O .\n", 5, 15, 10, -1, [0.0, 0.0]),
    ],
    ids=["neutral-column", "neutral-column-draw", "walls", "walls-draw", "walls-black",
         "stone-in-area", "eyes", "eyes-draw"],
)
def test_hand_counted_scores(
    text: str, komi: float, black: int, white: int, winner: int, rewards: list[float],
) -> None:
    game, state, ref = game_from(text, komi=komi)
    assert game.areas(state)[0].tolist() == [black, white]
    assert float(game.score_now(state)[0]) == black - white - komi
    state = play(game, state, ref, ["pass", "pass"])
    assert float(state.score[0]) == black - white - komi
    assert int(state.winner[0]) == winner
    assert state.rewards[0].tolist() == rewards


@pytest.mark.parametrize("size", [5, 9, 19])
def test_sizes(size: int) -> None:
    game = Go(size=size)
    assert game.num_actions == size * size + 1 == game.pass_action + 1
    assert game.board_size == size and game.name == "go" and game.num_players == 2
    assert game.max_moves == 2 * size * size
    state = game.init(batch=2)
    assert state.board.shape == (2, size * size) and state.board.dtype == torch.int8
    assert state.legal_action_mask.all()
    assert game.areas(state).tolist() == [[0, 0], [0, 0]]  # an empty board belongs to nobody
    ref = GoReference(size=size)
    moves = ["C3", f"{'ABCDEFGHJKLMNOPQRST'[size - 1]}{size}", "D4", "pass", "B2"]
    for m in moves:
        a = parse_vertex(m, size)
        state = game.step(state, torch.tensor([a, a]))
        ref.play(a)
        assert_state_matches(state, [ref, ref], where=m)
    text = game.render(state)
    assert " ".join("ABCDEFGHJKLMNOPQRST"[:size]) in text  # GTP columns, no I
    for r in range(size):  # every row drawn in order, labelled with its GTP number
        marks = " ".join(".XO"[v] for v in ref.board[r * size : (r + 1) * size])
        line = next(t for t in text.splitlines() if t.split() and t.split()[0] == str(size - r))
        assert marks in line, (line, marks)
    black, white, _ = ref.areas()
    assert game.areas(state)[0].tolist() == [black, white]
    lone = game.step(game.init(), torch.tensor([parse_vertex("C3", size)]))
    assert game.areas(lone)[0].tolist() == [size * size, 0]
    assert float(game.score_now(lone)[0]) == size * size - 7.5


# ----- checked mode, move cap ---------------------------------------------------------------


def test_checked_errors_name_the_move_and_show_the_board() -> None:
    game = Go(size=9)
    state = play(game, game.init(), None, ["D4"])
    with pytest.raises(core.IllegalActionError) as info:
        game.step(state, torch.tensor([parse_vertex("D4", 9)]))  # occupied
    assert "D4" in str(info.value)
    assert game.render(state) in str(info.value)
    assert not legal(state, game, "D4")
    with pytest.raises(core.IllegalActionError):
        game.step(state, torch.tensor([82]))  # off the board
    state = play(game, state, None, ["pass", "pass"])
    assert bool(state.terminated[0])
    with pytest.raises(core.GameFinishedError):
        game.step(state, torch.tensor([game.pass_action]))
    frozen = game.step(state, torch.tensor([0]), checked=False)  # unchecked: stays as it was
    assert torch.equal(frozen.board, state.board) and frozen.rewards.abs().sum() == 0


def test_move_cap_ends_the_game() -> None:
    game, state, ref = game_from(". . . . .\n" * 5, komi=0.5, max_moves=3)
    state = play(game, state, ref, ["C3", "pass"])
    assert not bool(state.terminated[0])
    state = play(game, state, ref, ["B2"])
    assert bool(state.terminated[0]) and int(state.move_count[0]) == 3
    assert float(state.score[0]) == 25 - 0.5
    assert state.rewards[0].tolist() == [1.0, -1.0]
    assert not bool(state.legal_action_mask.any())


def test_self_play_keeps_its_cap_and_shapes_and_people_get_none() -> None:
    game = Go(size=5)
    assert game.max_moves == 50 and game.init(3).hash_history.shape == (3, 51)  # self-play as before
    assert Go(size=5, max_moves=12).init().hash_history.shape == (1, 13)
    uncapped = envs.make_uncapped("go", size=5, komi=0.5)
    assert uncapped.max_moves is None and uncapped.komi == 0.5 and Go(size=5, max_moves=0).max_moves is None
    assert uncapped.init().hash_history.shape == (1, 4 * 25 + 1)
    assert envs.make_uncapped("go", size=5, max_moves=30).max_moves == 30  # an explicit cap is kept
    assert envs.make_uncapped("tictactoe").name == "tictactoe"
    with pytest.raises(ValueError, match="max_moves"):
        Go(size=5, max_moves=-1)


def test_uncapped_game_takes_every_legal_move_far_past_the_old_cap() -> None:
    actions, _ = long_game(5, 400, seed=0)
    game, ref = Go(size=5, komi=0.5, max_moves=0), GoReference(size=5, komi=0.5, max_moves=0)
    state = game.init()
    for i, a in enumerate(actions):
        state = game.step(state, torch.tensor([a]))
        ref.play(a)
        assert_state_matches(state, [ref], where=f"move {i + 1}")  # captures, suicide, superko exact
    assert len(actions) == 400 and sum(ref.captures) > 200  # the board was captured and refilled
    assert state.hash_history.shape[1] > 101  # grown by checked steps ...
    assert int((state.hash_history != SENTINEL).sum()) == len(ref.history)  # ... every position kept
    state = play(game, state, ref, ["pass", "pass"])
    assert bool(state.terminated[0]) and float(state.score[0]) == ref.score


def test_unchecked_lines_keep_their_shape_and_end_when_the_history_is_full() -> None:
    game = Go(size=5, max_moves=0)
    actions, _ = long_game(5, 400, seed=1)
    state = game.init()
    for n, a in enumerate(actions, start=1):
        state = game.step(state, torch.tensor([a]), checked=False)
        if n == 60:
            assert game.make_room(state).hash_history.shape == (1, 202)  # more than half full: doubled
        if bool(state.terminated[0]):
            break
    board_moves = sum(a != game.pass_action for a in actions[:n])
    assert state.hash_history.shape == (1, 101) and board_moves == 100  # 1 + 100 positions fill it
    assert int(state.passes[0]) < 2 and float(state.score[0]) == float(game.score_now(state)[0])
    fresh = game.init()
    assert game.make_room(fresh) is fresh  # enough room: the same state
    capped = Go(size=5)
    assert capped.make_room(capped.init()).hash_history.shape == (1, 51)


# ----- observation, coordinates, batches ----------------------------------------------------


def test_observation_follows_the_side_to_move() -> None:
    game = Go(size=5)
    text = "X . . . .\n. O . . .\n. . X . .\n. . . . .\n. . . . O\n"
    swapped = text.replace("X", "x").replace("O", "X").replace("x", "O")
    black_view = game.observe(game.from_ascii(text, to_play=0))
    white_view = game.observe(game.from_ascii(swapped, to_play=1))
    assert black_view.shape == (1, *game.observation_shape)
    stones = torch.tensor(game.from_ascii(text).board[0].view(5, 5).tolist())
    assert torch.equal(black_view[0, 0], (stones == 1).float())  # own stones first
    assert torch.equal(black_view[0, 1], (stones == -1).float())
    # The same position with colours swapped looks the same to the side to move,
    # except for the colour plane.
    assert torch.equal(black_view[0, :-1], white_view[0, :-1])
    assert black_view[0, -1].eq(1).all() and white_view[0, -1].eq(0).all()
    # After a pass the same board is seen from the other side.
    state = game.step(game.from_ascii(text), torch.tensor([game.pass_action]))
    assert torch.equal(game.observe(state)[0, 0], (stones == -1).float())


@pytest.mark.parametrize("size", [5, 9, 19])
def test_coordinates_round_trip(size: int) -> None:
    game = Go(size=size)
    names = [game.action_to_string(a) for a in range(game.num_actions)]
    assert len(set(names)) == game.num_actions
    assert all("I" not in n for n in names)
    assert names[0] == f"A{size}" and names[size * size - 1] == f"{'ABCDEFGHJKLMNOPQRST'[size - 1]}1"
    assert names[-1] == "pass"
    assert all(game.string_to_action(n) == a for a, n in enumerate(names))
    assert all(parse_vertex(n, size) == a for a, n in enumerate(names))
    for junk in ["I3", "A0", f"A{size + 1}", "Z1", ""]:
        with pytest.raises(ValueError):
            game.string_to_action(junk)


def test_batch_games_do_different_things_in_one_step() -> None:
    game = Go(size=5, komi=0.5)
    refs = [GoReference(size=5, komi=0.5) for _ in range(4)]
    state = game.init(batch=4)
    # Game 0 captures in the corner, game 1 passes twice and ends (then stays frozen),
    # game 2 just plays, game 3 passes first and ends on the last step.
    rounds = [
        ["A4", "A5", "B5", "pass", "C3"],
        ["C2", "pass", "pass", "B3", "B4"],
        ["D3", "C4", "pass", "A1", "E5"],
        ["pass", "C2", "B3", "pass", "pass"],
    ]
    for step in range(5):
        names = [rounds[i][step] for i in range(4)]
        actions = [parse_vertex(n, 5) for n in names]
        for ref, a in zip(refs, actions):
            if ref.terminated:
                ref.skip()
            else:
                ref.play(a)
        state = game.step(state, torch.tensor(actions), checked=False)
        assert_state_matches(state, refs, where=f"step {step} {names}")
    assert state.terminated.tolist() == [False, True, False, True]
    assert state.captures[0].tolist() == [1, 0]


def test_pass_turn_hands_over_without_ending_the_game():
    game = Go(5)
    state = game.step(game.init(2), torch.tensor([game.pass_action, 12]))  # game 0 passed once
    after = game.pass_turn(state)
    assert after.current_player.tolist() == [0, 0] and not after.terminated.any()
    assert torch.equal(after.board, state.board) and after.passes.tolist() == [1, 1]
    assert after.move_count.tolist() == [2, 2]
    ended = game.step(after, torch.full((2,), game.pass_action))  # a real pass after it does end it
    assert ended.terminated.all()
