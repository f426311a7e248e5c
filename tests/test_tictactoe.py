"""Tic-tac-toe: hand-played games, checked/unchecked modes, batched vs. scalar, symmetries, solver."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import core
from envs import tictactoe_solver as solver
from envs.tictactoe import TicTacToe, TicTacToeState
from reference_tictactoe import ReferenceTicTacToe, all_positions

GAME = TicTacToe()
MARK = {"X": 1, "O": -1, ".": 0}


def cells(text: str) -> list[int]:
    """An ASCII board (rows top first, ``X``/``O``/``.``, whitespace ignored) as 9 ints."""
    out = [MARK[c] for c in text if c in MARK]
    assert len(out) == 9, text
    return out


def play(moves: str, state: TicTacToeState | None = None) -> list[TicTacToeState]:
    """Play space-separated cell names (``"B2 A3"``) in one game; the state after each move."""
    state = GAME.init(1) if state is None else state
    states = []
    for name in moves.split():
        state = GAME.step(state, GAME.string_to_action(name))
        states.append(state)
    return states


def assert_running(state: TicTacToeState, board: list[int]) -> None:
    """The game is on: no rewards, the mask is exactly the empty cells."""
    assert state.board[0].tolist() == board
    assert state.legal_action_mask[0].tolist() == [v == 0 for v in board]
    assert state.rewards[0].tolist() == [0.0, 0.0]
    assert not bool(state.terminated[0])
    assert int(state.winner[0]) == -1
    assert int(state.current_player[0]) == sum(1 for v in board if v != 0) % 2


# ----- hand-played games --------------------------------------------------------------


@pytest.mark.parametrize(
    "moves, final, winner, rewards, verdict",
    [
        ("A3 A2 B3 B2 C3", "X X X / O O . / . . .", 0, [1.0, -1.0], "X wins"),
        ("B3 A3 A2 B2 C2 C1", "O X . / X O X / . . O", 1, [-1.0, 1.0], "O wins"),
        ("A3 B3 C3 B2 A2 C2 B1 A1 C1", "X O X / X O O / O X X", -1, [0.0, 0.0], "draw"),
        # The ninth move fills the board AND completes a line: a win, not a draw.
        ("A3 B3 C3 A2 B2 C2 B1 A1 C1", "X O X / O X O / O X X", 0, [1.0, -1.0], "X wins"),
    ],
)
def test_hand_played_game(moves: str, final: str, winner: int, rewards: list[float], verdict: str) -> None:
    states = play(moves)
    board = [0] * 9
    for i, (name, state) in enumerate(zip(moves.split(), states)):
        board[GAME.string_to_action(name)] = 1 if i % 2 == 0 else -1
        if i < len(states) - 1:
            assert_running(state, board)
    end = states[-1]
    assert end.board[0].tolist() == cells(final)
    assert bool(end.terminated[0])
    assert int(end.winner[0]) == winner
    assert end.rewards[0].tolist() == rewards
    assert not bool(end.legal_action_mask.any())
    assert int(end.move_count[0]) == len(states)
    assert GAME.render(end).endswith(verdict)


def test_render_shows_board_and_side_to_move() -> None:
    state = play("B2 A3")[-1]
    assert GAME.render(state) == "   A B C\n3  O . .\n2  . X .\n1  . . .\nX to move"


def test_illegal_move_names_the_move_and_shows_the_board() -> None:
    state = play("B2 A3")[-1]
    with pytest.raises(core.IllegalActionError, match="illegal move B2 by player 0") as info:
        GAME.step(state, GAME.string_to_action("B2"))
    assert GAME.render(state) in str(info.value)
    with pytest.raises(core.IllegalActionError, match=r"9 \(actions are 0..8\)"):
        GAME.step(state, 9)
    with pytest.raises(core.IllegalActionError, match="-1"):
        GAME.step(state, -1)


def test_illegal_move_in_a_batch_names_the_game() -> None:
    state = GAME.step(GAME.init(3), torch.tensor([0, 1, 2]))
    with pytest.raises(core.IllegalActionError, match="game 1 of the batch"):
        GAME.step(state, torch.tensor([3, 1, 4]))


def test_stepping_a_finished_game_raises() -> None:
    end = play("A3 A2 B3 B2 C3")[-1]
    with pytest.raises(core.GameFinishedError, match="already over") as info:
        GAME.step(end, 8)
    assert "X wins" in str(info.value)
    assert isinstance(info.value, core.IllegalActionError)


def test_unchecked_mode_freezes_finished_games() -> None:
    state = GAME.init(2)
    for a, b in [(0, 4), (3, 8), (1, 5), (4, 2), (2, 6)]:  # game 0: X wins on the top row at the 5th move
        state = GAME.step(state, torch.tensor([a, b]), checked=False)
    assert state.terminated.tolist() == [True, False]
    assert state.rewards[0].tolist() == [1.0, -1.0]
    after = GAME.step(state, torch.tensor([7, 7]), checked=False)
    assert after.board[0].tolist() == state.board[0].tolist()
    assert after.rewards[0].tolist() == [0.0, 0.0]
    assert bool(after.terminated[0]) and int(after.winner[0]) == 0
    assert int(after.move_count[0]) == 5 and int(after.current_player[0]) == int(state.current_player[0])
    assert not bool(after.legal_action_mask[0].any())
    assert int(after.board[1, 7]) == -1 and int(after.move_count[1]) == 6  # game 1 moved on


# ----- batched vs. the scalar reference ----------------------------------------------------


def test_batched_matches_scalar_reference_on_random_playouts() -> None:
    batch, rounds = 256, 12  # 3,072 complete random games
    generator = torch.Generator().manual_seed(1234)
    outcomes = set()
    for _ in range(rounds):
        state = GAME.init(batch)
        refs = [ReferenceTicTacToe() for _ in range(batch)]
        for _ in range(9):
            actions = core.random_actions(state, generator)
            state = GAME.step(state, actions, checked=False)
            for i, (ref, a) in enumerate(zip(refs, actions.tolist())):
                if ref.terminated:
                    ref.rewards = [0.0, 0.0]  # frozen: zero rewards after the end
                else:
                    ref.play(a)
            assert state.board.tolist() == [r.board for r in refs]
            assert state.legal_action_mask.tolist() == [r.mask() for r in refs]
            assert state.rewards.tolist() == [r.rewards for r in refs]
            assert state.terminated.tolist() == [r.terminated for r in refs]
            assert state.winner.tolist() == [r.winner for r in refs]
            assert state.current_player.tolist() == [r.current_player for r in refs]
        assert bool(state.terminated.all())
        outcomes.update(state.winner.tolist())
    assert outcomes == {-1, 0, 1}


def test_same_seed_same_games() -> None:
    def playout(seed: int) -> tuple[list[list[int]], list[int]]:
        generator = torch.Generator().manual_seed(seed)
        state, actions = GAME.init(64), []
        while not bool(state.terminated.all()):
            a = core.random_actions(state, generator)
            actions.append(a.tolist())
            state = GAME.step(state, a, checked=False)
        return actions, state.board.flatten().tolist()

    assert playout(5) == playout(5)
    assert playout(5) != playout(6)


# ----- observations, coordinates ----------------------------------------------------------


def test_observe_planes_are_from_the_side_to_move() -> None:
    x_to_move = play("B2 A3")[-1]
    obs = GAME.observe(x_to_move)
    assert obs.shape == (1, *GAME.observation_shape) == (1, 3, 3, 3)
    assert obs.dtype == torch.float32
    assert obs[0, 0].flatten().tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]  # own: X
    assert obs[0, 1].flatten().tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0]  # opponent: O
    assert obs[0, 2].flatten().tolist() == [1.0] * 9
    o_to_move = GAME.step(x_to_move, GAME.string_to_action("C1"))
    obs = GAME.observe(o_to_move)
    assert obs[0, 0].flatten().tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0]  # own: O
    assert obs[0, 1].flatten().tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 1]  # opponent: X
    assert obs[0, 2].flatten().tolist() == [0.0] * 9


def test_action_strings_round_trip() -> None:
    names = [GAME.action_to_string(a) for a in range(9)]
    assert names == ["A3", "B3", "C3", "A2", "B2", "C2", "A1", "B1", "C1"]
    assert [GAME.string_to_action(n) for n in names] == list(range(9))
    assert GAME.string_to_action(" b2 ") == 4
    assert GAME.string_to_action("7") == 7


@pytest.mark.parametrize("bad", ["D1", "A4", "9", "", "B22", "pass"])
def test_string_to_action_rejects_bad_cells(bad: str) -> None:
    with pytest.raises(ValueError, match="not a tic-tac-toe cell"):
        GAME.string_to_action(bad)


@pytest.mark.parametrize("bad", [-1, 9])
def test_action_to_string_rejects_bad_actions(bad: int) -> None:
    with pytest.raises(ValueError, match="0..8"):
        GAME.action_to_string(bad)


# ----- symmetries -------------------------------------------------------------------------


def check_symmetric_replay(actions: torch.Tensor, k: int) -> None:
    """Replay ``actions`` [T, B] and their image under symmetry ``k``; compare step by step."""
    perm = core.action_permutation(3, k, 9)
    image = core.inverse_permutation(perm)  # old action -> new action
    state = sym = GAME.init(actions.shape[1])
    for a in actions:
        state = GAME.step(state, a, checked=False)
        sym = GAME.step(sym, image[a], checked=False)
        assert torch.equal(sym.legal_action_mask, state.legal_action_mask[:, perm])
        assert torch.equal(sym.board.view(-1, 3, 3), core.transform_planes(state.board.view(-1, 3, 3), k))
        assert torch.equal(GAME.observe(sym), core.transform_planes(GAME.observe(state), k))
        assert torch.equal(sym.rewards, state.rewards)
        assert torch.equal(sym.terminated, state.terminated)


def random_game_actions(batch: int, seed: int) -> torch.Tensor:
    """Action sequences ``[9, B]`` of random games (finished games repeat a dummy 0)."""
    generator = torch.Generator().manual_seed(seed)
    state, actions = GAME.init(batch), []
    for _ in range(9):
        a = core.random_actions(state, generator)
        actions.append(a)
        state = GAME.step(state, a, checked=False)
    return torch.stack(actions)


@pytest.mark.parametrize("k", range(core.NUM_SYMMETRIES))
def test_symmetry_maps_legal_moves_to_legal_moves(k: int) -> None:
    check_symmetric_replay(random_game_actions(128, seed=k), k)


@settings(max_examples=40, deadline=None)
@given(choices=st.lists(st.integers(0, 8), min_size=1, max_size=9), k=st.integers(0, 7))
def test_symmetry_property(choices: list[int], k: int) -> None:
    ref, actions = ReferenceTicTacToe(), []
    for c in choices:
        legal = ref.legal_moves()
        if not legal:
            break
        actions.append(legal[c % len(legal)])
        ref.play(actions[-1])
    check_symmetric_replay(torch.tensor(actions)[:, None], k)


def test_game_symmetries_match_core() -> None:
    planes = GAME.observe(play("B2 A3 C3")[-1])
    policy = torch.arange(9.0)[None]
    pairs = GAME.symmetries(planes, policy)
    assert len(pairs) == 8
    for k, (p, pi) in enumerate(pairs):
        assert torch.equal(p, core.transform_planes(planes, k))
        # the probability on a cell travels with the cell
        assert torch.equal(pi.view(3, 3), core.transform_planes(policy.view(3, 3), k))


# ----- the minimax solver -----------------------------------------------------------------


def test_solver_counts_every_reachable_position() -> None:
    reachable = solver.reachable_positions()
    nonterminal = solver.nonterminal_positions()
    assert len(reachable) == 5478
    assert len(nonterminal) == 4520
    assert reachable == all_positions()  # the scalar reference, searched independently
    assert nonterminal == {b for b in reachable if not ReferenceTicTacToe(list(b)).terminated}


def test_solver_values_obey_minimax_under_reference_rules() -> None:
    for board, solution in solver.solve().items():
        ref = ReferenceTicTacToe(list(board))
        if ref.terminated:
            assert solution.value == (-1 if ref.winner != -1 else 0), board
            assert solution.optimal_actions == frozenset() and solution.terminal
            continue
        child_values = {}
        for move in ref.legal_moves():
            child = ReferenceTicTacToe(list(board))
            child.play(move)
            child_values[move] = child.rewards[ref.current_player] if child.terminated else -solver.value(child.board)
        best = max(child_values.values())
        assert solution.value == best, board
        assert solution.optimal_actions == {m for m, v in child_values.items() if v == best}, board


def test_empty_board_is_a_draw_with_every_move_optimal() -> None:
    assert solver.value((0,) * 9) == 0
    assert solver.optimal_actions((0,) * 9) == frozenset(range(9))


@pytest.mark.parametrize(
    "board, value, optimal",
    [
        ("X X . / O O . / . . .", 1, None),  # X wins at C3 at once (must be optimal)
        ("X X . / . O . / . . .", 0, {2}),  # O must block at C3; then it is a draw
        ("X . . / . O . / . . X", 0, {1, 3, 5, 7}),  # O on a corner loses to a fork; an edge holds
        ("X X . / X O . / . . O", -1, {2, 5, 6, 7}),  # X threatens C3 and A1: every O move loses
    ],
)
def test_solver_hand_checked_positions(board: str, value: int, optimal: set[int] | None) -> None:
    b = cells(board)
    assert solver.value(b) == value
    if optimal is None:
        assert 2 in solver.optimal_actions(b)
    else:
        assert solver.optimal_actions(b) == optimal
    assert solver.best_action(b, random.Random(0)) in solver.optimal_actions(b)


def test_solver_terminal_and_invalid_boards() -> None:
    won = cells("X X X / O O . / . . .")
    assert solver.value(won) == -1  # O to move, X has a line
    assert solver.optimal_actions(won) == frozenset()
    with pytest.raises(ValueError, match="already over"):
        solver.best_action(won)
    for bad in ["O . . / . . . / . . .", "X X . / . . . / . . .", "X X X / O O O / X . ."]:
        with pytest.raises(ValueError, match="not reachable"):
            solver.value(cells(bad))
    with pytest.raises(ValueError, match="9 cells"):
        solver.optimal_actions([0] * 8)
    with pytest.raises(ValueError, match="9 cells"):
        solver.value([2] + [0] * 8)


def test_best_action_is_random_among_optimal() -> None:
    rng = random.Random(3)
    seen = {solver.best_action((0,) * 9, rng) for _ in range(300)}
    assert seen == set(range(9))
    a = [solver.best_action((0,) * 9, torch.Generator().manual_seed(9)) for _ in range(2)]
    assert a[0] == a[1]


def play_match(minimax_side: int | None, batch: int, seed: int) -> TicTacToeState:
    """Minimax plays ``minimax_side`` (None: both sides) against a uniformly random player."""
    generator = torch.Generator().manual_seed(seed)
    state = GAME.init(batch)
    while not bool(state.terminated.all()):
        best = solver.minimax_actions(state, generator)
        if minimax_side is None:
            action = best
        else:
            action = torch.where(state.current_player == minimax_side, best, core.random_actions(state, generator))
        state = GAME.step(state, action, checked=False)
    return state


@pytest.mark.parametrize("side", [0, 1])
def test_minimax_never_loses_to_random(side: int) -> None:
    end = play_match(side, batch=300, seed=side)
    assert not bool((end.winner == 1 - side).any())
    # A random player wins about 58% as X and 29% as O against random; minimax does far better.
    assert (end.winner == side).float().mean().item() > 0.5


def test_minimax_against_itself_always_draws() -> None:
    end = play_match(None, batch=200, seed=11)
    assert end.winner.tolist() == [-1] * 200
    assert end.move_count.tolist() == [9] * 200
    assert len({tuple(b) for b in end.board.tolist()}) > 10  # the tie-breaks vary the games


def test_minimax_actions_seeding_and_finished_games() -> None:
    state = GAME.init(32)
    a = solver.minimax_actions(state, torch.Generator().manual_seed(4))
    b = solver.minimax_actions(state, torch.Generator().manual_seed(4))
    c = solver.minimax_actions(state, random.Random(4))
    assert a.dtype == torch.long and a.shape == (32,)
    assert torch.equal(a, b) and c.shape == (32,)
    end = play("A3 A2 B3 B2 C3")[-1]
    assert solver.minimax_actions(end).tolist() == [0]


def test_pass_turn_hands_over_the_same_board():
    game = TicTacToe()
    state = game.step(game.init(1), torch.tensor([4]))
    after = game.pass_turn(state)
    assert int(after.current_player[0]) == 0 and torch.equal(after.board, state.board)
    assert torch.equal(after.legal_action_mask, state.legal_action_mask)
