"""Beyond one machine: Ray self-play workers (arena/selfplay/distributed.py) and torch DDP training
(nets/distributed.py, arena/ddp.py), both on this machine's CPU."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agents.alphazero import AlphaZeroConfig
from agents.mcts import MCTSConfig
from arena.selfplay.alphazero import TrainOptions
from nets.distributed import shard

ROOT = Path(__file__).resolve().parents[1]
TINY = AlphaZeroConfig(games=32, search=MCTSConfig(simulations=8), play_simulations=8, min_buffer=64, batch_size=64)


# ----- Ray self-play ------------------------------------------------------------------------


def test_ray_workers_feed_the_learner_and_survive_a_killed_worker(tmp_path):
    ray = pytest.importorskip("ray")
    from arena.selfplay.distributed import train_distributed

    run = tmp_path / "run"
    killed: dict[str, int] = {}

    def progress(counters, row):
        if not killed and counters.step > 0:  # mid-run: kill worker 0's process outright
            actor = ray.get_actor(f"{run.resolve()}/selfplay-0")
            killed["pid"] = ray.get(actor.pid.remote())
            killed["step"] = counters.step
            os.kill(killed["pid"], signal.SIGKILL)

    opts = TrainOptions(seconds=8, eval_every=3, eval_games=10)
    final = train_distributed(TINY, opts, run, workers=2, progress=progress, task_seconds=0.3)
    assert killed, "no learner step happened"
    assert final["worker_restarts"] >= 1
    assert final["positions_worker_0"] > 0 and final["positions_worker_1"] > 0
    assert final["positions"] == final["positions_worker_0"] + final["positions_worker_1"]
    assert final["step"] > killed["step"]  # the run went on after the kill
    # The same run folder as the single-process path.
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and {"step", "wall_time", "win_random", "elo"} <= set(rows[-1])
    for name in ("latest.safetensors", "best.safetensors", "optimizer.safetensors", "buffer.safetensors"):
        assert (run / "checkpoints" / name).exists()
    saved = json.loads((run / "checkpoints" / "latest.json").read_text())["counters"]
    assert saved["step"] == final["step"]
    assert json.loads((run / "config.json").read_text())["distributed"]["workers"] == 2
    assert not ray.is_initialized()  # the local instance it started is gone


# ----- DDP ----------------------------------------------------------------------------------


def test_shard_weights_make_the_mean_exact():
    batch = (torch.arange(7.0),)
    parts = [shard(batch, r, 3) for r in range(3)]
    assert [p[0][0].tolist() for p in parts] == [[0, 1, 2], [3, 4], [5, 6]]
    # Averaging the weighted shard means over the ranks gives the whole batch's mean.
    assert sum(w * p[0].mean().item() for p, w in parts) / 3 == pytest.approx(3.0)
    tiny = [shard((torch.ones(1),), r, 2) for r in range(2)]
    assert [w for _, w in tiny] == [2.0, 0.0]


SCRIPT = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(1)


    def main(out):
        from arena import ddp
        from arena.supervised.common import Common, run_model
        from arena.supervised.mlp import MlpCommand
        from nets.mlp import MLP, MLPConfig
        from nets.supervised.mlp import MLPTask
        from nets.train import TrainConfig, classification_loss, fit

        rank, world = ddp.init_from_env() if ddp.under_torchrun() else (0, 1)
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(203, 10, generator=g), torch.randint(0, 3, (203,), generator=g)
        torch.manual_seed(rank)  # different inits: DDP starts every rank from rank 0's weights
        model = MLP(MLPConfig(in_features=10, out_features=3, hidden=(16,), activation="tanh", norm="none"))
        cfg = TrainConfig(epochs=3, batch_size=50, optimizer="adam", lr=1e-2, l2=1e-3, device="cpu")
        result = fit(model, (x, y), classification_loss(), cfg)
        if rank == 0:
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(Path(out) / "fit.safetensors"))
            (Path(out) / "loss.txt").write_text(repr([h["train_loss"] for h in result.history]))
        # The whole command: only rank 0 writes its run folder.
        task = MLPTask(depth=1, width=32, norm="none", dropout=0.0)
        run_model(MlpCommand(task=task, common=Common(quick=True, run_dir=Path(out) / "mlp", progress=False,
                                                      nproc=world)))


    if __name__ == "__main__":
        main(sys.argv[1])
''')


def _torchrun(script: Path, *args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", str(script), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _one_and_two_processes(tmp_path: Path, source: str) -> tuple[Path, Path]:
    """Run ``source``'s ``main(out)`` in this process into ``one/`` and under torchrun with 2
    processes into ``two/``."""
    script = tmp_path / "ddp_script.py"
    script.write_text(source)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    runpy.run_path(str(script))["main"](str(one))
    proc = _torchrun(script, str(two))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return one, two


def test_ddp_two_processes_match_one_process(tmp_path):
    one, two = _one_and_two_processes(tmp_path, SCRIPT)
    a, b = load_file(str(one / "fit.safetensors")), load_file(str(two / "fit.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    assert eval((one / "loss.txt").read_text()) == pytest.approx(eval((two / "loss.txt").read_text()), rel=1e-5)
    a, b = load_file(str(one / "mlp" / "model.safetensors")), load_file(str(two / "mlp" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    assert json.loads((two / "mlp" / "metrics.json").read_text())["test_size"] == 300


AZ_SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(1)


    def main(out):
        from arena import ddp

        rank, world = ddp.init_from_env() if ddp.under_torchrun() else (0, 1)
        state = train(rank, world)  # the DDP wrapper is gone before the group shuts down
        if rank == 0:
            save_file(state, str(Path(out) / "net.safetensors"))
        ddp.shutdown()


    def train(rank, world):
        from agents.alphazero import AlphaZeroConfig, Samples, learn, make_network, make_optimizer
        from envs.tictactoe import TicTacToe
        from nets.distributed import data_parallel, shard

        cfg = AlphaZeroConfig(blocks=1, channels=8, lr=1e-2)
        game = TicTacToe()
        torch.manual_seed(rank)  # different inits: DDP starts every rank from rank 0's weights
        net = make_network(game, cfg)
        optimizer = make_optimizer(net, cfg)
        trainee = data_parallel(net, torch.device("cpu"))
        g = torch.Generator().manual_seed(0)
        for _ in range(3):  # the same global batches everywhere; 61 rows split 31/30
            obs = torch.randint(0, 2, (61, *game.observation_shape), generator=g, dtype=torch.uint8)
            policy = torch.softmax(torch.randn(61, game.num_actions, generator=g), -1)
            value = torch.randint(-1, 2, (61,), generator=g).float()
            part, weight = shard((obs, policy, value), rank, world)
            learn(trainee, optimizer, Samples(*part), weight)
        return {k: v.contiguous() for k, v in net.state_dict().items()}


    if __name__ == "__main__":
        main(sys.argv[1])
''')


def test_alphazero_learner_two_processes_match_one_process(tmp_path):
    """The AlphaZero learner's step under DDP (batch norm synchronized over gloo) leaves the
    same weights and batch-norm statistics as one process on the whole batch."""
    one, two = _one_and_two_processes(tmp_path, AZ_SCRIPT)
    a, b = load_file(str(one / "net.safetensors")), load_file(str(two / "net.safetensors"))
    assert any("running_var" in key for key in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4, msg=key)


def test_global_batch_norm_is_plain_batch_norm_in_one_process():
    from nets.distributed import GlobalBatchNorm, global_batch_norm

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    reference = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    reference.load_state_dict(model.state_dict())
    weight = model[1].weight
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # made before the swap: must still train it
    global_batch_norm(model)
    assert model[1].weight is weight and optimizer.param_groups[0]["params"][2] is weight
    assert isinstance(model[1], GlobalBatchNorm) and set(model.state_dict()) == set(reference.state_dict())
    x = torch.randn(5, 2, 6, 6)
    torch.testing.assert_close(model(x), reference(x))
    torch.testing.assert_close(model[1].running_var, reference[1].running_var)


def test_without_nproc_keeps_every_other_argument():
    from arena.ddp import without_nproc

    argv = ["train", "go", "--nproc", "2", "--seconds", "5", "--nproc=3", "--common.nproc", "4", "--run-dir", "x"]
    assert without_nproc(argv) == ["train", "go", "--seconds", "5", "--run-dir", "x"]


def test_arena_train_nproc_two_writes_one_run_folder(tmp_path):
    """``arena train tictactoe --nproc 2``: two processes through torchrun, one run folder
    (rank 0's) with the positions of both, and a run that resumes."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "arena.cli", "train", "tictactoe", "--nproc", "2", "--seconds", "2",
            "--eval-every", "10", "--eval-games", "4", "--games", "16", "--simulations", "4",
            "--play-simulations", "4", "--run-dir", str(run)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = json.loads((run / "metrics.json").read_text())
    assert final["step"] > 0 and final["games"] > 0
    assert "run folder" in proc.stdout and proc.stdout.count("run folder") == 1  # rank 0 alone reports
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no folder from the other rank
    proc = subprocess.run([*args, "--resume", "--seconds", "3.5"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    resumed = json.loads((run / "metrics.json").read_text())
    assert resumed["step"] > final["step"] and resumed["games"] > final["games"]
