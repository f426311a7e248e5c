"""The batched tensor kernels of the Go rules, for :mod:`envs.go`.

Pure functions over boards ``[B, P]`` (``P = N * N``, points ``row * N + col``; int8 +1 black,
-1 white, 0 empty) and the per-size :class:`Tables`: chain labelling, liberty counting per
chain id, the legal points (suicide and positional superko), Zobrist hashes and the sorted
hash history, and Tromp-Taylor area scoring (a flood fill, and a fixed-work closure for CUDA
graphs). :class:`envs.go.Go` holds the game's state and calls these; they live apart so that
the rules file reads as the game, and each kernel can be read (and tested) on bare tensors.
The off-board neighbour of a point is the index ``P``, read through :func:`pad`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

OFF_BOARD = 2  # colour read for points off the board


@dataclass(frozen=True)
class Tables:
    """Per-size, per-device constants (built per instance, never at import)."""

    neighbors: torch.Tensor  # long [P, 4]: up, down, left, right; P off the board
    zobrist: torch.Tensor  # long [3, P]: index colour + 1 (0 white, 1 empty = 0, 2 black)


def make_tables(size: int, device: torch.device) -> Tables:
    """Neighbour table and Zobrist numbers for one board size (fixed seed: same on every run)."""
    P = size * size
    idx = torch.arange(P)
    r, c = idx // size, idx % size
    neighbors = torch.stack([
        torch.where(r > 0, idx - size, P), torch.where(r < size - 1, idx + size, P),
        torch.where(c > 0, idx - 1, P), torch.where(c < size - 1, idx + 1, P),
    ], dim=1)
    g = torch.Generator().manual_seed(20261126 + size)
    zobrist = torch.randint(1, 2**54, (3, P), generator=g, dtype=torch.long)
    zobrist[1] = 0  # empty points add nothing
    return Tables(neighbors=neighbors.to(device), zobrist=zobrist.to(device))


def pad(x: torch.Tensor, value: int) -> torch.Tensor:
    """Append one column holding ``value``: the target of the off-board index ``P``."""
    return torch.cat([x, x.new_full((x.shape[0], 1), value)], dim=1)


def member(chain: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """bool [B, P]: the point's chain id is one of ``ids`` [B, K] (-1 entries match nothing).

    Marks the ids in a [B, P + 2] table and reads it back with one gather (cheaper than a
    [B, P, K] comparison); column P (empty points) and P + 1 (no id) stay unmarked.
    """
    B, P = chain.shape
    marks = torch.zeros(B, P + 2, dtype=torch.bool, device=chain.device)
    marks.scatter_(1, torch.where(ids < 0, P + 1, ids), True)
    marks[:, P] = False
    return marks.gather(1, chain)


def count_liberties(board: torch.Tensor, chain: torch.Tensor, neighbors: torch.Tensor):
    """Liberties per chain id [B, P], plus the chains around every point [B, 4, P] and a
    mask [B, 4, P] of first occurrences (a chain met twice around a point counts once)."""
    B, P = board.shape
    around = _gather_around(chain, neighbors, P)
    a0, a1, a2, a3 = around.unbind(1)
    first = torch.stack([
        torch.ones_like(a0, dtype=torch.bool), a1 != a0, (a2 != a0) & (a2 != a1), (a3 != a0) & (a3 != a1) & (a3 != a2),
    ], dim=1)
    counts = (board == 0)[:, None, :] & (around != P) & first
    liberties = torch.zeros(B, P + 1, dtype=torch.long, device=board.device)
    liberties.scatter_add_(1, around.view(B, -1), counts.view(B, -1).long())
    return liberties[:, :P], around, first


def legal_points(
    board: torch.Tensor, chain: torch.Tensor, liberties: torch.Tensor, around_chain: torch.Tensor,
    first: torch.Tensor, to_play: torch.Tensor, h: torch.Tensor, history: torch.Tensor, t: Tables,
) -> torch.Tensor:
    """bool [B, P]: empty points where the side to move may play (no suicide, no superko)."""
    B, P = board.shape
    me = (1 - 2 * to_play).to(torch.int8)[:, None, None]
    around_colour = _gather_around(board, t.neighbors, OFF_BOARD)  # (B, 4, P)
    around_libs = pad(liberties, 0).gather(1, around_chain.view(B, -1)).view(B, 4, P)
    kills = (around_colour == -me) & (around_libs == 1) & first
    breathes = (around_colour == 0) | ((around_colour == me) & (around_libs > 1)) | kills
    legal = (board == 0) & _any4(breathes)
    # Superko: hash after the move = hash + our stone - every chain it captures.
    chain_hash = torch.zeros(B, P + 1, dtype=torch.long, device=board.device)
    chain_hash.scatter_add_(1, chain, _stone_hashes(board, t.zobrist))
    lost = torch.where(kills, chain_hash.gather(1, around_chain.view(B, -1)).view(B, 4, P), 0).sum(dim=1)
    ours = t.zobrist[(me.view(B) + 1).long()]  # (B, P): our stone on every point
    candidate = h[:, None] + ours - lost
    slot = torch.searchsorted(history, candidate).clamp(max=history.shape[1] - 1)
    repeats = history.gather(1, slot) == candidate
    return legal & ~repeats


def board_hash(board: torch.Tensor, zobrist: torch.Tensor) -> torch.Tensor:
    """long [B]: the Zobrist hash of each board (sum of its stones' numbers)."""
    return _stone_hashes(board, zobrist).sum(dim=1)


def history_insert(history: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Insert ``value`` [B] into each sorted, SENTINEL-padded row (the last slot is free):
    find its place with ``searchsorted`` and shift the rest of the row right by one."""
    place = torch.searchsorted(history, value[:, None])  # (B, 1)
    j = torch.arange(history.shape[1], device=history.device)
    shifted = torch.cat([history[:, :1], history[:, :-1]], dim=1)  # shifted[j] = history[j - 1]
    return torch.where(j < place, history, torch.where(j == place, value[:, None], shifted))


def label_chains(board: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    """Chain ids [B, P] for arbitrary boards: each stone takes the smallest index in its chain."""
    B, P = board.shape
    idx = torch.arange(P, device=board.device).expand(B, P)
    label = torch.where(board != 0, idx, P)
    same = (_gather_around(board, neighbors, OFF_BOARD) == board[:, None, :]) & (board != 0)[:, None, :]
    while True:
        around = _gather_around(label, neighbors, P)
        new = torch.minimum(label, torch.where(same, around, P).min(dim=1).values)
        new = torch.gather(new, 1, new.clamp(max=P - 1))  # pointer jumping: follow the label
        new = torch.where(board != 0, new, P)
        if torch.equal(new, label):
            return label
        label = new


def ownership(board: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    """int8 [B, P]: who owns each point under Tromp-Taylor area scoring: +1 black (a black
    stone, or an empty point reaching only black), -1 white, 0 an empty point reaching both
    colours or neither."""
    empty = board == 0
    reach = torch.stack([board == 1, board == -1], dim=0)  # (2, B, P)
    while True:
        near = torch.stack([_any4(_gather_around(r, neighbors, False)) for r in reach])
        new = reach | (empty & near)
        if torch.equal(new, reach):
            break
        reach = new
    black = reach[0] & ~reach[1]
    white = reach[1] & ~reach[0]
    return black.to(torch.int8) - white.to(torch.int8)


def areas(board: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    """Tromp-Taylor areas long [B, 2]: stones plus empty points reaching only that colour."""
    owner = ownership(board, neighbors)
    return torch.stack([(owner == 1).sum(1), (owner == -1).sum(1)], dim=1)


def areas_closure(board: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
    """The same areas as :func:`areas` with a fixed amount of work and no host sync.

    Connectivity of the empty points is the transitive closure of their adjacency matrix
    ``[B, P, P]``, found by ``ceil(log2 P)`` squarings (paths double each time), so it fits in
    a CUDA graph; it costs O(P^3) per game and is meant for GPUs (tensor cores), not CPUs.
    """
    B, P = board.shape
    empty = board == 0
    around = neighbors.view(1, P, 4).expand(B, P, 4)
    pad_empty = pad(empty, False)
    link = empty[:, :, None] & pad_empty.index_select(1, neighbors.view(-1)).view(B, P, 4)
    dtype = torch.bfloat16 if board.is_cuda else torch.float32  # sums <= P are exact in both
    reach = torch.zeros(B, P, P + 1, dtype=dtype, device=board.device)
    reach.scatter_(2, around, link.to(dtype))
    reach = reach[:, :, :P] + torch.eye(P, dtype=dtype, device=board.device)
    for _ in range(max(1, (P - 1).bit_length())):
        reach = (reach @ reach).clamp_(max=1)
    areas = []
    for colour in (1, -1):
        touches = empty & _any4(_gather_around(board == colour, neighbors, False))  # (B, P)
        areas.append((reach @ touches[:, :, None].to(dtype))[:, :, 0] > 0)
    only_black = empty & areas[0] & ~areas[1]
    only_white = empty & areas[1] & ~areas[0]
    black = (board == 1).sum(1) + only_black.sum(1)
    white = (board == -1).sum(1) + only_white.sum(1)
    return torch.stack([black, white], dim=1)


def _gather_around(x: torch.Tensor, neighbors: torch.Tensor, off_board: int | bool) -> torch.Tensor:
    """``x`` [B, P] read at the 4 neighbours of every point, direction-major: [B, 4, P]
    (up, down, left, right), so reductions over directions combine 4 contiguous slices."""
    B, P = x.shape
    return pad(x, off_board).index_select(1, neighbors.t().reshape(-1)).view(B, 4, P)


def _any4(x: torch.Tensor) -> torch.Tensor:
    """OR over the direction dim of a [B, 4, P] mask."""
    return x[:, 0] | x[:, 1] | x[:, 2] | x[:, 3]


def _stone_hashes(board: torch.Tensor, zobrist: torch.Tensor) -> torch.Tensor:
    """long [B, P]: each stone's Zobrist number (0 on empty points)."""
    return zobrist.gather(0, board.long() + 1)  # out[b, p] = zobrist[board[b, p] + 1, p]
