"""The batched game contract, and the cases every game shares, written once.

Every two-player game in envs/ is a set of pure functions over a batch of ``B`` games
held in torch tensors (the shape Pgx and mctx use)::

    state = game.init(batch, device)          # State: frozen dataclass, leading dim B
    state = game.step(state, action)          # action: long [B]
    state.legal_action_mask  # bool  [B, A]
    state.current_player     # long  [B]     0 moves first (X, black), 1 second
    state.rewards            # float [B, 2]  reward of the last transition, one per player
    state.terminated         # bool  [B]
    game.observe(state)      # float [B, C, H, W], planes from the side to move

Rules kept here so no game re-implements them (STYLE.md rule 4):

- ``step(..., checked=True)`` (the default) raises :class:`IllegalActionError` naming the
  move and showing the board for an illegal move, and :class:`GameFinishedError` for a
  move in a finished game. Nothing is ever silently corrupted.
- ``step(..., checked=False)`` is the fast mode for search and self-play: no validation,
  finished games are left exactly as they are (with zero rewards), and an illegal action
  is the caller's bug (the result is undefined but stays well-formed tensors). It still
  reads one or two booleans back from the device per step (whether any game is finished,
  whether any game just ended and needs scoring) to skip work in the common case.
- A finished game has an all-False ``legal_action_mask``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import torch

S = TypeVar("S")
T = TypeVar("T")


class IllegalActionError(ValueError):
    """An action that is not legal in the position it was played in."""


class GameFinishedError(IllegalActionError):
    """An action played in a game that has already ended."""


class BatchedState(Protocol):
    """Fields every game's State carries (each game adds its own)."""

    current_player: torch.Tensor  # long [B]
    legal_action_mask: torch.Tensor  # bool [B, A]
    rewards: torch.Tensor  # float [B, 2]
    terminated: torch.Tensor  # bool [B]


class Solver(NamedTuple):
    """Exact play, for a game small enough to solve (tic-tac-toe): the perfect opponent and
    the judge of an agent's moves (registered with :func:`envs.spec.register_solver`)."""

    actions: Callable[[Any, Any], torch.Tensor]
    """``actions(state, rng)``: an optimal move for every game of the batch (ties broken by
    ``rng``, a ``random.Random`` or ``torch.Generator``)."""
    judge: Callable[[Any], Any]
    """``judge(device)``: every non-terminal position as one batched ``state`` with its
    ``optimal`` moves (bool ``[P, A]``)."""


