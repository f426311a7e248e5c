"""Batched MCTS (agents/mcts.py) on real games: tic-tac-toe tactics and value signs, exhaustive
search (the exact solver) over all 4,520 tic-tac-toe positions, and on tic-tac-toe and 5x5 Go
batched against single searches, finished games, tree invariants and the sync-free descent.
The search math and the bandit stub with hand-derived visit counts are in tests/test_mcts.py.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
import torch

import envs
from agents.mcts import ROOT, UNVISITED, MCTSConfig, SearchOutput, rollout_evaluator, search
from envs import core
from envs.tictactoe_solver import judge_positions, optimal_actions, solve
from mcts_common import ALGORITHMS


# ----- evaluators, and what the root's children hold --------------------------------------------


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


def test_given_root_noise_replaces_the_drawn_noise():
    """``search(gumbel=noise)`` searches as if the generator had drawn ``noise`` (what a CUDA
    graph feeds in), and the CUDA-graph search refuses PUCT and CPU states."""
    from agents.mcts_graph import GraphedSearch
    from agents.selection import gumbel_noise

    game, state = GO, go_positions(3, 6, seed=2)
    evaluate = integer_evaluator(game, seed=4)
    cfg = MCTSConfig(simulations=16)
    drawn = search(game, state, evaluate, cfg, explore=True, generator=torch.Generator().manual_seed(5))
    noise = gumbel_noise(torch.zeros(3, game.num_actions), torch.Generator().manual_seed(5))
    given = search(game, state, evaluate, cfg, explore=True, gumbel=noise)
    assert torch.equal(drawn.action, given.action) and torch.equal(drawn.visits, given.visits)
    with pytest.raises(ValueError, match="Gumbel"):
        GraphedSearch(game, evaluate, MCTSConfig(algorithm="puct"), state)
    with pytest.raises(ValueError, match="CUDA"):
        GraphedSearch(game, evaluate, cfg, state)


def test_puct_self_play_is_reproducible_from_its_generator():
    """Dirichlet noise and visit sampling both come from the search's generator."""
    game = envs.make("go", size=5)
    state = game.init(8)
    evaluate = integer_evaluator(game, seed=3)
    cfg = MCTSConfig(simulations=12, algorithm="puct")

    def run(seed: int):
        torch.manual_seed(1000 + seed)  # the global generator differs every time: it must not matter
        return search(game, state, evaluate, cfg, explore=True, generator=torch.Generator().manual_seed(seed))

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a.action, b.action) and torch.equal(a.policy, b.policy)
    assert not torch.equal(a.tree.logits[:, 0], c.tree.logits[:, 0])  # other noise on the root priors


def test_gamma_draws_have_the_gamma_moments():
    from agents.selection import dirichlet_noise, gamma_sample

    g = torch.Generator().manual_seed(0)
    for alpha in (0.03, 0.3, 2.0):
        x = gamma_sample((100_000,), alpha, torch.device("cpu"), g)
        assert x.mean().item() == pytest.approx(alpha, rel=0.05) and x.var().item() == pytest.approx(alpha, rel=0.1)
    legal = torch.tensor([[True, False, True, True]] * 3)
    noise = dirichlet_noise(legal, 0.3, g)
    assert torch.allclose(noise.sum(-1), torch.ones(3)) and bool((noise[:, 1] == 0).all())


def test_rules_are_functions_the_loop_calls():
    """A rule set passed in replaces the configured one: here PUCT whose root always tries the
    first legal action, so every simulation goes below it."""
    from agents.mcts import RULES

    puct = RULES["puct"]

    def first_legal(tree, rows, gumbel, considered_visit, cfg):
        return tree.states["legal_action_mask"][:, 0].float().argmax(-1)

    rules = puct._replace(root_action=first_legal)
    out = search(TTT, TTT.init(2), zero_evaluator, MCTSConfig(simulations=6, algorithm="puct"), rules=rules)
    assert out.visits[:, 0].tolist() == [6.0, 6.0] and float(out.visits[:, 1:].sum()) == 0.0
