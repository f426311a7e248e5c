"""Batched MCTS (agents/mcts.py) on its math and against a bandit stub with hand-derived visit
counts; tests/test_mcts_games.py searches tic-tac-toe and Go.

The bandit stub is a one-decision game: every action ends it at once and pays a fixed reward
to the mover (the opponent gets its negation), so every root child's q is known exactly and
the visit counts of PUCT and of Gumbel sequential halving can be worked out on paper (STYLE.md
rule 15, after mctx's policies_test.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from agents.mcts import ROOT, UNVISITED, MCTSConfig, search
from agents.selection import completed_q_sigma, considered_visit_table, puct_scores
from mcts_common import ALGORITHMS


# ----- the bandit stub ------------------------------------------------------------------------


@dataclass(frozen=True)
class BanditState:
    """B one-decision games over A actions."""

    payoff: torch.Tensor  # float [B, A]: reward to the mover of each action
    current_player: torch.Tensor  # long [B]
    legal_action_mask: torch.Tensor  # bool [B, A]
    rewards: torch.Tensor  # float [B, 2]
    terminated: torch.Tensor  # bool [B]


class OneShot:
    """A game of one move: action ``a`` ends it, paying ``payoff[a]`` to the mover and
    ``-payoff[a]`` to the other player (zero-sum, like the real games)."""

    name = "one-shot"

    def __init__(self, num_actions: int) -> None:
        self.num_actions = num_actions

    def init(self, payoff: torch.Tensor, legal: torch.Tensor | None = None) -> BanditState:
        payoff = torch.as_tensor(payoff, dtype=torch.float32).reshape(-1, self.num_actions)
        B = payoff.shape[0]
        legal = torch.ones(B, self.num_actions, dtype=torch.bool) if legal is None else legal.reshape(B, -1)
        return BanditState(payoff, torch.zeros(B, dtype=torch.long), legal, torch.zeros(B, 2),
                           torch.zeros(B, dtype=torch.bool))

    def step(self, state: BanditState, action: torch.Tensor, checked: bool = False) -> BanditState:
        live = ~state.terminated  # finished games stay exactly as they were, with zero rewards
        r = state.payoff.gather(1, action[:, None])[:, 0] * live
        mover = state.current_player
        rewards = torch.stack([torch.where(mover == 0, r, -r), torch.where(mover == 1, r, -r)], 1)
        return BanditState(state.payoff, torch.where(live, 1 - mover, mover), torch.zeros_like(state.legal_action_mask),
                           rewards, torch.ones_like(state.terminated))


def constant_evaluator(logits: list[float] | torch.Tensor, value: float = 0.0):
    """The same prior logits (per action) and value for every position."""
    logits = torch.as_tensor(logits, dtype=torch.float32)

    def evaluate(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        B = state.legal_action_mask.shape[0]
        return logits.expand(B, -1).clone(), torch.full((B,), value)

    return evaluate


# ----- pure math --------------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "n", "expected"), [
    # Danihelka et al. 2022, sec. 3.2 (as mctx's seq_halving.py): log2(m) phases; each phase gives
    # every still-considered action max(1, n // (ceil(log2 m) * considered)) more visits, then halves.
    (4, 8, [0, 0, 0, 0, 1, 1, 2, 2]),
    (4, 16, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
    (3, 8, [0, 0, 0, 1, 1, 2, 2, 3]),
    (2, 8, [0, 0, 1, 1, 2, 2, 3, 3]),
    (9, 16, [0] * 9 + [1, 1, 1, 1] + [2, 2, 3]),
    (1, 5, [0, 1, 2, 3, 4]),  # one action: it takes every visit
    (0, 3, [0, 1, 2]),  # finished games (no legal action): never used
])
def test_sequential_halving_schedule(m, n, expected):
    table = considered_visit_table(16, n, 9)
    assert table.shape == (10, n)  # rows 0..min(max_considered, A)
    assert table[m].tolist() == expected


def test_considered_table_is_capped_by_the_action_count():
    assert considered_visit_table(16, 8, 4).shape == (5, 8)
    assert considered_visit_table(2, 8, 9).shape == (3, 8)


def test_puct_scores_by_hand():
    prior = torch.tensor([[0.5, 0.25, 0.25]])
    visits, q = torch.tensor([[1.0, 0.0, 3.0]]), torch.tensor([[0.2, 0.9, -0.1]])
    legal = torch.tensor([[True, True, False]])
    scores = puct_scores(prior, visits, q, torch.tensor([5.0]), torch.tensor([-0.3]), legal, c_puct=2.0)
    r5 = math.sqrt(5)
    # visited: q + c P sqrt(N) / (1 + n); unvisited: fpu (not its stale q) + c P sqrt(N); illegal: -inf
    assert scores[0, 0].item() == pytest.approx(0.2 + 2 * 0.5 * r5 / 2)
    assert scores[0, 1].item() == pytest.approx(-0.3 + 2 * 0.25 * r5)
    assert scores[0, 2].item() == -math.inf


def test_completed_q_sigma_by_hand():
    logits = torch.zeros(1, 4)
    visits, q = torch.tensor([[2.0, 0.0, 1.0, 0.0]]), torch.tensor([[0.5, 0.0, -0.5, 0.0]])
    legal = torch.tensor([[True, True, True, False]])
    sigma = completed_q_sigma(logits, visits, q, torch.tensor([0.2]), legal, c_visit=50.0, c_scale=0.1)
    # v_mix = (raw + N * sum_visited(p q) / sum_visited(p)) / (1 + N) = (0.2 + 3 * 0) / 4 = 0.05,
    # completed q = [0.5, 0.05, -0.5, 0.05] -> rescaled over legal [1, 0.55, 0, 0], times (50 + 2) * 0.1.
    assert sigma[0].tolist() == pytest.approx([5.2, 0.55 * 5.2, 0.0, 0.0])


# ----- the bandit stub: visits by hand ----------------------------------------------------------


@pytest.mark.parametrize(("simulations", "expected"), [
    (1, [1, 0, 0]), (2, [1, 1, 0]), (3, [1, 2, 0]), (4, [1, 3, 0]), (5, [1, 3, 1]), (6, [1, 4, 1]), (7, [1, 5, 1]),
])
def test_puct_bandit_visits_by_hand(simulations, expected):
    """Uniform priors P = 1/3, payoffs q = [0, 1, -1], root value 0, c = 1; score = Q + P sqrt(N) / (1 + n)
    with unvisited actions at the root's running mean (fpu); ties go to the lowest action.

    sim 1: N=1, mean 0: all 1/3                                     -> a0 (q 0), root sum 0
    sim 2: N=2, mean 0: a0 .236, a1 = a2 = .471                     -> a1 (q 1), sum 1
    sim 3: N=3, mean 1/3: a0 .289, a1 1.289, a2 .911                -> a1, sum 2
    sim 4: N=4, mean 1/2: a0 .333, a1 1.222, a2 1.167               -> a1, sum 3
    sim 5: N=5, mean 3/5: a0 .373, a1 1.186, a2 1.345               -> a2 (q -1), sum 2
    sim 6: N=6, mean 1/3: a0 .408, a1 1.204, a2 -.592               -> a1, sum 3
    sim 7: N=7, mean 3/7: a0 .441, a1 1.147, a2 -.559               -> a1
    """
    game = OneShot(3)
    cfg = MCTSConfig(simulations=simulations, algorithm="puct", c_puct=1.0)
    out = search(game, game.init([0.0, 1.0, -1.0]), constant_evaluator([0.0, 0.0, 0.0]), cfg)
    assert out.visits[0].tolist() == expected
    assert out.policy[0].tolist() == pytest.approx([v / simulations for v in expected])
    # the root's mean: its own value 0 plus one payoff per simulation, over simulations + 1 visits
    assert out.value[0].item() == pytest.approx((expected[1] - expected[2]) / (simulations + 1))
    payoff = [0.0, 1.0, -1.0]
    assert out.action.item() == max(range(3), key=lambda a: (expected[a], payoff[a]))  # ties: the better q


def test_gumbel_bandit_sequential_halving_by_hand():
    """m = 4 actions, n = 8 simulations, no noise, uniform logits: the schedule [0,0,0,0,1,1,2,2]
    visits each action once (ties -> lowest), then the best two by q (a1: .9, a3: .5) twice each."""
    game = OneShot(4)
    payoff = [0.1, 0.9, -0.5, 0.5]
    out = search(game, game.init(payoff), constant_evaluator([0.0] * 4), MCTSConfig(simulations=8))
    assert out.visits[0].tolist() == [1, 3, 1, 3]
    assert out.action.item() == 1
    # improved policy: softmax(logits + (c_visit + max n) * c_scale * rescaled q)
    rescaled = torch.tensor([(q + 0.5) / 1.4 for q in payoff])
    assert out.policy[0].tolist() == pytest.approx(torch.softmax((50 + 3) * 0.1 * rescaled, 0).tolist(), rel=1e-5)
    # value: the improved policy's expectation of the (all visited) q values
    assert out.value[0].item() == pytest.approx(float((out.policy[0] * torch.tensor(payoff)).sum()), rel=1e-5)


def test_gumbel_considers_only_the_top_logits():
    """max_considered_actions = 2 and no noise: only the two highest-logit actions (a3, a2) are ever
    searched, schedule [0,0,1,1,2,2,3,3]; the better-paying a0 and a1 are never visited."""
    game = OneShot(4)
    cfg = MCTSConfig(simulations=8, max_considered_actions=2)
    out = search(game, game.init([0.9, 0.9, -0.5, 0.0]), constant_evaluator([0.0, 0.0, 1.0, 2.0]), cfg)
    assert out.visits[0].tolist() == [0, 0, 4, 4]
    assert out.action.item() == 3
    assert out.policy[0, :2].gt(0).all()  # unvisited actions keep mass through the completed q


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bandit_best_action_gets_the_most_visits(algorithm):
    g = torch.Generator().manual_seed(0)
    B, A = 32, 6
    payoff = torch.stack([torch.linspace(-0.9, 0.9, A)[torch.randperm(A, generator=g)] for _ in range(B)])
    legal = torch.rand(B, A, generator=g) < 0.7
    legal[torch.arange(B), payoff.argmin(1)] = True  # at least two legal actions
    legal[torch.arange(B), torch.randint(A, (B,), generator=g)] = True
    game = OneShot(A)
    logits = 0.5 * torch.randn(A, generator=g)
    cfg = MCTSConfig(simulations=64, algorithm=algorithm)
    out = search(game, game.init(payoff, legal), constant_evaluator(logits), cfg)
    best = payoff.masked_fill(~legal, -math.inf).argmax(1)
    assert out.action.tolist() == best.tolist()
    # (Gumbel's last halving phase can leave the final two actions tied in visits)
    assert torch.equal(out.visits.gather(1, best[:, None])[:, 0], out.visits.amax(1))
    assert (out.visits * ~legal).sum() == 0


@pytest.mark.parametrize("explore", [False, True])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_illegal_actions_get_no_visits_and_no_policy(algorithm, explore):
    """Even when illegal actions would pay the most and have the largest prior logits."""
    g = torch.Generator().manual_seed(1)
    B, A = 64, 5
    legal = torch.rand(B, A, generator=g) < 0.5
    legal[:, 0] = True
    payoff = torch.where(legal, torch.rand(B, A, generator=g) - 0.5, 1.0)
    game = OneShot(A)
    logits = torch.tensor([0.0, 0.0, 5.0, 5.0, 5.0])
    cfg = MCTSConfig(simulations=16, algorithm=algorithm)
    out = search(game, game.init(payoff, legal), constant_evaluator(logits), cfg, explore=explore,
                 generator=torch.Generator().manual_seed(2))
    assert legal.gather(1, out.action[:, None]).all()
    assert (out.visits * ~legal).sum() == 0
    assert (out.policy * ~legal).sum() == 0
    assert (out.tree.children[:, ROOT] != UNVISITED).le(legal).all()
    assert out.policy.sum(1).tolist() == pytest.approx([1.0] * B)
