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
    from arena.alphazero import TrainOptions, judge_tictactoe, load_network, train

    cfg = AlphaZeroConfig(games=64, search=MCTSConfig(simulations=8), play_simulations=8, min_buffer=128)
    final = train(cfg, TrainOptions(seconds=8, eval_every=4, eval_games=10, device="cuda"), tmp_path)
    assert final["step"] > 0 and final["positions"] > 0
    game, net, _ = load_network(tmp_path, "cpu")
    assert 0.0 <= judge_tictactoe(game, net, None) <= 1.0
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
