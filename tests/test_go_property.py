"""Go: the batched engine against the scalar reference on random games, and rule
properties checked with hypothesis (chains always breathe, areas partition the board,
the 8 symmetries commute with the rules, finished games offer no move).

The first tests check the reference itself on hand-made positions, so a failure below can
be blamed on the right side.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from envs import core
from envs.go import Go, GoState
from go_reference import GoReference, IllegalMove, all_chains, areas, assert_state_matches, parse_vertex

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True)  # seeded, fast


# ----- the reference on its own ---------------------------------------------------------------


def test_reference_capture_ko_superko_and_scoring() -> None:
    ref = GoReference.from_ascii(". X O . .\nX O . O .\n. X O . .\n. . . . .\n. . . . .\n")
    ref.play(parse_vertex("C4", 5))
    assert ref.captures == [1, 0] and ref.board[6] == 0
    assert not ref.is_legal(parse_vertex("B4", 5))  # ko
    with pytest.raises(IllegalMove):
        ref.play(parse_vertex("B4", 5))
    ref.play(parse_vertex("E1", 5))
    ref.play(parse_vertex("E2", 5))
    assert ref.is_legal(parse_vertex("B4", 5))
    assert not ref.is_legal(parse_vertex("A5", 5)) and ref.legal_moves()[-1]  # suicide; pass
    assert ref.areas() == (7, 4, 14)  # A5 and B4 black, the rest of the empty points neutral
    ref.play(25)
    ref.play(25)
    assert ref.terminated and ref.score == 7 - 4 - 7.5 and ref.winner == 1 and ref.rewards == [-1.0, 1.0]
    assert not any(ref.legal_moves())
    with pytest.raises(IllegalMove):
        ref.play(25)


def test_reference_suicide_capture_to_live_and_superko() -> None:
    # A5-B5 in atari: C5 is group suicide while D5 has a liberty, a capture once it has none.
    assert not GoReference.from_ascii("X X . O .\nO O O X .\n" + ". . . . .\n" * 3).is_legal(2)
    ref = GoReference.from_ascii("X X . O X\nO O O X .\n" + ". . . . .\n" * 3)
    ref.play(2)
    assert ref.board[:5] == [1, 1, 1, 0, 1] and ref.captures == [1, 0]
    # A triple ko: the sixth capture recreates the start; only positional superko sees it.
    text = (". X O . . . X O .\nX O . O . X . X O\n. X O . . . X O .\n. . . . . . . . .\n"
            ". X O . . . . . .\nX O . O . . . . .\n. X O . . . . . .\n" + ". . . . . . . . .\n" * 2)
    for rule, last_is_legal in [("positional", False), ("simple", True)]:
        ref = GoReference.from_ascii(text, ko_rule=rule)
        for m in ["C8", "G8", "C4", "B8", "H8"]:
            ref.play(parse_vertex(m, 9))
        assert ref.is_legal(parse_vertex("B4", 9)) == last_is_legal
    assert areas([0] * 25, 5) == (0, 0, 25)


# ----- batched vs reference on random games -------------------------------------------------


def play_random_games(game: Go, batch: int, steps: int | None, seed: int, checked: bool) -> int:
    """Step ``batch`` random games and their references together, comparing every field after
    every step. ``steps=None``: play (unchecked) until every game is over, finished games
    staying frozen; otherwise play ``steps`` steps, resetting finished games (checked mode
    needs that, and it is how self-play runs). Returns the number of games finished."""
    gen = torch.Generator().manual_seed(seed)
    state = game.init(batch)
    refs = [_fresh(game) for _ in range(batch)]
    finished, step = 0, 0
    while (steps is None and not all(r.terminated for r in refs)) or (steps is not None and step < steps):
        actions = core.random_actions(state, gen)
        for ref, a in zip(refs, actions.tolist()):
            if ref.terminated:
                ref.skip()  # unchecked step: a finished game stays frozen, rewards zero
            else:
                ref.play(a)
        state = game.step(state, actions, checked=checked)
        step += 1
        assert_state_matches(state, refs, where=f"seed {seed} step {step}")
        if steps is not None and bool(state.terminated.any()):
            finished += int(state.terminated.sum())
            state = core.reset_finished(game, state)
            refs = [_fresh(game) if r.terminated else r for r in refs]
            assert_state_matches(state, refs, where=f"seed {seed} reset after step {step}")
    return finished if steps is not None else batch


@pytest.mark.parametrize("size, batch, seed", [(5, 64, 0), (7, 64, 1), (9, 32, 2)])
def test_random_games_unchecked_match_reference(size: int, batch: int, seed: int) -> None:
    game = Go(size=size, komi=0 if size == 7 else 7.5)  # integer komi: draws happen too
    assert play_random_games(game, batch, None, seed, checked=False) == batch


@pytest.mark.parametrize("size, batch, steps, seed", [(5, 32, 120, 3), (9, 8, 200, 4)])
def test_random_games_checked_with_reset_match_reference(size: int, batch: int, steps: int, seed: int) -> None:
    game = Go(size=size, komi=2 if size == 5 else 7.5)
    assert play_random_games(game, batch, steps, seed, checked=True) > 0


def test_short_move_cap_random_games_match_reference() -> None:
    game = Go(size=6, komi=0.5, max_moves=20)
    assert play_random_games(game, 32, None, seed=5, checked=False) == 32


@pytest.mark.slow
@pytest.mark.parametrize("size, steps", [(5, 600), (7, 600), (9, 500)])
def test_many_random_games_match_reference(size: int, steps: int) -> None:
    game = Go(size=size, komi=7.5 if size % 2 else 0)
    finished = play_random_games(game, 256, steps, seed=100 + size, checked=True)
    assert finished >= 2 * 256  # thousands of games over the three sizes


# ----- hypothesis properties ----------------------------------------------------------------

sizes = st.sampled_from([5, 6, 7, 9])
choices = st.lists(st.integers(0, 10_000), min_size=30, max_size=150)


def pick(mask: torch.Tensor, choice: int) -> int:
    """The ``choice``-th legal action (mod their number) of one game's mask [A]."""
    legal = mask.nonzero()[:, 0].tolist()
    return legal[choice % len(legal)]


