"""Beyond one machine: Ray self-play workers (arena/distributed.py) and torch DDP training
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
from arena.alphazero import TrainOptions
from nets.distributed import shard

ROOT = Path(__file__).resolve().parents[1]
TINY = AlphaZeroConfig(games=32, search=MCTSConfig(simulations=8), play_simulations=8, min_buffer=64, batch_size=64)


# ----- Ray self-play ------------------------------------------------------------------------


def test_ray_workers_feed_the_learner_and_survive_a_killed_worker(tmp_path):
    ray = pytest.importorskip("ray")
    from arena.distributed import train_distributed

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
    for name in ("latest.safetensors", "best.safetensors", "trainer.safetensors"):
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


def test_ddp_two_processes_match_one_process(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    runpy.run_path(str(script))["main"](str(one))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script), str(two)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = load_file(str(one / "fit.safetensors")), load_file(str(two / "fit.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    assert eval((one / "loss.txt").read_text()) == pytest.approx(eval((two / "loss.txt").read_text()), rel=1e-5)
    a, b = load_file(str(one / "mlp" / "model.safetensors")), load_file(str(two / "mlp" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
    assert json.loads((two / "mlp" / "metrics.json").read_text())["test_size"] == 300
