"""The scoring rules the tree search chooses by: PUCT (AlphaZero), and Gumbel MuZero's completed
Q values and sequential-halving schedule (Danihelka et al. 2022), with the root noise of each.
Pure tensor functions over a batch of nodes' children (``[B, A]``); agents/mcts.py applies
them inside the trees."""

from __future__ import annotations

import math

import torch


def considered_visit_table(max_considered: int, simulations: int, num_actions: int) -> torch.Tensor:
    """Sequential halving's visit schedule: row ``m`` (``m`` actions considered at the root)
    gives, for each simulation ``k``, the visit count a root action must have to be chosen
    then (Danihelka et al. 2022, section 3.2). long ``[min(max_considered, A) + 1, S]``."""
    rows = [halving_visits(m, simulations) for m in range(min(max_considered, num_actions) + 1)]
    return torch.tensor(rows, dtype=torch.long)


def puct_scores(prior: torch.Tensor, child_visits: torch.Tensor, child_q: torch.Tensor, parent_visits: torch.Tensor,
                fpu: torch.Tensor, legal: torch.Tensor, c_puct: float) -> torch.Tensor:
    """PUCT: ``Q + c * P * sqrt(N_parent) / (1 + N)``; unvisited actions take the value
    ``fpu``, illegal ones ``-inf``. All ``[B, A]`` except ``parent_visits`` and ``fpu`` [B]."""
    q = torch.where(child_visits > 0, child_q, fpu[:, None])
    u = c_puct * prior * parent_visits.sqrt()[:, None] / (1 + child_visits)
    return torch.where(legal, q + u, -math.inf)


def completed_q_sigma(logits: torch.Tensor, child_visits: torch.Tensor, child_q: torch.Tensor, raw_value: torch.Tensor,
                      legal: torch.Tensor, c_visit: float, c_scale: float) -> torch.Tensor:
    """Gumbel MuZero's ``sigma(completed q)`` ``[B, A]``: the :func:`completed_q` rescaled to
    [0, 1] over the legal actions and scaled by ``(c_visit + max visits) * c_scale``
    (Danihelka et al. 2022, appendix D)."""
    q = completed_q(logits, child_visits, child_q, raw_value)
    lo = torch.where(legal, q, math.inf).amin(-1, keepdim=True)
    hi = torch.where(legal, q, -math.inf).amax(-1, keepdim=True)
    q = torch.where(legal, (q - lo) / (hi - lo).clamp(min=1e-8), 0.0)
    return (c_visit + child_visits.amax(-1, keepdim=True)) * c_scale * q


def completed_q(logits: torch.Tensor, child_visits: torch.Tensor, child_q: torch.Tensor,
                raw_value: torch.Tensor) -> torch.Tensor:
    """Visited actions keep their mean value q; the others take the mixed value estimate
    ``(v + N * sum_visited(pi q) / sum_visited(pi)) / (1 + N)`` ``[B, A]`` (for the node's player)."""
    prior = torch.softmax(logits, dim=-1)
    visited = child_visits > 0
    total = child_visits.sum(-1)
    p_visited = (prior * visited).sum(-1)
    q_mean = (prior * child_q * visited).sum(-1) / p_visited.clamp(min=1e-12)
    v_mix = (raw_value + total * q_mean) / (1 + total)
    return torch.where(visited, child_q, v_mix[:, None])


def gumbel_noise(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard Gumbel samples shaped like ``logits`` (clamped away from infinities)."""
    u = torch.rand(logits.shape, device=logits.device, generator=generator)
    return -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))


def dirichlet_noise(legal: torch.Tensor, alpha: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dirichlet(alpha) noise over each row's legal actions, every number from ``generator``
    (normalized Gamma(alpha) draws, :func:`gamma_sample`)."""
    g = gamma_sample(legal.shape, alpha, legal.device, generator) * legal
    return g / g.sum(-1, keepdim=True).clamp(min=1e-12)


def gamma_sample(shape: torch.Size | tuple[int, ...], alpha: float, device: torch.device,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Gamma(alpha, 1) samples drawn from ``generator`` (torch's own Gamma takes none):
    Marsaglia and Tsang's (2000) squeeze-rejection method, redrawing the rejected entries
    (about 2-5% a round), and for alpha < 1 its boost ``Gamma(alpha + 1) * U^(1 / alpha)``."""
    if alpha <= 0:
        raise ValueError(f"a Gamma shape must be positive, got {alpha}")
    a = alpha + 1.0 if alpha < 1.0 else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.zeros(shape, device=device)
    todo = torch.ones(shape, dtype=torch.bool, device=device)
    while bool(todo.any()):
        x = torch.randn(shape, device=device, generator=generator)
        u = torch.rand(shape, device=device, generator=generator)
        v = (1.0 + c * x) ** 3
        accept = (v > 0) & (torch.log(u.clamp(min=1e-30)) < 0.5 * x * x + d - d * v + d * torch.log(v.clamp(min=1e-30)))
        take = todo & accept
        out = torch.where(take, d * v, out)
        todo = todo & ~accept
    if alpha < 1.0:
        u = torch.rand(shape, device=device, generator=generator)
        out = out * u.clamp(min=1e-30) ** (1.0 / alpha)
    return out


def halving_visits(m: int, simulations: int) -> list[int]:
    """Row ``m`` of :func:`considered_visit_table`: sequential halving over ``m`` actions,
    each phase visiting the survivors equally, for ``simulations`` simulations."""
    if m <= 1:
        return list(range(simulations))
    phases = math.ceil(math.log2(m))
    schedule: list[int] = []
    visits, considered = [0] * m, m
    while len(schedule) < simulations:
        extra = max(1, simulations // (phases * considered))
        for _ in range(extra):
            schedule.extend(visits[:considered])
            visits[:considered] = [v + 1 for v in visits[:considered]]
        considered = max(2, considered // 2)
    return schedule[:simulations]
