"""Ray self-play scaling: positions/s with 1 and 2 (or more) local workers, and the learner's
consumption rate, as JSON lines.

Rows (``"bench": "distributed"``):

- ``single``: the peer, self-play in this one process (``SelfPlay.step`` in a loop, the same
  config, no Ray), positions per second after a warm-up step.
- ``ray``: ``arena.selfplay.distributed.train_distributed`` with N workers and no learning
  (``replay_ratio=0``, so the workers never wait for the learner), positions per second of
  the training clock (which starts once every worker is up), per worker and in all, and the
  ratio to 1 worker and to ``single``.
- ``learner``: gradient steps per second of ``train_step`` on a full buffer, and the
  self-play rate it can absorb at the config's replay ratio:
  ``steps/s * batch_size / replay_ratio`` positions/s.
- ``cluster``: on paper, how many workers one learner can feed at the measured per-worker and
  consumption rates (beyond that, workers wait for the learner: the replay ratio holds).
- ``ddp``: ``arena train <game> --nproc N`` (torch DDP: each process self-plays into its own
  buffer and learns on its shard of every batch), learning on at the preset's replay ratio:
  positions and gradient steps per training second, and the ratio to ``--nproc 1`` (the same
  command in one process). ``--nproc`` counts to measure: ``--nprocs 1 2``; none skips.

    python benchmarks/distributed.py                        # tic-tac-toe preset, 1 and 2 workers, 20 s each
    python benchmarks/distributed.py --workers 1 2 4 --seconds 30
    python benchmarks/distributed.py --game go --size 9 --games 64 --simulations 16
    python benchmarks/distributed.py --workers --nprocs 1 2   # only the DDP rows
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import tyro

from agents.alphazero import PositionBuffer, SelfPlay, make_network, make_optimizer, train_step
from arena.commands.train import preset
from arena.selfplay.alphazero import TrainOptions


@dataclass(frozen=True)
class Config:
    game: Literal["tictactoe", "go"] = "tictactoe"
    """Which preset (arena.commands.train.preset)."""
    size: int = 9
    """Go board size."""
    games: int | None = None
    """Self-play games per worker (default: the preset's)."""
    simulations: int | None = None
    """Search simulations per move (default: the preset's)."""
    workers: tuple[int, ...] = (1, 2)
    """Worker counts to measure."""
    seconds: float = 20.0
    """Measured self-play seconds per row."""
    learner_steps: int = 50
    """Gradient steps timed for the learner row."""
    nprocs: tuple[int, ...] = (1, 2)
    """``arena train --nproc`` counts to measure (DDP rows)."""


def main(cfg: Config) -> None:
    torch.set_num_threads(1)
    az = preset(cfg.game, cfg.size).cfg
    search = az.search if cfg.simulations is None else dataclasses.replace(az.search, simulations=cfg.simulations)
    az = dataclasses.replace(az, search=search, **({"games": cfg.games} if cfg.games else {}))
    machine = {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "torch": torch.__version__}
    base = {"bench": "distributed", "game": cfg.game + (str(cfg.size) if cfg.game == "go" else ""),
            "games": az.games, "simulations": az.search.simulations, **machine}

    for n, row in _ddp_rows(cfg, az):
        print(json.dumps({**base, "row": "ddp", "nproc": n, **row}), flush=True)
    if not cfg.workers:
        return
    single = _single_rate(az, cfg.seconds)
    print(json.dumps({**base, "row": "single", "positions_per_s": round(single, 1)}), flush=True)

    from arena.selfplay.distributed import train_distributed

    rates: dict[int, float] = {}
    for n in cfg.workers:
        opts = TrainOptions(seconds=cfg.seconds, eval_every=1e9, eval_games=2, replays_per_eval=0)
        with tempfile.TemporaryDirectory() as tmp:
            final = train_distributed(dataclasses.replace(az, replay_ratio=0.0, play_simulations=2), opts, Path(tmp),
                                      workers=n)
        rates[n] = final["positions"] / final["train_seconds"]
        per = [round(final[f"positions_worker_{i}"] / final["train_seconds"], 1) for i in range(n)]
        print(json.dumps({**base, "row": "ray", "workers": n, "positions_per_s": round(rates[n], 1),
                          "per_worker": per, "vs_1_worker": round(rates[n] / rates[min(rates)], 2),
                          "vs_single": round(rates[n] / single, 2)}), flush=True)

    steps_per_s = _learner_rate(az, cfg.learner_steps)
    consume = steps_per_s * az.batch_size / az.replay_ratio
    print(json.dumps({**base, "row": "learner", "steps_per_s": round(steps_per_s, 2), "batch_size": az.batch_size,
                      "replay_ratio": az.replay_ratio, "consumes_positions_per_s": round(consume, 1)}), flush=True)
    per_worker = rates[min(rates)] / min(rates)
    print(json.dumps({**base, "row": "cluster", "per_worker_positions_per_s": round(per_worker, 1),
                      "workers_one_learner_feeds": round(consume / per_worker, 1)}), flush=True)


def _ddp_rows(cfg: Config, az) -> list[tuple[int, dict]]:
    """``arena train --nproc N`` for each N: positions and steps per training second."""
    rows, base = [], None
    for n in cfg.nprocs:
        with tempfile.TemporaryDirectory() as tmp:
            args = [sys.executable, "-m", "arena.cli", "train", cfg.game, "--nproc", str(n), "--seconds",
                    str(cfg.seconds), "--eval-every", "1e9", "--eval-games", "2", "--play-simulations", "2",
                    "--games", str(az.games), "--simulations", str(az.search.simulations), "--run-dir", tmp]
            args += ["--size", str(cfg.size)] if cfg.game == "go" else []
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            subprocess.run(args, env=env, check=True, capture_output=True, text=True)
            final = json.loads((Path(tmp) / "metrics.json").read_text())
        rate = {"positions_per_s": round(final["positions"] / final["train_seconds"], 1),
                "steps_per_s": round(final["step"] / final["train_seconds"], 2)}
        base = base or rate
        rows.append((n, {**rate, "vs_nproc_1": round(rate["positions_per_s"] / base["positions_per_s"], 2)}))
    return rows


def _single_rate(az, seconds: float) -> float:
    game = az.make_game()
    net = make_network(game, az).eval()
    sp = SelfPlay(game, az, torch.device("cpu"), torch.Generator().manual_seed(0))
    sp.step(net)  # warm-up
    positions, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        positions += len(sp.step(net).samples.value)
    return positions / (time.perf_counter() - start)


def _learner_rate(az, steps: int) -> float:
    game = az.make_game()
    net = make_network(game, az).eval()
    opt = make_optimizer(net, az)
    buffer = PositionBuffer(az.buffer_size, game.observation_shape, game.num_actions, torch.device("cpu"))
    sp, g = SelfPlay(game, az, torch.device("cpu"), torch.Generator().manual_seed(0)), torch.Generator().manual_seed(0)
    while buffer.size < az.batch_size * 4:
        buffer.add(sp.step(net).samples)
    train_step(net, opt, buffer, az, game.board_size, g)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        train_step(net, opt, buffer, az, game.board_size, g)
    return steps / (time.perf_counter() - start)


if __name__ == "__main__":
    main(tyro.cli(Config))
