"""Batched Monte Carlo tree search: B trees in fixed-capacity tensors, searched in lockstep.

The trees of B games live in tensors of capacity ``M = simulations + 1`` nodes
(``[B, M]`` and ``[B, M, A]``); node 0 (:data:`ROOT`) is the root and simulation ``k``
adds node ``k + 1``. Each simulation descends all B trees at once (one small tensor step
per depth level), expands one new node per tree with a single batched game step and a
single evaluator call for the whole batch, and backs the leaf values up every path with
one ``index_add``. No Python loop over games, no dicts keyed by positions, no recursion:
the shape mctx uses (Danihelka et al.), written for torch.

Two root rules:

- ``"puct"``: AlphaZero's PUCT (Silver et al. 2018) with Dirichlet noise on the root
  priors and visit-count sampling when exploring.
- ``"gumbel"``: Gumbel root selection with sequential halving (Danihelka et al. 2022,
  "Policy improvement by planning with Gumbel"), strong with 8-32 simulations; interior
  nodes use its deterministic improved-policy rule and the policy target is the improved
  policy ``softmax(logits + sigma(completed q))``.

The scoring rules themselves (PUCT scores, completed Q, the halving schedule, root noise) are
pure functions in agents/selection.py; this file holds the trees and the search loop.

Values: an evaluator returns the value for the player to move. Inside the tree each node
stores the sum of values from the point of view of the player who moved *into* it, so a
parent compares its children directly (two-player zero-sum games with alternating turns,
rewards only at the end: tic-tac-toe and Go, where a pass is a move).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch

from agents.selection import (completed_q, completed_q_sigma, considered_visit_table, dirichlet_noise,
                              gumbel_noise, puct_scores)
from envs.core import Game

ROOT = 0
UNVISITED = -1
Evaluator = Callable[[Any], tuple[torch.Tensor, torch.Tensor]]
"""``evaluate(state) -> (logits [B, A], value [B])``, value for the player to move in
[-1, 1]. It receives the batched game state (not only its observation) so that evaluators
other than networks (uniform priors with random rollouts) fit the same slot."""


@dataclass(frozen=True)
class MCTSConfig:
    """Search settings shared by self-play and play."""

    simulations: int = 32
    """Expansions per search (the tree holds ``simulations + 1`` nodes)."""
    algorithm: Literal["gumbel", "puct"] = "gumbel"
    """Root rule: Gumbel sequential halving, or PUCT with Dirichlet noise."""
    c_puct: float = 1.5
    """PUCT exploration constant."""
    dirichlet_alpha: float = 0.3
    """Dirichlet noise concentration at the root (PUCT, when exploring)."""
    dirichlet_fraction: float = 0.25
    """Weight of the noise in the root priors (PUCT, when exploring); 0 disables it."""
    max_considered_actions: int = 16
    """Gumbel: actions sampled at the root for sequential halving."""
    c_visit: float = 50.0
    """Gumbel: sigma(q) = (c_visit + max visits) * c_scale * q."""
    c_scale: float = 0.1
    """Gumbel: see ``c_visit``."""
    sync_free: bool = False
    """Descend a fixed number of levels per simulation (simulation k: k, the deepest a node can
    be) with finished rows masked, instead of stopping once every tree reached a leaf. Same
    search, no host sync inside it (a static program, as CUDA graphs need), more small ops:
    on the CPU the default (one sync per level) is faster."""
    cuda_graph: bool = False
    """Self-play on CUDA replays its search as one CUDA graph (agents/mcts_graph.py; Gumbel only)."""
    score_utility: float = 0.0
    """KataGo's score utility: the search maximizes ``(1 - w) * value + w * (2/pi) * atan(score / N)``
    at every non-terminal node, ``w`` this weight, ``score`` the network's predicted final margin
    in points for the player to move and ``N`` the board's side (:func:`network_evaluator`).
    The side that is sure to win or to lose still prefers the larger margin, where the value
    alone is flat. Finished games keep their exact outcome of +-1, which no estimate exceeds:
    a won game is still ended as soon as it can be. Needs a network with a score head
    (``nets.conv.GlobalPoolingNet``); 0 is the value alone (AlphaZero)."""

    def __post_init__(self) -> None:
        if self.simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {self.simulations}")
        if self.max_considered_actions < 1:
            raise ValueError(f"max_considered_actions must be >= 1, got {self.max_considered_actions}")
        if not 0.0 <= self.score_utility <= 1.0:
            raise ValueError(f"score_utility must be in [0, 1], got {self.score_utility}")


@dataclass(frozen=True)
class Tree:
    """B search trees of capacity M nodes over A actions (all tensors, leading dim B)."""

    visits: torch.Tensor  # float [B, M]
    value_sum: torch.Tensor  # float [B, M]: values for the player who moved into the node
    raw_value: torch.Tensor  # float [B, M]: evaluator's value for the player to move at the node
    logits: torch.Tensor  # float [B, M, A]: masked prior logits
    children: torch.Tensor  # long [B, M, A]: child node or UNVISITED
    parent: torch.Tensor  # long [B, M]
    terminal: torch.Tensor  # bool [B, M]
    states: dict[str, torch.Tensor]  # every game-state field, [B, M, ...]
    state_type: type  # the game's State dataclass, to rebuild a node's state


class SearchOutput(NamedTuple):
    """What a search returns; values are from the root player's point of view."""

    action: torch.Tensor
    """long [B]: the move to play (0 in finished games)."""
    policy: torch.Tensor
    """float [B, A]: the training target (visit shares for PUCT, improved policy for Gumbel)."""
    value: torch.Tensor
    """float [B]: the root's value after the search (PUCT: the mean of all backed-up values;
    Gumbel: the improved policy's expected completed q)."""
    visits: torch.Tensor
    """float [B, A]: visits of each root action."""
    tree: Tree


