"""How long a person waits for the shipped 9x9 agent: seconds per move at its default play-time
search, one game position at a time (B=1) on one CPU core, beside GNU Go's ``genmove`` on the
same positions (issue 14's goal: <= 1 s per move).

The positions are those of one game the agent plays against itself by its own moves (from the
empty board, ``--moves`` moves). For each, ours is ``SearchPlayer.act`` (search + the thinking it
shows), timed from the call to the move; GNU Go at ``--level`` is timed from ``genmove`` sent to
its answer, after the same moves were replayed into it with ``play`` (untimed). Every ``--repeat``
is a fresh pass over the positions; rows report the median, 90th percentile and maximum.

    python benchmarks/go_latency.py                                   # shipped go9, 40 moves, level 1
    python benchmarks/go_latency.py --network runs/x --moves 60 --levels 1 10
    python benchmarks/go_latency.py --no-gnugo
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

from arena.bots.networks import search_player
from arena.bots.players import shipped_network
from arena.go.gnugo import GtpClient, find_gnugo, gnugo_command
from envs.spec import GameSpec


@dataclass(frozen=True)
class Args:
    network: str | None = None
    """Checkpoint or run folder (default: the shipped 9x9 network, arena/weights/go9)."""
    size: int = 9
    komi: float = 7.5
    moves: int = 40
    """Positions timed: the first this many moves of the agent's game against itself."""
    simulations: int | None = None
    """Search per move (default: the network's play-time search)."""
    threads: int = 1
    """torch threads (the goal is stated for one core)."""
    levels: tuple[int, ...] = (1,)
    """GNU Go levels timed on the same positions."""
    no_gnugo: bool = False
    """Skip the peer (GNU Go not installed)."""
    seed: int = 0


def cpu_name() -> str:
    """``lscpu``'s model name (from /proc/cpuinfo), else the platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"median_s": round(statistics.median(ordered), 4),
            "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 4),
            "max_s": round(ordered[-1], 4), "moves": len(ordered)}


def time_ours(args: Args, path: Path) -> tuple[list[int], list[float]]:
    """The agent's own game, and the seconds of each of its moves."""
    game = GameSpec.of("go", size=args.size, komi=args.komi).uncapped().make()
    player = search_player(game, path, simulations=args.simulations, seed=args.seed)
    player.act(game, game.init(1))  # warm-up (first calls allocate), not timed
    state, moves, seconds = game.init(1), [], []
    for _ in range(args.moves):
        if bool(state.terminated[0]):
            break
        tick = time.perf_counter()
        action, _ = player.act(game, state)
        seconds.append(time.perf_counter() - tick)
        moves.append(action)
        state = game.step(state, torch.tensor([action]))
    return moves, seconds


def time_gnugo(args: Args, moves: list[int], level: int) -> list[float]:
    """GNU Go's ``genmove`` seconds on each position of ``moves`` (the moves played before it
    are sent with ``play``, untimed; its own answer is then undone)."""
    game = GameSpec.of("go", size=args.size, komi=args.komi).make()
    seconds = []
    with GtpClient(gnugo_command(args.size, args.komi, level, seed=args.seed)) as engine:
        for i, action in enumerate(moves):
            colour = "black" if i % 2 == 0 else "white"
            tick = time.perf_counter()
            engine.send(f"genmove {colour}")
            seconds.append(time.perf_counter() - tick)
            engine.send("undo")
            engine.send(f"play {colour} {game.action_to_string(action)}")
    return seconds


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    path = Path(args.network) if args.network else shipped_network("go", args.size)
    if path is None:
        raise SystemExit(f"no network ships for {args.size}x{args.size}: pass --network")
    machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": args.threads,
               "torch": torch.__version__}
    moves, ours = time_ours(args, path)
    row = {"bench": "go_latency", "impl": "arena", "network": str(path), "size": args.size, **summary(ours), **machine}
    print(json.dumps(row), flush=True)
    if args.no_gnugo or find_gnugo() is None:
        print(json.dumps({"bench": "go_latency", "impl": "gnugo", "skipped": "GNU Go not installed or --no-gnugo"}))
        return
    for level in args.levels:
        peer = summary(time_gnugo(args, moves, level))
        print(json.dumps({"bench": "go_latency", "impl": "gnugo", "level": level, "size": args.size, **peer,
                          "ratio_median_ours_vs_gnugo": round(row["median_s"] / max(peer["median_s"], 1e-9), 2)}),
              flush=True)


if __name__ == "__main__":
    main(tyro.cli(Args))
