"""What a player saw before moving (its policy, value and, for Go networks with an ownership
head, its territory estimate): a value type for the viewer's overlays, GTP and replays, with
no dependencies of its own."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Thinking:
    """What a player saw before moving, for overlays and replays."""

    policy: tuple[float, ...]
    """One weight per action (search visit shares or the network's policy), summing to 1."""
    value: float
    """Expected outcome for the player to move, in [-1, 1]."""
    ownership: tuple[float, ...] | None = None
    """Go networks with an ownership head: the expected owner of each point at the end, in
    [-1, 1] with +1 black (the agent's territory estimate); None otherwise."""


def thinking_from(policy: torch.Tensor, value: torch.Tensor | float,
                  ownership: torch.Tensor | None = None) -> Thinking:
    """A :class:`Thinking` from a policy tensor ``[A]``, a value and an optional ownership ``[P]``."""
    owner = None if ownership is None else tuple(round(float(o), 4) for o in ownership.tolist())
    return Thinking(tuple(float(p) for p in policy.tolist()), float(value), owner)