class SearchRules(NamedTuple):
    """A root rule as the functions the search loop calls (mctx's way: a policy is a choice of
    root and interior action-selection functions, not a string the loop branches on).

    - ``prepare_root(tree, state, explore, gumbel, cfg, generator) -> gumbel``: the root's
      exploration noise (returns the Gumbel noise the root rule uses, zeros where it uses none).
    - ``root_action(tree, rows, gumbel, considered_visit, cfg) -> long [B]``: simulation k's
      first action at the root (``considered_visit``: halving's visit count for k).
    - ``interior_action(tree, rows, node, cfg) -> long [B]``: the action below the root.
    - ``output(tree, rows, gumbel, explore, alive, cfg, generator) -> (action, policy, value)``:
      the move, the training target and the root value after the search.
    """

    prepare_root: Callable[..., torch.Tensor]
    root_action: Callable[..., torch.Tensor]
    interior_action: Callable[..., torch.Tensor]
    output: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def search(game: Game, state: Any, evaluate: Evaluator, cfg: MCTSConfig, *, explore: bool | torch.Tensor = False,
           generator: torch.Generator | None = None, gumbel: torch.Tensor | None = None,
           rules: SearchRules | None = None) -> SearchOutput:
    """Search every game of ``state`` with ``cfg.simulations`` expansions per tree.

    Args:
        game: the rules (``step``, ``num_actions``).
        state: batched game state ``[B]``; finished games are allowed and get action 0.
        evaluate: the network (or a stand-in), called once per simulation on all B leaves.
        cfg: search settings.
        explore: bool or bool ``[B]``: self-play exploration (Gumbel noise at the root, or
            Dirichlet noise and visit sampling for PUCT). False gives the strongest move.
        generator: every random number of the search (Gumbel or Dirichlet noise, PUCT's move
            sampling): a seeded generator makes self-play reproducible.
        gumbel: float ``[B, A]`` standard Gumbel noise to use instead of drawing it (a CUDA
            graph draws no random numbers: agents/mcts_graph.py feeds it in).
        rules: the root and interior rules (default: :data:`RULES` of ``cfg.algorithm``).

    Returns:
        :class:`SearchOutput`.
    """
    rules = RULES[cfg.algorithm] if rules is None else rules
    B, A, S = state.legal_action_mask.shape[0], game.num_actions, cfg.simulations
    dev = state.legal_action_mask.device
    explore = torch.as_tensor(explore, device=dev).expand(B)
    tree = _new_tree(state, B, S + 1, A)
    rows = torch.arange(B, device=dev)
    logits, value = evaluate(state)
    _write_node(tree, rows, torch.full((B,), ROOT, dtype=torch.long, device=dev), state, logits, value)
    tree.visits[:, ROOT] = 1.0
    tree.value_sum[:, ROOT] = -tree.raw_value[:, ROOT]
    alive = ~state.terminated

    gumbel = rules.prepare_root(tree, state, explore, gumbel, cfg, generator)
    table = _device_table(cfg.max_considered_actions, S, A, dev)
    considered = table[state.legal_action_mask.sum(1).clamp(max=cfg.max_considered_actions)]  # (B, S)
    for k in range(S):
        first = rules.root_action(tree, rows, gumbel, considered[:, k], cfg)
        _simulate(game, tree, rows, first, k + 1, alive, evaluate, cfg, rules.interior_action,
                  levels=k if cfg.sync_free else None)

    action, policy, value = rules.output(tree, rows, gumbel, explore, alive, cfg, generator)
    policy = torch.where(alive[:, None], torch.nan_to_num(policy), 0.0)
    value = torch.where(alive, torch.nan_to_num(value), tree.raw_value[:, ROOT])
    return SearchOutput(torch.where(alive, action, 0), policy, value, _children(tree, rows, _roots(rows))[0], tree)