class Game(Protocol):
    """What arena, agents and the ecosystem faces need from a game.

    The class attributes after ``board_size`` are the facts arena asks of a game instead of
    its name, so that a new game needs no branch outside envs/ (README's "Add a game")."""

    name: str
    num_actions: int
    num_players: int
    board_size: int
    seat_names: tuple[str, str]
    """What a person calls each seat (``black``/``white``, ``X``/``O``)."""
    has_pass: bool
    """Whether the last action is a pass (Go), which a board click cannot play."""
    board_style: Literal["points", "cells"]
    """How the window draws it: stones on the lines' crossings (Go), or marks in cells."""
    has_territory: bool
    """Area scoring (Go): ``score_now(state)`` and ``ownership(state)`` exist, so the window
    counts territory and networks may learn ownership and score."""
    board_sizes: tuple[int, ...]
    """The sizes this game may be built with (``GameSpec.for_board(..., size=n)``; GTP's
    ``boardsize``). A solved game's exact play is ``game.spec.solver`` (envs/spec.py)."""

    @property
    def spec(self) -> Any:
        """The :class:`envs.spec.GameSpec` that builds this game again."""
        ...

    def resigned_text(self, winner: int) -> str:
        """The result when seat ``1 - winner`` resigns (``B+R``, ``X wins (resignation)``)."""
        ...

    def result_text(self, state: Any, index: int = 0) -> str | None:
        """Game ``index``'s result as replays write it (``B+3.5``, ``X wins``, ``draw``), None
        while it goes on."""
        ...

    @property
    def observation_shape(self) -> tuple[int, int, int]: ...

    def init(
        self, batch: int = 1, device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Any:
        """``batch`` games at their start. Two-player games start from one fixed position
        (``reset_finished`` relies on it and broadcasts a single fresh game)."""
        ...

    def step(self, state: Any, action: torch.Tensor, checked: bool = True) -> Any: ...

    def pass_turn(self, state: Any) -> Any:
        """The other side to move, without a move on the board and without ending the game
        (GTP's out-of-turn moves)."""
        ...

    def observe(self, state: Any) -> torch.Tensor: ...

    def render(self, state: Any, index: int = 0) -> str: ...

    def action_to_string(self, action: int) -> str: ...

    def string_to_action(self, text: str) -> int: ...


def as_actions(action: torch.Tensor | int | list[int], batch: int, device: torch.device) -> torch.Tensor:
    """Coerce a scalar, list or tensor of actions into a long tensor ``[B]`` on ``device``."""
    action = torch.as_tensor(action, device=device)
    if action.dim() == 0:
        action = action.expand(batch)
    if action.shape != (batch,):
        raise ValueError(f"expected {batch} actions (one per game), got shape {tuple(action.shape)}")
    if action.dtype.is_floating_point or action.dtype == torch.bool:
        raise TypeError(f"actions must be integers, got {action.dtype}")
    return action.long()


def check_actions(game: Game, state: BatchedState, action: torch.Tensor) -> None:
    """Raise a clear error, naming the move and showing the board, for any bad action.

    This is the checked mode's only host synchronisation.
    """
    num_actions = state.legal_action_mask.shape[1]
    finished = state.terminated
    if bool(finished.any()):
        i = int(finished.nonzero()[0, 0])
        raise GameFinishedError(
            f"{game.name}: game {i} of the batch is already over; start a new one with init() "
            f"(or reset finished games with envs.core.reset_finished)\n{game.render(state, i)}"
        )
    in_range = (action >= 0) & (action < num_actions)
    legal = state.legal_action_mask.gather(1, action.clamp(0, num_actions - 1)[:, None])[:, 0]
    bad = ~(in_range & legal)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        a = int(action[i])
        name = game.action_to_string(a) if 0 <= a < num_actions else f"{a} (actions are 0..{num_actions - 1})"
        player = int(state.current_player[i])
        raise IllegalActionError(
            f"{game.name}: illegal move {name} by player {player} in game {i} of the batch\n"
            f"{game.render(state, i)}"
        )


def select(mask: torch.Tensor, when_true: S, when_false: S) -> S:
    """Per game, take every tensor field from ``when_true`` where ``mask`` [B] is set.

    Works for any frozen dataclass of tensors with a leading batch dimension; this is how
    finished games are frozen in unchecked mode and how :func:`reset_finished` resets rows.
    ``when_true`` may hold a single game (leading dim 1), broadcast to every selected row.
    """
    updates = {}
    for field in dataclasses.fields(when_true):  # type: ignore[arg-type]
        a = getattr(when_true, field.name)
        b = getattr(when_false, field.name)
        if isinstance(b, torch.Tensor) and b.dim() > 0 and b.shape[0] == mask.shape[0]:
            m = mask.view(-1, *([1] * (a.dim() - 1)))
            updates[field.name] = torch.where(m, a, b)
    return dataclasses.replace(when_false, **updates)  # type: ignore[type-var]


def freeze_finished(before: S, after: S) -> S:
    """Games already over in ``before`` stay as they were, with zero rewards."""
    done = before.terminated  # type: ignore[attr-defined]
    if not capturing() and not bool(done.any()):  # common case: skip B-sized copies
        return after
    frozen = dataclasses.replace(before, rewards=torch.zeros_like(before.rewards))  # type: ignore
    return select(done, frozen, after)


def reset_finished(game: Game, state: S, generator: torch.Generator | None = None) -> S:
    """Replace every finished game of the batch by a fresh one (auto-reset for self-play)."""
    done = state.terminated  # type: ignore[attr-defined]
    if not capturing() and not bool(done.any()):
        return state
    fresh = game.init(1, device=done.device, generator=generator)  # broadcast over the finished rows
    return select(done, fresh, state)


_sync_free = False  # set by sync_free_mode (cuda_graph_loop's warm-up of the path it will capture)


@contextlib.contextmanager
def sync_free_mode() -> Iterator[None]:
    """Run game code as it runs inside a CUDA graph capture (:func:`capturing` is True): for the
    warm-up before a capture, so the captured path has already run once."""
    global _sync_free
    previous, _sync_free = _sync_free, True
    try:
        yield
    finally:
        _sync_free = previous


def capturing() -> bool:
    """True while a CUDA graph is being captured (or its warm-up runs): code must then skip
    host syncs and data-dependent shapes (every early exit above is such a sync)."""
    return _sync_free or (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


def cuda_graph_loop(fn: Callable[[S], S], state: S, warmup: int = 3) -> tuple[Callable[[], None], S]:
    """Capture ``state = fn(state)`` as one CUDA graph; returns ``(replay, static_state)``.

    Each ``replay()`` advances ``static_state`` in place by one call of ``fn`` with a single
    launch, for loops such as random playouts or self-play steps that would otherwise be
    bound by Python and kernel-launch overhead. ``fn`` must run in unchecked mode and draw
    random numbers from the default CUDA generator (a graph replays its captured kernels).
    """
    static = static_copy(state)

    def advance() -> None:
        new = fn(static)
        for f in dataclasses.fields(static):  # type: ignore[arg-type]
            target = getattr(static, f.name)
            if isinstance(target, torch.Tensor):
                target.copy_(getattr(new, f.name))

    graph, _ = capture(advance, warmup)
    return _Replay(graph, static), static


def static_copy(state: S) -> S:
    """A copy of a batched state whose tensors a CUDA graph will own (its static inputs)."""
    return dataclasses.replace(state, **{  # type: ignore[type-var]
        f.name: getattr(state, f.name).clone() for f in dataclasses.fields(state)  # type: ignore[arg-type]
        if isinstance(getattr(state, f.name), torch.Tensor)
    })


def capture(fn: Callable[[], T], warmup: int = 3, device: torch.device | None = None) -> tuple[Any, T]:
    """``fn`` run ``warmup`` times in :func:`sync_free_mode` on a side stream (the very path to
    capture: caches, cuBLAS/cuDNN handles, the allocator), then captured once as a CUDA graph.
    Returns ``(graph, what the captured call returned)``: ``graph.replay()`` reruns its kernels
    on the same memory, so that output is rewritten in place by every replay."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side), sync_free_mode():
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def random_actions(state: BatchedState, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly random legal action per game, long ``[B]``, without a host sync.

    The argmax of i.i.d. uniforms restricted to the legal set is uniform over that set.
    Finished games (no legal action) get action 0, which unchecked ``step`` ignores.
    """
    mask = state.legal_action_mask
    noise = torch.rand(mask.shape, device=mask.device, generator=generator)
    return torch.where(mask, noise, -1.0).argmax(dim=1)


# ----- the 8 symmetries of a square board (the dihedral group D4) -----------------------

NUM_SYMMETRIES = 8


def transform_planes(planes: torch.Tensor, k: int) -> torch.Tensor:
    """Apply symmetry ``k`` (0..7) to the last two (square) dims: ``k % 4`` quarter turns,
    then a left-right flip when ``k >= 4``. ``k = 0`` is the identity."""
    out = torch.rot90(planes, k % 4, dims=(-2, -1))
    return torch.flip(out, dims=(-1,)) if k >= 4 else out


def action_permutation(size: int, k: int, num_actions: int, device: torch.device | None = None) -> torch.Tensor:
    """Long ``[A]`` index ``perm`` with ``policy_k = policy[..., perm]`` for symmetry ``k``.

    Board actions are ``row * size + col``; extra actions past ``size * size`` (Go's pass)
    map to themselves. The same ``perm`` maps an action: the new action ``j`` is the old
    action ``perm[j]``; use :func:`inverse_permutation` to map old actions to new ones.
    """
    cells = torch.arange(size * size, device=device).view(size, size)
    moved = transform_planes(cells, k).reshape(-1)
    extra = torch.arange(size * size, num_actions, device=device)
    return torch.cat([moved, extra])


def inverse_permutation(perm: torch.Tensor) -> torch.Tensor:
    """``inv`` with ``inv[perm[j]] = j``: maps an action to its image under the symmetry."""
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel(), device=perm.device)
    return inv


def symmetries(planes: torch.Tensor, policy: torch.Tensor, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """All 8 symmetric copies of observations ``[B, C, N, N]`` and policies ``[B, A]``.

    Used for augmentation: each pair is a position and its policy seen through one symmetry.
    """
    out = []
    for k in range(NUM_SYMMETRIES):
        perm = action_permutation(size, k, policy.shape[-1], policy.device)
        out.append((transform_planes(planes, k), policy[..., perm]))
    return out


def resolve_device(device: torch.device | str | None) -> torch.device:
    """The device a game's ``init`` uses: ``None`` means CPU (predictable for people and
    tests), ``"auto"`` means CUDA when present, else CPU; anything else as torch reads it."""
    if device is None:
        return torch.device("cpu")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else torch.device(device)
    if device.type == "cuda" and device.index is None:  # one name per GPU, so per-device caches hit
        device = torch.device("cuda", torch.cuda.current_device())
    return device


@dataclasses.dataclass(frozen=True)
class _Replay:
    """Replays a captured graph. It holds the static state too: the graph reads and writes
    that memory by address, so a caller who drops the returned state must not free it (a
    dropped state went back to the allocator and corrupted later replays)."""

    graph: Any
    state: Any

    def __call__(self) -> None:
        self.graph.replay()


# ----- rows of a batched state -------------------------------------------------------------


def map_state(state: Any, fn: Callable[[str, torch.Tensor], torch.Tensor]) -> Any:
    """``state`` with every batched tensor field ``x`` (leading dimension B) replaced by
    ``fn(name, x)``; other fields kept. The one way to act on all games' fields at once."""
    return dataclasses.replace(state, **{name: fn(name, value) for name, value in _batched_fields(state)})


def state_rows(state: Any, index: torch.Tensor | slice) -> Any:
    """The games ``index`` (long ``[K]`` or a slice) of a batched state, as a state with B = K."""
    return map_state(state, lambda name, value: value[index])


def put_rows(state: Any, index: torch.Tensor, rows: Any) -> Any:
    """``state`` with the games ``index`` (long ``[K]``) replaced by the K games of ``rows``."""
    return map_state(state, lambda name, value: value.index_copy(0, index, getattr(rows, name)))


def observe_as(game: Any, state: Any, player: torch.Tensor) -> torch.Tensor:
    """``game.observe`` from ``player``'s side (long ``[B]``), whoever is to move.

    The games' planes depend on the side to move only through ``current_player``, so seeing
    the board as ``player`` is observing with that field replaced. Returns float ``[B, C, N, N]``.
    """
    return game.observe(dataclasses.replace(state, current_player=player.to(state.current_player.device)))


def _batched_fields(state: Any) -> list[tuple[str, torch.Tensor]]:
    """The tensor fields of ``state`` whose leading dimension is the batch."""
    batch = state.terminated.shape[0]
    out = []
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
            out.append((field.name, value))
    return out
