"""The training paths on CUDA (skipped without a GPU): AlphaZero self-play and learning, and a
supervised script with mixed precision; what they save loads on the CPU."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_alphazero_trains_on_cuda_and_loads_on_cpu(tmp_path: Path) -> None:
    from agents.alphazero import AlphaZeroConfig
    from agents.mcts import MCTSConfig
    from arena.selfplay.alphazero import TrainOptions, judge_solved, load_network, train

    cfg = AlphaZeroConfig(games=64, search=MCTSConfig(simulations=8), play_simulations=8, min_buffer=128)
    final = train(cfg, TrainOptions(seconds=8, eval_every=4, eval_games=10, device="cuda"), tmp_path)
    assert final["step"] > 0 and final["positions"] > 0
    game, net, _ = load_network(tmp_path, "cpu")
    assert 0.0 <= judge_solved(game, net, None) <= 1.0
    assert next(net.parameters()).device.type == "cpu"


def test_supervised_cnn_on_cuda_with_mixed_precision(tmp_path: Path) -> None:
    from arena.supervised.cnn import CnnCommand, run_cnn
    from arena.supervised.common import Common
    from nets.supervised.cnn import CNNTask

    task = CNNTask()
    task = dataclasses.replace(task, train=dataclasses.replace(task.train, device="cuda", amp=True))
    run = run_cnn(CnnCommand(task=task, common=Common(quick=True, run_dir=tmp_path / "run", progress=False)))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["device"] == "cuda"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_graphed_search_replays_the_eager_search() -> None:
    """The CUDA-graph search gives the eager search's answer for the same root noise, for two
    different batches of positions through one captured graph; self-play runs on it."""
    import envs
    from agents.alphazero import AlphaZeroConfig, SelfPlay, make_network
    from agents.mcts import MCTSConfig, network_evaluator, search
    from agents.mcts_graph import GraphedSearch
    from agents.selection import gumbel_noise
    from envs import core

    game = envs.make("go", size=9)
    cfg = AlphaZeroConfig(game="go", size=9, games=8, blocks=2, channels=32,
                          search=MCTSConfig(simulations=16, sync_free=True, cuda_graph=True))
    torch.manual_seed(0)
    net = make_network(game, cfg).cuda().eval()
    evaluate = network_evaluator(game, net)
    g = torch.Generator("cuda").manual_seed(1)
    state = game.init(8, "cuda")
    graphed = GraphedSearch(game, evaluate, cfg.search, state, explore=True)
    for _ in range(2):
        state = game.step(state, core.random_actions(state, g), checked=False)
        noise_rng = torch.Generator("cuda").manual_seed(2)
        out = graphed(state, noise_rng)
        noise = gumbel_noise(torch.zeros(8, game.num_actions, device="cuda"), torch.Generator("cuda").manual_seed(2))
        eager = search(game, state, evaluate, cfg.search, explore=True, gumbel=noise)
        assert torch.equal(out.action, eager.action)
        assert torch.allclose(out.policy, eager.policy, atol=1e-5)
        assert torch.equal(out.visits, eager.visits)
    selfplay = SelfPlay(game, cfg, torch.device("cuda"), torch.Generator("cuda").manual_seed(3))
    for _ in range(3):
        selfplay.step(net)
    assert selfplay._graph is not None and int(selfplay.length.max()) >= 1