@functools.lru_cache(maxsize=32)
def _device_table(max_considered: int, simulations: int, num_actions: int, device: torch.device) -> torch.Tensor:
    """The halving schedule on the device, made once (a host-to-device copy per search would
    also break CUDA-graph capture)."""
    return considered_visit_table(max_considered, simulations, num_actions).to(device)


def network_evaluator(game: Game, net: torch.nn.Module, score_utility: float = 0.0) -> Evaluator:
    """An evaluator from a policy-value network over ``game.observe`` planes (eval mode,
    no gradients). With ``score_utility`` w > 0 its value is the utility of
    :attr:`MCTSConfig.score_utility`, from the network's score head (``out.score``: the final
    margin / (H * W) for the player to move, as agents/alphazero.py trains it)."""

    @torch.inference_mode()
    def evaluate(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        planes = game.observe(state)
        out = net(planes)
        value = out[1].float()
        if score_utility:
            if len(out) < 4:
                raise ValueError(f"score_utility={score_utility} needs a network with a score head "
                                 f"(the global pooling network), not {type(net).__name__}")
            side = math.sqrt(planes.shape[-2] * planes.shape[-1])
            points_per_side = out[3].float() * side  # margin / (H W) * sqrt(H W) = margin / N
            value = (1.0 - score_utility) * value + score_utility * (2.0 / math.pi) * torch.atan(points_per_side)
        return out[0].float(), value

    return evaluate


def rollout_evaluator(game: Game, generator: torch.Generator | None = None, max_moves: int = 1000) -> Evaluator:
    """Classic MCTS without a network: uniform priors, and the value of one uniformly random
    playout from each leaf (batched over the leaves), for the player to move there."""

    def evaluate(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        from envs.core import random_actions

        player = state.current_player
        s, moves = state, 0
        outcome = state.rewards * state.terminated[:, None]  # rewards come only at the end
        while not bool(s.terminated.all()) and moves < max_moves:
            s = game.step(s, random_actions(s, generator), checked=False)
            outcome = outcome + s.rewards  # finished games are frozen with zero rewards
            moves += 1
        value = outcome.gather(1, player[:, None])[:, 0]
        logits = torch.zeros(state.legal_action_mask.shape, device=player.device)
        return logits, value

    return evaluate


# ----- one simulation ----------------------------------------------------------------------


def _simulate(game: Game, tree: Tree, rows: torch.Tensor, first: torch.Tensor, new: int, alive: torch.Tensor,
              evaluate: Evaluator, cfg: MCTSConfig, interior_action: Callable[..., torch.Tensor],
              levels: int | None = None) -> None:
    """Descend from the root (its action already chosen), expand node ``new``, back up.

    ``levels`` None descends until no tree is still going down (a host sync per level);
    an int takes exactly that many interior steps (rows that stopped are masked), which
    covers every tree when it is at least the depth of the deepest node (``new - 1``).
    """
    node = torch.full_like(rows, ROOT)
    parent, action, depth = node, first, torch.zeros_like(rows)
    path = [node]
    child = tree.children[rows, node, first]
    expand = alive & (child == UNVISITED)
    down = alive & ~expand
    node = torch.where(down, child, node)
    depth = depth + down
    path.append(node)
    active = down & ~tree.terminal[rows, node]
    level = 0
    while (bool(active.any()) if levels is None else level < levels):  # levels None: a host sync per level
        level += 1
        a = interior_action(tree, rows, node, cfg)
        child = tree.children[rows, node, a]
        parent = torch.where(active, node, parent)
        action = torch.where(active, a, action)
        expand = expand | (active & (child == UNVISITED))
        down = active & (child != UNVISITED)
        node = torch.where(down, child, node)
        depth = depth + down
        path.append(node)
        active = down & ~tree.terminal[rows, node]

    # Expand: one batched step from each leaf's parent, one evaluator call for all B.
    parent_state = _read_state(tree, rows, parent)
    child_state = game.step(parent_state, action, checked=False)
    logits, value = evaluate(child_state)
    slot = torch.full_like(rows, new)
    _write_node(tree, rows, slot, child_state, logits, value)
    tree.terminal[:, new] = child_state.terminated & expand
    tree.parent[:, new] = parent
    links = tree.children[rows, parent, action]
    tree.children[rows, parent, action] = torch.where(expand, new, links)

    # Leaf value for the player who moved into the leaf.
    mover = parent_state.current_player
    final = child_state.rewards.gather(1, mover[:, None])[:, 0]
    expanded_value = torch.where(child_state.terminated, final, -value.float())
    revisit_value = tree.value_sum[rows, node] / tree.visits[rows, node].clamp(min=1)
    leaf_value = torch.where(expand, expanded_value, revisit_value) * alive
    _backup(tree, rows, torch.stack(path, 1), depth, expand, new, leaf_value, alive)


def _backup(tree: Tree, rows: torch.Tensor, path: torch.Tensor, depth: torch.Tensor, expand: torch.Tensor, new: int,
            leaf_value: torch.Tensor, alive: torch.Tensor) -> None:
    """Add one visit and the leaf value (sign flipping each ply) to every node on each path.

    ``path [B, D]`` holds the node at each depth (valid up to ``depth``); an expanded
    leaf sits one level below, at node ``new``. Nodes on one path are distinct, so one
    ``index_add_`` per tensor does the whole batch.
    """
    B, D = path.shape
    M = tree.visits.shape[1]
    leaf_depth = depth + expand
    d = torch.arange(D, device=path.device)
    on_path = (d[None, :] <= depth[:, None]) & alive[:, None]
    sign = 1.0 - 2.0 * ((leaf_depth[:, None] - d[None, :]) % 2).float()  # +1 at the leaf's parity
    flat = (rows[:, None] * M + path).reshape(-1)
    tree.visits.view(-1).index_add_(0, flat, on_path.float().reshape(-1))
    tree.value_sum.view(-1).index_add_(0, flat, (on_path * sign * leaf_value[:, None]).reshape(-1))
    tree.visits[:, new] += expand.float()
    tree.value_sum[:, new] += leaf_value * expand


# ----- action selection --------------------------------------------------------------------


def _children(tree: Tree, rows: torch.Tensor, node: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Visits and mean values (for the node's player) of each action's child, ``[B, A]``."""
    child = tree.children[rows, node]
    known = child != UNVISITED
    idx = child.clamp(min=0)
    visits = torch.where(known, tree.visits.gather(1, idx), 0.0)
    q = torch.where(known, tree.value_sum.gather(1, idx) / visits.clamp(min=1), 0.0)
    return visits, q


def _legal(tree: Tree, rows: torch.Tensor, node: torch.Tensor) -> torch.Tensor:
    return tree.states["legal_action_mask"][rows, node]


def _roots(rows: torch.Tensor) -> torch.Tensor:
    return torch.full_like(rows, ROOT)


# PUCT (AlphaZero): Dirichlet noise on the root priors, visit sampling when exploring.


def _puct_prepare_root(tree: Tree, state: Any, explore: torch.Tensor, gumbel: torch.Tensor | None, cfg: MCTSConfig,
                       generator: torch.Generator | None) -> torch.Tensor:
    """Mix Dirichlet noise into the exploring roots' priors; PUCT uses no Gumbel noise."""
    noise = dirichlet_noise(state.legal_action_mask, cfg.dirichlet_alpha, generator)
    mix = cfg.dirichlet_fraction * explore.float()[:, None]
    prior = torch.softmax(tree.logits[:, ROOT], dim=-1)
    tree.logits[:, ROOT] = _masked_log(((1 - mix) * prior + mix * noise), state.legal_action_mask)
    return torch.zeros_like(tree.logits[:, ROOT])


def _puct_root_action(tree: Tree, rows: torch.Tensor, gumbel: torch.Tensor, considered_visit: torch.Tensor,
                      cfg: MCTSConfig) -> torch.Tensor:
    return _puct_action(tree, rows, _roots(rows), cfg)


def _puct_action(tree: Tree, rows: torch.Tensor, node: torch.Tensor, cfg: MCTSConfig) -> torch.Tensor:
    visits, q = _children(tree, rows, node)
    fpu = -tree.value_sum[rows, node] / tree.visits[rows, node].clamp(min=1)  # the node's own mean value
    prior = torch.softmax(tree.logits[rows, node], dim=-1)
    scores = puct_scores(prior, visits, q, tree.visits[rows, node], fpu, _legal(tree, rows, node), cfg.c_puct)
    return scores.argmax(-1)


def _puct_output(tree: Tree, rows: torch.Tensor, gumbel: torch.Tensor, explore: torch.Tensor, alive: torch.Tensor,
                 cfg: MCTSConfig, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Visit shares as the target; a visit-proportional sample when exploring, else the most
    visited move (ties to the better q); the mean of all backed-up values."""
    visits, q = _children(tree, rows, _roots(rows))
    legal = _legal(tree, rows, _roots(rows))
    policy = visits / visits.sum(-1, keepdim=True).clamp(min=1)
    sampled = torch.multinomial(policy + (~alive[:, None]).float(), 1, generator=generator)[:, 0]
    action = torch.where(explore, sampled, torch.where(legal, visits + 1e-3 * q, -math.inf).argmax(-1))
    return action, policy, -tree.value_sum[:, ROOT] / tree.visits[:, ROOT]


# Gumbel (Danihelka et al. 2022): Gumbel-top-k at the root with sequential halving, the
# deterministic improved-policy rule inside.


def _gumbel_prepare_root(tree: Tree, state: Any, explore: torch.Tensor, gumbel: torch.Tensor | None, cfg: MCTSConfig,
                         generator: torch.Generator | None) -> torch.Tensor:
    """The root's Gumbel noise (drawn, or the one given), zero where not exploring."""
    noise = gumbel_noise(tree.logits[:, ROOT], generator) if gumbel is None else gumbel
    return noise * explore[:, None]


def _gumbel_root_action(tree: Tree, rows: torch.Tensor, gumbel: torch.Tensor, considered_visit: torch.Tensor,
                        cfg: MCTSConfig) -> torch.Tensor:
    """Sequential halving: among root actions whose visit count equals this simulation's
    scheduled count, the best by ``g + logits + sigma(q)``."""
    root = _roots(rows)
    visits, q = _children(tree, rows, root)
    logits, legal = tree.logits[:, ROOT], _legal(tree, rows, root)
    sigma = completed_q_sigma(logits, visits, q, tree.raw_value[:, ROOT], legal, cfg.c_visit, cfg.c_scale)
    scores = gumbel + logits + sigma
    eligible = legal & (visits == considered_visit[:, None])
    return torch.where(eligible, scores, -math.inf).argmax(-1)


def _gumbel_interior_action(tree: Tree, rows: torch.Tensor, node: torch.Tensor, cfg: MCTSConfig) -> torch.Tensor:
    """Match the improved policy with the visit shares (Gumbel's deterministic interior rule)."""
    visits, q = _children(tree, rows, node)
    logits, legal = tree.logits[rows, node], _legal(tree, rows, node)
    sigma = completed_q_sigma(logits, visits, q, tree.raw_value[rows, node], legal, cfg.c_visit, cfg.c_scale)
    improved = torch.softmax(logits + sigma, dim=-1)
    scores = improved - visits / (1 + visits.sum(-1, keepdim=True))
    return torch.where(legal, scores, -math.inf).argmax(-1)


def _gumbel_output(tree: Tree, rows: torch.Tensor, gumbel: torch.Tensor, explore: torch.Tensor, alive: torch.Tensor,
                   cfg: MCTSConfig, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The improved policy ``softmax(logits + sigma(completed q))`` as the target, the most
    visited action with the best ``g + logits + sigma`` as the move, and the improved policy's
    value."""
    root = _roots(rows)
    visits, q = _children(tree, rows, root)
    legal = _legal(tree, rows, root)
    logits = tree.logits[:, ROOT]
    sigma = completed_q_sigma(logits, visits, q, tree.raw_value[:, ROOT], legal, cfg.c_visit, cfg.c_scale)
    policy = torch.softmax(torch.where(legal, logits + sigma, -math.inf), dim=-1)
    most = legal & (visits == torch.where(legal, visits, -1).amax(-1, keepdim=True))
    action = torch.where(most, gumbel + logits + sigma, -math.inf).argmax(-1)
    # The improved policy's value: with halving's fixed visits to poor moves, the plain root
    # mean understates won positions (a one-move win read 0.2 at 200 simulations).
    value = (policy * completed_q(logits, visits, q, tree.raw_value[:, ROOT])).sum(-1)
    return action, policy, value


RULES: dict[str, SearchRules] = {
    "puct": SearchRules(_puct_prepare_root, _puct_root_action, _puct_action, _puct_output),
    "gumbel": SearchRules(_gumbel_prepare_root, _gumbel_root_action, _gumbel_interior_action, _gumbel_output),
}
"""The root rules by ``MCTSConfig.algorithm``."""


# ----- tree storage ------------------------------------------------------------------------


def _new_tree(state: Any, B: int, M: int, A: int) -> Tree:
    dev = state.legal_action_mask.device
    states = {}
    for f in dataclasses.fields(state):
        x = getattr(state, f.name)
        states[f.name] = torch.zeros((B, M, *x.shape[1:]), dtype=x.dtype, device=dev)
    return Tree(
        visits=torch.zeros(B, M, device=dev),
        value_sum=torch.zeros(B, M, device=dev),
        raw_value=torch.zeros(B, M, device=dev),
        logits=torch.zeros(B, M, A, device=dev),
        children=torch.full((B, M, A), UNVISITED, dtype=torch.long, device=dev),
        parent=torch.full((B, M), UNVISITED, dtype=torch.long, device=dev),
        terminal=torch.zeros(B, M, dtype=torch.bool, device=dev),
        states=states,
        state_type=type(state),
    )


def _write_node(tree: Tree, rows: torch.Tensor, node: torch.Tensor, state: Any, logits: torch.Tensor,
                value: torch.Tensor) -> None:
    for name, buffer in tree.states.items():
        buffer[rows, node] = getattr(state, name)
    tree.logits[rows, node] = _masked(logits.float(), state.legal_action_mask)
    tree.raw_value[rows, node] = value.float()
    tree.terminal[rows, node] = state.terminated


def _read_state(tree: Tree, rows: torch.Tensor, node: torch.Tensor) -> Any:
    fields = {name: buffer[rows, node] for name, buffer in tree.states.items()}
    return tree.state_type(**fields)


def _masked(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Finite masking (never NaN, even for a finished game's all-False mask)."""
    return logits.masked_fill(~legal, -1e9)


def _masked_log(p: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    return _masked(p.clamp(min=1e-12).log(), legal)
