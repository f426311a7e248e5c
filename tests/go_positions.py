"""Go positions for tests/test_go.py and tests/test_go_scoring.py: set one up from ASCII on
the batched engine and on the scalar reference (tests/go_reference.py), play GTP vertices on
both, comparing after every move."""

from __future__ import annotations

import torch

from envs.go import Go, GoState
from go_reference import GoReference, assert_state_matches, parse_vertex


def game_from(text: str, to_play: int = 0, **kwargs) -> tuple[Go, GoState, GoReference]:
    """The engine (sized from the text), its state, and the reference on the same position."""
    ref = GoReference.from_ascii(text, to_play=to_play, **kwargs)
    game = Go(size=ref.size, **kwargs)
    state = game.from_ascii(text, to_play=to_play)
    assert_state_matches(state, [ref], where="start")
    return game, state, ref


def play(game: Go, state: GoState, ref: GoReference | None, moves: list[str], checked: bool = True) -> GoState:
    """Play GTP vertices on the engine (and the reference), comparing after every move."""
    for m in moves:
        a = parse_vertex(m, game.board_size)
        state = game.step(state, torch.tensor([a]), checked=checked)
        if ref is not None:
            ref.play(a)
            assert_state_matches(state, [ref], where=f"after {m}")
    return state


def legal(state: GoState, game: Go, vertex: str) -> bool:
    return bool(state.legal_action_mask[0, parse_vertex(vertex, game.board_size)])
