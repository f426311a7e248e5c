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


def _scripted_playout(game, batch: int):
    """One self-play-like step with deterministic pseudo-random legal moves (no generator),
    so a CUDA graph replay and eager execution must give identical games."""
    def advance(state):
        A = state.legal_action_mask.shape[1]
        idx = torch.arange(A, device=state.board.device)
        rows = torch.arange(batch, device=state.board.device)[:, None]
        w = torch.sin(state.move_count[:, None].float() * 1.7 + idx * 0.37 + rows * 0.11)
        action = torch.where(state.legal_action_mask, w, -2.0).argmax(dim=1)
        return core.reset_finished(game, game.step(state, action, checked=False))
    return advance


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("game", [TicTacToe(), Go(size=9)], ids=["tictactoe", "go9"])
def test_cuda_graph_loop_matches_eager(game) -> None:
    batch, steps = 256, 300
    advance = _scripted_playout(game, batch)
    eager = game.init(batch, device="cuda")
    for _ in range(steps + 3):  # cuda_graph_loop warms up 3 steps before capturing
        eager = advance(eager)
    replay, graphed = core.cuda_graph_loop(advance, game.init(batch, device="cuda"), warmup=3)
    for _ in range(steps):  # capture records kernels without running them
        replay()
    torch.cuda.synchronize()
    assert torch.equal(graphed.board, eager.board)
    assert torch.equal(graphed.legal_action_mask, eager.legal_action_mask)
    assert torch.equal(graphed.move_count, eager.move_count)
    assert int(eager.move_count.min()) < steps  # games ended and were reset along the way


@pytest.mark.parametrize("game", [TicTacToe(), Go(size=9), Go(size=5)], ids=["tictactoe", "go9", "go5"])
def test_sync_free_path_matches_eager(game, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path a CUDA graph captures (no early exits, Go scored by closure) gives the same
    games as the eager one; checked here on the CPU, so it runs without a GPU."""
    batch = 64
    advance = _scripted_playout(game, batch)
    eager, sync_free = game.init(batch), game.init(batch)
    for _ in range(250):
        eager = advance(eager)
        monkeypatch.setattr(core, "_sync_free", True)
        sync_free = advance(sync_free)
        monkeypatch.setattr(core, "_sync_free", False)
        for name in ("board", "rewards", "terminated", "legal_action_mask"):
            assert torch.equal(getattr(eager, name), getattr(sync_free, name)), name
    assert int(eager.move_count.min()) < 250  # games ended (and were scored) along the way


@pytest.mark.gpu
@cuda
def test_cuda_graph_replay_survives_dropping_the_state() -> None:
    """The replay keeps the captured state's memory alive; other allocations cannot reuse it."""
    game = Go(size=9)
    advance = _scripted_playout(game, 256)
    replay, _ = core.cuda_graph_loop(advance, game.init(256, device="cuda"))
    junk = [torch.full((256, 200), 10**6, dtype=torch.long, device="cuda") for _ in range(64)]
    for _ in range(300):
        replay()
    torch.cuda.synchronize()
    state = replay.state
    assert bool(((state.board >= -1) & (state.board <= 1)).all())
    assert bool(((state.chain >= 0) & (state.chain <= 81)).all())
    del junk