def play_choices(game: Go, picks: list[int], check: Callable[[GoState], None]) -> GoState:
    """Play one game by ``picks`` (indices into the legal moves) while it lasts, calling
    ``check(state)`` after every move."""
    state = game.init(1)
    for choice in picks:
        if bool(state.terminated[0]):
            break
        state = game.step(state, torch.tensor([pick(state.legal_action_mask[0], choice)]))
        check(state)
    return state


@PROPERTY
@given(size=sizes, picks=choices)
def test_every_chain_keeps_a_liberty(size: int, picks: list[int]) -> None:
    game = Go(size=size)

    def check(state: GoState) -> None:
        for colour, stones, libs in all_chains(state.board[0].tolist(), size):
            assert libs, f"chain {sorted(stones)} of colour {colour} has no liberty\n{game.render(state)}"

    play_choices(game, picks, check)


@PROPERTY
@given(size=sizes, picks=choices)
def test_areas_partition_the_board(size: int, picks: list[int]) -> None:
    game = Go(size=size)

    def check(state: GoState) -> None:
        black, white = game.areas(state)[0].tolist()
        ref_black, ref_white, neutral = areas(state.board[0].tolist(), size)
        assert (black, white) == (ref_black, ref_white)
        assert black + white + neutral == size * size and black + white <= size * size
        assert float(game.score_now(state)[0]) == black - white - game.komi

    play_choices(game, picks, check)


@PROPERTY
@given(size=sizes, picks=choices)
def test_symmetries_map_legal_moves_to_legal_moves(size: int, picks: list[int]) -> None:
    """Game k of a batch of 8 plays the image under symmetry k of game 0's moves."""
    game = Go(size=size)
    perms = [core.action_permutation(size, k, game.num_actions) for k in range(core.NUM_SYMMETRIES)]
    images = torch.stack([core.inverse_permutation(p) for p in perms])  # (8, A): action -> image
    state = game.init(core.NUM_SYMMETRIES)
    for choice in picks:
        if bool(state.terminated[0]):
            break
        a = pick(state.legal_action_mask[0], choice)
        state = game.step(state, images[:, a])
        planes = game.observe(state)
        sym = game.symmetries(planes[:1], state.legal_action_mask[:1].float())
        for k in range(core.NUM_SYMMETRIES):
            assert torch.equal(state.legal_action_mask[k], state.legal_action_mask[0][perms[k]]), k
            board = state.board[0].view(size, size)
            assert torch.equal(state.board[k].view(size, size), core.transform_planes(board, k)), k
            assert torch.equal(planes[k], sym[k][0][0]), k  # game.symmetries agrees
            assert torch.equal(state.legal_action_mask[k].float(), sym[k][1][0]), k
        for field in ("terminated", "captures", "rewards", "score", "winner", "passes"):
            value = getattr(state, field)
            assert torch.equal(value, value[:1].expand_as(value)), field


@PROPERTY
@given(size=sizes, picks=choices, cap=st.integers(1, 60))
def test_finished_games_offer_no_move(size: int, picks: list[int], cap: int) -> None:
    game = Go(size=size, max_moves=cap)
    state = play_choices(game, picks, lambda s: None)
    for _ in range(2):  # two passes end any game (the first may already reach the cap)
        if not bool(state.terminated[0]):
            state = game.step(state, game.pass_action)
    assert bool(state.terminated[0])
    assert not bool(state.legal_action_mask.any())
    assert int(state.winner[0]) in (0, 1) and abs(float(state.score[0])) > 0  # komi 7.5: no draw
    frozen = game.step(state, torch.tensor([game.pass_action]), checked=False)
    assert torch.equal(frozen.board, state.board) and not bool(frozen.rewards.any())
    with pytest.raises(core.GameFinishedError):
        game.step(state, torch.tensor([game.pass_action]))


def _fresh(game: Go) -> GoReference:
    return GoReference(size=game.board_size, komi=game.komi, max_moves=game.max_moves or 0)
