"""Device-agnostic rules: the same actions give the same games on CPU and CUDA (CUDA tests
skip without a GPU), and large batches (B = 8192) step correctly."""

from __future__ import annotations

import pytest
import torch

from envs import core
from envs.go import Go
from envs.tictactoe import TicTacToe

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def play_on(game, device: str, batch: int, moves: int, seed: int):
    """Random legal playout, actions drawn on the CPU so both devices see the same ones."""
    g = torch.Generator().manual_seed(seed)
    state = game.init(batch, device=device)
    trace = []
    for _ in range(moves):
        noise = torch.rand(state.legal_action_mask.shape, generator=g).to(device)
        action = torch.where(state.legal_action_mask, noise, -1.0).argmax(dim=1)
        state = game.step(state, action, checked=False)
        trace.append((state.legal_action_mask.cpu(), state.rewards.cpu(), state.terminated.cpu()))
        state = core.reset_finished(game, state)
    return state, trace


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("game", [TicTacToe(), Go(size=9), Go(size=19)], ids=["tictactoe", "go9", "go19"])
def test_cuda_matches_cpu(game) -> None:
    cpu_state, cpu_trace = play_on(game, "cpu", 64, 120, seed=1)
    gpu_state, gpu_trace = play_on(game, "cuda", 64, 120, seed=1)
    for (m1, r1, t1), (m2, r2, t2) in zip(cpu_trace, gpu_trace):
        assert torch.equal(m1, m2) and torch.equal(r1, r2) and torch.equal(t1, t2)
    assert torch.equal(cpu_state.board, gpu_state.board.cpu())


@pytest.mark.gpu
@cuda
def test_checked_step_on_cuda_raises_clearly() -> None:
    game = Go(size=9)
    state = game.step(game.init(1, device="cuda"), game.string_to_action("E5"))
    with pytest.raises(core.IllegalActionError, match="E5"):
        game.step(state, game.string_to_action("E5"))


def test_large_batch_steps() -> None:
    game = Go(size=9)
    state = game.init(8192)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        no_pass = state.legal_action_mask.clone()
        no_pass[:, -1] = False  # two passes would end some of 8192 games
        action = torch.where(no_pass, torch.rand(no_pass.shape, generator=g), -1.0).argmax(dim=1)
        state = game.step(state, action)
    assert state.board.shape == (8192, 81)
    assert torch.equal((state.board != 0).sum(dim=1), torch.full((8192,), 3))  # no capture yet
    assert bool(state.legal_action_mask[:, -1].all())  # pass stays legal while games run
