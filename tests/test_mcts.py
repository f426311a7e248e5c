"""Batched MCTS (agents/mcts.py) against a bandit stub with hand-derived visit counts, and
against exhaustive search (the exact solver) on tic-tac-toe.

The bandit stub is a one-decision game: every action ends it at once and pays a fixed reward
to the mover (the opponent gets its negation), so every root child's q is known exactly and
the visit counts of PUCT and of Gumbel sequential halving can be worked out on paper (STYLE.md
rule 15, after mctx's policies_test.py).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch

import envs
from agents.mcts import ROOT, UNVISITED, MCTSConfig, SearchOutput, rollout_evaluator, search
from agents.selection import completed_q_sigma, considered_visit_table, puct_scores
from envs import core
from envs.tictactoe_solver import judge_positions, optimal_actions, solve

ALGORITHMS = ("puct", "gumbel")


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


def zero_evaluator(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform priors and value 0: the search learns only from terminal rewards."""
    mask = state.legal_action_mask
    return torch.zeros(mask.shape), torch.zeros(mask.shape[0])


def perfect_evaluator(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform priors and the exact minimax value for the side to move (tic-tac-toe)."""
    table = solve()
    values = [float(table[tuple(b)].value) for b in state.board.tolist()]
    return torch.zeros(state.legal_action_mask.shape), torch.tensor(values)


def root_children(out: SearchOutput) -> tuple[torch.Tensor, torch.Tensor]:
    """Visits and q (for the root player) of each root action, ``[B, A]``."""
    child = out.tree.children[:, ROOT]
    known = child != UNVISITED
    idx = child.clamp(min=0)
    visits = torch.where(known, out.tree.visits.gather(1, idx), 0.0)
    q = torch.where(known, out.tree.value_sum.gather(1, idx) / visits.clamp(min=1), 0.0)
    return visits, q


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


# ----- tic-tac-toe: value signs and tactics -----------------------------------------------------

TTT = envs.make("tictactoe")


def play(moves: list[int], game: Any = TTT) -> Any:
    state = game.init(1)
    for m in moves:
        state = game.step(state, torch.tensor([m]))
    return state


def cat(states: list[Any]) -> Any:
    return type(states[0])(**{f.name: torch.cat([getattr(s, f.name) for s in states])
                              for f in dataclasses.fields(states[0])})


def take(state: Any, rows: list[int] | torch.Tensor) -> Any:
    return type(state)(**{f.name: getattr(state, f.name)[rows] for f in dataclasses.fields(state)})


TACTICS = [  # (moves so far, the one right move, whether the mover wins with it)
    ([0, 3, 1, 4], 2, True),  # X X . / O O . / . . .   X to move: win at 2
    ([0, 3, 1, 4, 6], 5, True),  # X X . / O O . / X . .   O to move: win at 5 (not block at 2)
    ([0, 4, 1], 2, False),  # X X . / . O . / . . .   O to move: block at 2
    ([0, 4, 8, 1], 7, False),  # X O . / . O . / . . X   X to move: block at 7
]


@pytest.mark.parametrize(("algorithm", "evaluator"), [("puct", "zero"), ("puct", "rollout"), ("gumbel", "zero")])
def test_search_wins_and_blocks(algorithm, evaluator):
    """Uniform priors with value 0 (or PUCT with one random playout per leaf, the `mcts` player).

    Gumbel is not run on random playouts: its deterministic interior rule trusts the values, and
    a noisy -1 at a node can keep its best reply unvisited (seen: X O . / . O . / . . X, X to move,
    seeds 0 and 2 of 3 play 6, after which O's winning reply 7 never got a visit in 80)."""
    state = cat([play(moves) for moves, _, _ in TACTICS])
    for (_, move, _), board in zip(TACTICS, state.board.tolist()):
        assert optimal_actions(board) == {move}  # the fixtures are what they claim
    evaluate = zero_evaluator if evaluator == "zero" else rollout_evaluator(TTT, torch.Generator().manual_seed(0))
    out = search(TTT, state, evaluate, MCTSConfig(simulations=200, algorithm=algorithm))
    assert out.action.tolist() == [move for _, move, _ in TACTICS]
    _, q = root_children(out)
    policy_value = (out.policy * q).sum(1)  # the search's value of its own policy, for the mover
    for i, (_, move, wins) in enumerate(TACTICS):
        if wins:  # an immediate win is worth exactly +1 to the mover, whichever side moves
            assert q[i, move].item() == 1.0
            assert policy_value[i].item() > 0.9
        else:  # every other move loses to the threat: the blocked position is worth about 0
            others = q[i].masked_fill(~state.legal_action_mask[i] | (torch.arange(9) == move), -math.inf)
            assert q[i, move].item() > -0.1 and others.max().item() < q[i, move].item() - 0.3
            assert abs(policy_value[i].item()) < 0.15
    wins = torch.tensor([w for _, _, w in TACTICS])
    if algorithm == "puct":  # visits concentrate on the best move: the root mean is the value
        assert out.value[wins].min() > 0.9 and out.value[~wins].abs().max() < 0.15
    else:  # sequential halving spends fixed visits on every considered move, so the root mean
        # stays far below the position's value (0.24 and 0.14 here; 0.21 at 800 simulations)
        assert out.value[wins].min() > 0 and out.value[wins].min() > out.value[~wins].max()


# ----- tic-tac-toe: exhaustive search over the 4,520 positions ----------------------------------


def optimal_fraction(judge: Any, action: torch.Tensor) -> float:
    return float(judge.optimal.gather(1, action[:, None]).float().mean())


@pytest.fixture(scope="module")
def judge() -> Any:
    return judge_positions()


@pytest.mark.parametrize(("algorithm", "simulations", "threshold"), [("puct", 64, 0.97), ("gumbel", 128, 0.97)])
def test_uniform_evaluator_plays_near_minimax(judge, algorithm, simulations, threshold):
    """Uniform priors, value 0: only terminal rewards inform the search. Measured: PUCT 0.972 at 50
    simulations, 0.977 at 64, 0.983 at 100, 0.991 at 200, 0.996 at 400; Gumbel 0.941 at 50, 0.972
    at 100, 0.983 at 128, 0.989 at 200, 0.995 at 400."""
    out = search(TTT, judge.state, zero_evaluator, MCTSConfig(simulations=simulations, algorithm=algorithm))
    assert optimal_fraction(judge, out.action) >= threshold


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_perfect_evaluator_signs_and_moves(judge, algorithm):
    """With the exact value of every leaf, each root child searched once carries exactly its
    minimax value (the sign conventions, over all 4,520 positions), and 16 simulations already
    play optimally almost everywhere.

    Not 100%: q is a mean over the child's subtree, and deeper uniform-prior moves blunder, so a
    losing move's q can rise (e.g. O X . / . O . / X . X, O to move, Gumbel: after two visits
    each, the losing moves 3 and 5 tie the only drawing move 7 at q = 0, because X's first reply
    in their subtrees is the lowest-numbered one, a blunder; halving keeps 3 and 5). Measured:
    PUCT 0.9991 (4 positions) at 16 simulations and 1.0 from 24; Gumbel 0.9945 at 16, 0.9996 at
    24, 0.9987 at 32, 0.9978 at 64.
    """
    out = search(TTT, judge.state, perfect_evaluator, MCTSConfig(simulations=16, algorithm=algorithm))
    visits, q = root_children(out)
    exact = exact_action_values(judge.state)
    once = visits == 1
    assert once.sum() > 3000
    assert torch.equal(q[once], exact[once])
    assert optimal_fraction(judge, out.action) >= 0.99


def test_perfect_evaluator_puct_32_is_perfect(judge):
    out = search(TTT, judge.state, perfect_evaluator, MCTSConfig(simulations=32, algorithm="puct"))
    assert optimal_fraction(judge, out.action) == 1.0


def exact_action_values(state: Any) -> torch.Tensor:
    """Minimax value of each legal move for the mover, ``[B, 9]`` (0 where illegal)."""
    table = solve()
    out = torch.zeros(state.legal_action_mask.shape)
    for i, board in enumerate(state.board.tolist()):
        mark = 1 if sum(board) == 0 else -1
        for a in range(9):
            if board[a] == 0:
                out[i, a] = -table[tuple(board[:a] + [mark] + board[a + 1:])].value
    return out


# ----- batches, finished games, tree invariants -------------------------------------------------

GO = envs.make("go", size=5)


def integer_evaluator(game: Any, seed: int):
    """A fixed 'network' whose outputs are exact in float32 whatever the batch (small integer
    weights on 0/1 planes), so a batched and a single search must agree bit for bit."""
    g = torch.Generator().manual_seed(seed)
    c, n, _ = game.observation_shape
    w = torch.randint(-3, 4, (c * n * n, game.num_actions + 1), generator=g).float()

    def evaluate(state: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = game.observe(state).flatten(1)
        out = (x[:, :, None] * w[None]).sum(1)  # (B, A + 1)
        return 0.25 * out[:, :-1], torch.tanh(out[:, -1] / 16)

    return evaluate


def go_positions(B: int, moves: int, seed: int) -> Any:
    g = torch.Generator().manual_seed(seed)
    state = GO.init(B)
    for _ in range(moves):
        state = GO.step(state, core.random_actions(state, g), checked=False)
    return state


@pytest.mark.parametrize("game_id", ["tictactoe", "go"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_batched_search_equals_searching_each_alone(algorithm, game_id):
    if game_id == "tictactoe":
        game, state = TTT, take(judge_positions().state, list(range(0, 4520, 500)))
    else:
        game, state = GO, go_positions(4, 6, seed=3)
    evaluate = integer_evaluator(game, seed=4)
    cfg = MCTSConfig(simulations=16, algorithm=algorithm)
    batched = search(game, state, evaluate, cfg, generator=torch.Generator().manual_seed(0))
    B = state.legal_action_mask.shape[0]
    for i in range(B):
        alone = search(game, take(state, [i]), evaluate, cfg, generator=torch.Generator().manual_seed(i + 1))
        assert alone.action.item() == batched.action[i].item()
        assert torch.equal(alone.visits[0], batched.visits[i])
        assert torch.allclose(alone.policy[0], batched.policy[i])
        assert alone.value[0].item() == pytest.approx(batched.value[i].item())


@pytest.mark.parametrize("explore", [False, True])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_finished_games_get_action_zero_and_no_policy(algorithm, explore):
    won = play([0, 3, 1, 4, 2])  # X completes the top row
    drawn = play([0, 1, 2, 4, 3, 5, 7, 6, 8])  # full board, no line
    running = play([4])
    state = cat([running, won, drawn, running])
    assert state.terminated.tolist() == [False, True, True, False]
    cfg = MCTSConfig(simulations=16, algorithm=algorithm)
    out = search(TTT, state, zero_evaluator, cfg, explore=explore, generator=torch.Generator().manual_seed(0))
    assert out.action[1:3].tolist() == [0, 0]
    assert out.policy[1:3].abs().sum() == 0 and out.visits[1:3].sum() == 0
    assert out.tree.visits[1:3, 1:].sum() == 0  # nothing was expanded below a finished root
    assert torch.isfinite(out.policy).all() and torch.isfinite(out.value).all()
    for i in (0, 3):
        assert state.legal_action_mask[i, out.action[i]]
        assert out.visits[i].sum() == 16
    for one in (won, running):  # B = 1
        single = search(TTT, one, zero_evaluator, cfg, explore=explore, generator=torch.Generator().manual_seed(0))
        assert single.action.shape == (1,) and single.policy.shape == (1, 9)


@pytest.mark.parametrize("game_id", ["tictactoe", "go"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tree_invariants(algorithm, game_id):
    if game_id == "tictactoe":
        game, state = TTT, take(judge_positions().state, list(range(0, 4520, 23)))
    else:
        game, state = GO, cat([go_positions(3, 8, seed=5), GO.init(1)])
    S = 24
    out = search(game, state, integer_evaluator(game, seed=6), MCTSConfig(simulations=S, algorithm=algorithm),
                 explore=True, generator=torch.Generator().manual_seed(7))
    tree, B = out.tree, state.legal_action_mask.shape[0]
    assert tree.visits[:, ROOT].tolist() == [S + 1.0] * B
    assert out.visits.sum(1).tolist() == [float(S)] * B
    # a simulation that ends on a terminal node expands nothing, so some slots stay unused
    used = tree.visits > 0
    assert used.sum(1).le(S + 1).all()
    # every node has 1 + its children's visits, except terminal nodes, which have no children
    # and are visited once per arrival
    children = tree.children
    known = children != UNVISITED
    child_visits = torch.where(known, tree.visits.gather(1, children.clamp(min=0).flatten(1)).view_as(children), 0.0)
    inner = used & ~tree.terminal
    assert torch.equal(tree.visits[inner], 1 + child_visits.sum(-1)[inner])
    assert not known[tree.terminal].any() and not known[~used].any()
    # parent and child links agree: each used node below the root is linked once, from its parent
    rows = torch.arange(B)[:, None].expand(B, S)
    nodes = torch.arange(1, S + 1)[None].expand(B, S)
    links = (children[rows, tree.parent[:, 1:].clamp(min=0)] == nodes[..., None]).sum(-1)
    assert torch.equal(links, used[:, 1:].long())
    assert known.sum((1, 2)).tolist() == (used.sum(1) - 1).tolist()
    # children only under legal actions; policy a distribution over the legal actions
    legal = tree.states["legal_action_mask"]
    assert not (known & ~legal).any()
    assert out.policy.sum(1).tolist() == pytest.approx([1.0] * B)
    assert (out.policy * ~state.legal_action_mask).sum() == 0
    assert state.legal_action_mask.gather(1, out.action[:, None]).all()


@pytest.mark.parametrize("game_id", ["tictactoe", "go"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sync_free_descent_is_the_same_search(algorithm, game_id):
    """``sync_free`` (a fixed number of masked descent steps, no host sync) builds the very trees
    the stop-when-done descent builds, including trees deeper than a few levels."""
    if game_id == "tictactoe":
        game, state = TTT, take(judge_positions().state, list(range(0, 4520, 97)))
    else:
        game, state = GO, cat([go_positions(3, 8, seed=5), GO.init(1)])
    evaluate = integer_evaluator(game, seed=6)
    outs = []
    for free in (False, True):
        torch.manual_seed(8)  # PUCT's root Dirichlet noise comes from the global generator
        outs.append(search(game, state, evaluate, MCTSConfig(simulations=24, algorithm=algorithm, sync_free=free),
                           explore=True, generator=torch.Generator().manual_seed(7)))
    for field in ("visits", "value_sum", "children", "parent", "terminal"):
        assert torch.equal(getattr(outs[0].tree, field), getattr(outs[1].tree, field)), field
    assert torch.equal(outs[0].action, outs[1].action) and torch.equal(outs[0].policy, outs[1].policy)
    parent, depth = outs[0].tree.parent, torch.zeros_like(outs[0].tree.parent)
    for _ in range(24):  # depth of every node by following parent links
        depth = torch.where(parent >= 0, depth.gather(1, parent.clamp(min=0)) + 1, depth)
    # past the first levels: Gumbel's root on Go spreads 24 simulations over 16 actions
    assert depth.max() >= (2 if (algorithm, game_id) == ("gumbel", "go") else 4)
