"""envs/core.py's shared helpers, exercised on tic-tac-toe."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from envs import core
from envs.tictactoe import TicTacToe, TicTacToeState

GAME = TicTacToe()


def same_position(batch: int, moves: list[int]) -> TicTacToeState:
    """``batch`` copies of the game after ``moves``."""
    state = GAME.init(batch)
    for a in moves:
        state = GAME.step(state, a)
    return state


def states_of_random_games(batch: int, seed: int) -> list[TicTacToeState]:
    """Every intermediate state of ``batch`` random games played to the end."""
    generator = torch.Generator().manual_seed(seed)
    state, out = GAME.init(batch), []
    while not bool(state.terminated.all()):
        state = GAME.step(state, core.random_actions(state, generator), checked=False)
        out.append(state)
    return out


# ----- random_actions ----------------------------------------------------------------------


def test_random_actions_are_uniform_over_legal_moves() -> None:
    state = same_position(7000, [4, 0])  # B2 then A3: 7 legal moves
    actions = core.random_actions(state, torch.Generator().manual_seed(0))
    counts = torch.bincount(actions, minlength=9).float()
    assert counts[0] == 0 and counts[4] == 0
    legal = counts[state.legal_action_mask[0]]
    expected = 7000 / 7
    chi2 = ((legal - expected) ** 2 / expected).sum().item()
    assert chi2 < 22.46  # the 0.999 quantile of chi-square with 6 degrees of freedom


def test_random_actions_never_pick_an_illegal_move() -> None:
    for state in states_of_random_games(512, seed=1):
        actions = core.random_actions(state, torch.Generator().manual_seed(2))
        running = ~state.terminated
        assert bool(state.legal_action_mask[running].gather(1, actions[running, None]).all())
        assert bool((actions[state.terminated] == 0).all())  # finished games: the dummy 0


def test_random_actions_follow_the_generator() -> None:
    state = GAME.init(64)
    a = core.random_actions(state, torch.Generator().manual_seed(3))
    b = core.random_actions(state, torch.Generator().manual_seed(3))
    c = core.random_actions(state, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ----- select, reset_finished, freeze_finished ---------------------------------------------


def test_reset_finished_replaces_exactly_the_finished_rows() -> None:
    state = GAME.init(4)
    for a in [[0, 0, 4, 0], [3, 3, 0, 3], [1, 1, 8, 1], [4, 4, 2, 4], [2, 5, 6, 2]]:
        state = GAME.step(state, torch.tensor(a), checked=False)
    assert state.terminated.tolist() == [True, False, False, True]  # X wins rows 0 and 3
    reset = core.reset_finished(GAME, state)
    fresh = GAME.init(1)
    for field in dataclasses.fields(TicTacToeState):
        new, old, empty = (getattr(s, field.name) for s in (reset, state, fresh))
        for i in (0, 3):
            assert torch.equal(new[i], empty[0]), field.name
        for i in (1, 2):
            assert torch.equal(new[i], old[i]), field.name
    GAME.step(reset, torch.tensor([4, 6, 3, 4]))  # every game playable again (checked mode)


@dataclasses.dataclass(frozen=True)
class _Toy:
    values: torch.Tensor  # [B, 2]
    flags: torch.Tensor  # [B]
    table: torch.Tensor  # [5]: not batched (B is 3), must come from when_false
    label: str


def test_select_takes_rows_from_when_true_where_the_mask_is_set() -> None:
    a = _Toy(torch.ones(3, 2), torch.ones(3, dtype=torch.bool), torch.ones(5), "a")
    b = _Toy(torch.zeros(3, 2), torch.zeros(3, dtype=torch.bool), torch.zeros(5), "b")
    out = core.select(torch.tensor([True, False, True]), a, b)
    assert out.values.tolist() == [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]
    assert out.flags.tolist() == [True, False, True]
    assert torch.equal(out.table, b.table) and out.label == "b"
    assert a.values.tolist() == [[1.0, 1.0]] * 3  # inputs are not mutated


def test_freeze_finished_keeps_finished_games_with_zero_rewards() -> None:
    before = GAME.init(2)
    for a in [[0, 0], [3, 3], [1, 1], [4, 4]]:
        before = GAME.step(before, torch.tensor(a))
    before = GAME.step(before, torch.tensor([2, 8]))  # game 0 ends with X's top row
    after = GAME.step(before, torch.tensor([8, 2]), checked=False)
    assert after.board[0].tolist() == before.board[0].tolist()
    assert after.rewards.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert int(after.board[1, 2]) == -1


# ----- as_actions ---------------------------------------------------------------------------


def test_as_actions_accepts_scalars_lists_and_tensors() -> None:
    device = torch.device("cpu")
    assert core.as_actions(4, 3, device).tolist() == [4, 4, 4]
    assert core.as_actions([1, 2], 2, device).tolist() == [1, 2]
    out = core.as_actions(torch.tensor([7, 8], dtype=torch.int32), 2, device)
    assert out.dtype == torch.long and out.tolist() == [7, 8]


@pytest.mark.parametrize("bad", [[1, 2, 3], [[1, 2]], torch.zeros(2, 1, dtype=torch.long)])
def test_as_actions_rejects_the_wrong_shape(bad: object) -> None:
    with pytest.raises(ValueError, match=r"expected 2 actions \(one per game\)"):
        core.as_actions(bad, 2, torch.device("cpu"))


@pytest.mark.parametrize("bad", [torch.tensor([1.0, 2.0]), 1.0, torch.tensor([True, False])])
def test_as_actions_rejects_non_integers(bad: object) -> None:
    with pytest.raises(TypeError, match="actions must be integers"):
        core.as_actions(bad, 2, torch.device("cpu"))


def test_step_reports_bad_action_input() -> None:
    with pytest.raises(ValueError, match="expected 2 actions"):
        GAME.step(GAME.init(2), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integers"):
        GAME.step(GAME.init(2), torch.tensor([0.0, 1.0]))


# ----- symmetries -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 4, 5])
def test_the_eight_transforms_are_distinct_and_k0_is_identity(size: int) -> None:
    grid = torch.arange(size * size).view(size, size)
    images = [core.transform_planes(grid, k) for k in range(core.NUM_SYMMETRIES)]
    assert torch.equal(images[0], grid)
    assert len({tuple(im.flatten().tolist()) for im in images}) == 8
    for im in images:  # each keeps the centre cell of an odd board and the set of corners
        corners = {int(im[0, 0]), int(im[0, -1]), int(im[-1, 0]), int(im[-1, -1])}
        assert corners == {0, size - 1, size * (size - 1), size * size - 1}
        if size % 2:
            assert int(im[size // 2, size // 2]) == size * size // 2


@pytest.mark.parametrize("k", range(core.NUM_SYMMETRIES))
def test_action_permutation_is_a_permutation_that_policy_follows(k: int) -> None:
    size, extra = 3, 1  # one extra action, like Go's pass
    perm = core.action_permutation(size, k, size * size + extra)
    assert sorted(perm.tolist()) == list(range(size * size + extra))
    assert int(perm[-1]) == size * size  # extra actions map to themselves
    inv = core.inverse_permutation(perm)
    assert torch.equal(inv[perm], torch.arange(perm.numel()))
    assert torch.equal(perm[inv], torch.arange(perm.numel()))
    planes = torch.randn(2, 4, size, size, generator=torch.Generator().manual_seed(k))
    policy = torch.cat([planes[:, 0].flatten(1), torch.zeros(2, extra)], dim=1)  # [2, 10]
    moved = core.transform_planes(planes, k)
    assert torch.equal(policy[:, perm][:, : size * size], moved[:, 0].flatten(1))
    # inverse maps an action to its image: the value at old cell a sits at new cell inv[a]
    for a in range(size * size):
        assert moved[0, 0].flatten()[inv[a]] == planes[0, 0].flatten()[a]


def test_identity_permutation_and_symmetries_helper() -> None:
    assert core.action_permutation(3, 0, 9).tolist() == list(range(9))
    planes, policy = torch.randn(5, 3, 3, 3), torch.softmax(torch.randn(5, 9), dim=1)
    pairs = core.symmetries(planes, policy, 3)
    assert len(pairs) == core.NUM_SYMMETRIES
    assert torch.equal(pairs[0][0], planes) and torch.equal(pairs[0][1], policy)
    for p, pi in pairs:
        assert p.shape == planes.shape and pi.shape == policy.shape
        assert torch.allclose(pi.sum(dim=1), torch.ones(5))


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert core.resolve_device(None).type == expected
    assert core.resolve_device("auto").type == expected
    assert core.resolve_device("cpu") == torch.device("cpu")
