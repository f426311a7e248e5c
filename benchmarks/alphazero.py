"""AlphaZero: time to perfect tic-tac-toe, batched self-play throughput, and Go networks
against GNU Go, as JSON lines.

Three parts (``--part``; ``all`` is the first two, and the third when ``--networks`` are given):

- ``tictactoe``: the issue's goal, "perfect play in at most 60 s of training on 2 CPU cores with
  the default command". For each seed, ``arena.selfplay.alphazero.train`` runs the tic-tac-toe preset
  (``arena.commands.train.preset("tictactoe", 3)``, ``TrainOptions(seconds=60, seed=s)``) into a temporary
  run folder; the trained network (``checkpoints/latest.safetensors``) is then judged on all 4,520
  non-terminal positions against the exact solver, with its default play-time search
  (``optimal_search``) and as a raw policy argmax (``optimal_policy``), and plays 100 games against
  minimax (50 with each colour). The peer, alpha-zero-general's tic-tac-toe (about 30 minutes of
  CPU training), is a figure quoted from the literature, not measured here: its row says so.
- ``throughput``: positions per second of batched self-play
  (``agents.alphazero.SelfPlay(game, cfg, device, generator).step(net)``, one searched move in each
  of B games per step; a warm-up step is never timed) at B = 1, 64, 256, 1024, for Go 9x9 and
  tic-tac-toe. Each row gives the ratio to B = 1 (the sequential baseline: the same code, one game
  at a time) and, beside it, the network's own inference rate at that batch (evaluations per second
  of a forward pass on ``observe()`` planes, inference mode) with the ceiling it puts on self-play,
  ``evaluations/s / (simulations + 1)`` positions per second (one root and one leaf evaluation per
  simulation), and the fraction of that ceiling reached.
- ``gnugo``: issue 14's judge. Each of ``--networks`` (checkpoint files, snapshot files, or run
  folders, whose best network is taken) plays ``--gnugo-games`` games (default 40, half with each
  colour) against GNU Go at each of ``--levels`` (default 1) on the network's board, uncapped (komi
  from its config, 7.5 on 9x9; area scoring, positional superko), with its default play-time
  search (``--gnugo-simulations`` overrides the count). The games run at once
  (``arena.go.gnugo.play_gnugo_batched``: one GNU Go process per game, up to ``--processes``, our moves
  for all games in one batched search). One line per (network, level): wins/draws/losses, the win
  rate (draws as half) with its 95% Wilson interval (``arena.bots.elo.wilson_interval``), wins by
  colour, mean game length, the network's training seconds and games (its sidecar's ``counters``,
  else the run's ``metrics.jsonl`` at the last promotion, for a best network), wall seconds and the
  machine. ``--plot PATH`` draws the learning curve: win rate with interval bars against training
  hours, one line per level.

    python benchmarks/alphazero.py --part tictactoe                 # 60 s of training per seed
    python benchmarks/alphazero.py --part tictactoe --seeds 0 1 2 --seconds 60
    python benchmarks/alphazero.py --part throughput                # CPU, a few minutes
    python benchmarks/alphazero.py --part throughput --games go9 --batches 1 64 256 --steps 2
    python benchmarks/alphazero.py --part throughput --device cuda --batches 1 64 256 1024 4096
    python benchmarks/alphazero.py --part throughput --blocks 6 --channels 64
    python benchmarks/alphazero.py --part gnugo --networks arena/weights/go9           # 40 games, level 1
    python benchmarks/alphazero.py --part gnugo --networks runs/x/checkpoints/snapshots/*.safetensors \
        --levels 1 5 10 --plot gnugo-curve.png                                          # a learning curve
    python benchmarks/alphazero.py --part gnugo --networks arena/weights/go5 --gnugo-games 4 --gnugo-simulations 8

Run on a quiet machine (the training budget is wall-clock time); results and the machine are
recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import tyro

from agents.alphazero import AlphaZeroConfig, SelfPlay, make_network
from arena.commands.train import preset

GameId = Literal["go9", "tictactoe"]
PEER_TICTACTOE = {
    "impl": "alpha-zero-general", "source": "quoted, not measured",
    "training_minutes_cpu": 30,
    "note": "about 30 minutes of CPU training for alpha-zero-general's tic-tac-toe agent, the figure "
            "quoted for it (github.com/suragnair/alpha-zero-general); nothing of it is run here",
}


@dataclass(frozen=True)
class Config:
    """Options of the AlphaZero benchmark."""

    part: Literal["tictactoe", "throughput", "gnugo", "all"] = "all"
    """Which part to run."""
    seeds: tuple[int, ...] = (0,)
    """tictactoe: training seeds, one run each."""
    seconds: float | None = None
    """tictactoe: training budget per run (default: the preset's, that of `arena train tictactoe`)."""
    match_games: int = 100
    """tictactoe: games against minimax (half with each colour)."""
    games: tuple[GameId, ...] = ("go9", "tictactoe")
    """throughput: games to measure."""
    batches: tuple[int, ...] = (1, 64, 256, 1024)
    """throughput: self-play batch sizes B (B = 1 is the sequential baseline)."""
    simulations: int = 32
    """throughput: search simulations per move."""
    algorithm: Literal["gumbel", "puct"] | None = None
    """throughput: root rule of the search (default: the preset's)."""
    blocks: int | None = None
    """throughput: residual blocks (default: the preset's; Go 9x9: 4, tic-tac-toe: 2)."""
    channels: int | None = None
    """throughput: channels of the tower (default: the preset's; Go 9x9: 64, tic-tac-toe: 32)."""
    steps: int = 3
    """throughput: timed self-play steps per measurement (after one untimed warm-up step)."""
    step_budget: float = 20.0
    """throughput: fewer timed steps (at least one) when the warm-up step says ``steps`` would
    take longer than this many seconds (Go 9x9 at B = 1024 on a CPU)."""
    inference_seconds: float = 1.0
    """throughput: timed seconds of forward passes per inference-rate measurement."""
    sync_free: bool = False
    """throughput: the search's fixed-depth descent with no host sync (``MCTSConfig.sync_free``)."""
    cuda_graph: bool = False
    """throughput: self-play replays each search as one CUDA graph (``MCTSConfig.cuda_graph``;
    implies the sync-free descent; CUDA and Gumbel only)."""
    bf16: bool = False
    """throughput: self-play and the inference ceiling under bfloat16 autocast (CUDA; the tree
    arithmetic stays float32)."""
    device: Literal["cpu", "cuda"] = "cpu"
    """torch device (the training part uses it too)."""
    threads: int | None = None
    """torch.set_num_threads; None keeps torch's default (one per core)."""
    seed: int = 0
    """throughput: seed of the network and the self-play games; gnugo: GNU Go's seed of game 0."""
    networks: tuple[str, ...] = ()
    """gnugo: Go networks to judge: checkpoint or snapshot files, or run folders (their best network)."""
    levels: tuple[int, ...] = (1,)
    """gnugo: GNU Go levels (0..10) to play each network against."""
    gnugo_games: int = 40
    """gnugo: games per network and level (our network black in the even-numbered ones)."""
    gnugo_simulations: int | None = None
    """gnugo: search simulations per move (default: the network's play-time search)."""
    processes: int = 40
    """gnugo: the most GNU Go processes (games) at once."""
    plot: str | None = None
    """gnugo: write the learning curve (win rate against training hours, per level) to this PNG."""


# ----- tic-tac-toe: perfect play in 60 seconds ------------------------------------------------------


def tictactoe_run(cfg: Config, seed: int) -> dict[str, Any]:
    """Train the tic-tac-toe preset for ``cfg.seconds`` and judge the result."""
    from arena.bots.match import make_bot, play_match
    from arena.selfplay.alphazero import TrainOptions, judge_solved, load_network, search_bot, train

    az, seconds, eval_every = preset("tictactoe", 3)[:3]
    opts = TrainOptions(seconds=cfg.seconds or seconds, eval_every=eval_every, seed=seed, device=cfg.device)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        wall = time.perf_counter()
        final = train(az, opts, run)
        wall = time.perf_counter() - wall
        game, net, play_cfg = load_network(run / "checkpoints/latest.safetensors", cfg.device)
    search_cfg = play_cfg.play_search()
    t0 = time.perf_counter()
    optimal_search = judge_solved(game, net, search_cfg)
    optimal_policy = judge_solved(game, net, None)
    me, minimax = search_bot(game, net, search_cfg), make_bot("minimax", game, seed)
    result = play_match(game, (me, minimax), cfg.match_games, cfg.device)
    return {
        "bench": "alphazero", "part": "tictactoe", "impl": "arena", "seed": seed, "device": cfg.device,
        "optimal_search": optimal_search, "optimal_policy": optimal_policy,
        "perfect": optimal_search == 1.0 and optimal_policy >= 0.995 and result.losses == 0,
        "vs_minimax": {"games": result.games, "wins": result.wins, "draws": result.draws, "losses": result.losses},
        "train_seconds": round(final["train_seconds"], 2), "wall_seconds": round(wall, 2),
        "selfplay_seconds": final["selfplay_seconds"], "learn_seconds": final["learn_seconds"],
        "eval_seconds": final["eval_seconds"], "eval_share": round(final["eval_seconds"] / final["train_seconds"], 3),
        "judge_seconds": round(time.perf_counter() - t0, 2),
        "games": final["games"], "positions": final["positions"], "learner_steps": final["step"],
        "play_search": {"algorithm": search_cfg.algorithm, "simulations": search_cfg.simulations},
        "peer": PEER_TICTACTOE,
        "train_time_ratio_vs_peer_quoted": round(final["train_seconds"] / 60 / PEER_TICTACTOE["training_minutes_cpu"], 4),
    }


# ----- throughput: batched self-play against the sequential baseline and the network's ceiling ------


def throughput_config(game_id: GameId, batch: int, cfg: Config) -> AlphaZeroConfig:
    """The game's preset with the batch, search and network of this measurement."""
    az = preset("go", 9)[0] if game_id == "go9" else preset("tictactoe", 3)[0]
    search = dataclasses.replace(az.search, simulations=cfg.simulations, sync_free=cfg.sync_free or cfg.cuda_graph,
                                 cuda_graph=cfg.cuda_graph,
                                 **({"algorithm": cfg.algorithm} if cfg.algorithm else {}))
    net = {k: v for k, v in {"blocks": cfg.blocks, "channels": cfg.channels}.items() if v is not None}
    # Every move searched in full and no resignation: the rate of one search configuration.
    return dataclasses.replace(az, games=batch, search=search, full_search_fraction=1.0, resign_threshold=0.0, **net)


def selfplay_rate(az: AlphaZeroConfig, cfg: Config, device: torch.device) -> dict[str, Any]:
    """Self-play positions/s at ``az.games`` and the network's inference rate at that batch, both
    at one precision (``cfg.bf16``: bfloat16 autocast)."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        return _selfplay_rate(az, cfg, device)


def _selfplay_rate(az: AlphaZeroConfig, cfg: Config, device: torch.device) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    game = az.make_game()
    net = make_network(game, az).to(device).eval()
    selfplay = SelfPlay(game, az, device, torch.Generator(device).manual_seed(cfg.seed))
    sync = _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync()
    t0 = time.perf_counter()
    selfplay.step(net)  # warm-up, untimed
    sync()
    warm = time.perf_counter() - t0
    steps = max(1, min(cfg.steps, math.floor(cfg.step_budget / max(warm, 1e-9))))
    t0 = time.perf_counter()
    for _ in range(steps):
        selfplay.step(net)
    sync()
    elapsed = time.perf_counter() - t0
    row: dict[str, Any] = {"timed_steps": steps, "step_seconds": round(elapsed / steps, 4),
                           "positions_per_s": az.games * steps / elapsed, "warmup_seconds": round(warm, 3)}
    if device.type == "cuda":
        row["peak_memory_mib_selfplay"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    row["evaluations_per_s"] = inference_rate(game, net, selfplay.state, cfg.inference_seconds, device)
    row["parameters"] = sum(p.numel() for p in net.parameters())
    return row


@torch.inference_mode()
def inference_rate(game: Any, net: torch.nn.Module, state: Any, seconds: float, device: torch.device) -> float:
    """Evaluations/s of ``net`` on ``game.observe(state)`` planes at the state's batch: one
    untimed pass, then as many passes as last ``seconds`` (calibrated on the first)."""
    planes = game.observe(state)
    sync = _sync(device)
    net(planes)
    sync()
    n, elapsed = 1, 0.0
    while elapsed < 0.1 * seconds:
        t0 = time.perf_counter()
        for _ in range(n):
            net(planes)
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed < 0.1 * seconds:
            n *= 2
    n = max(1, math.ceil(seconds * n / max(elapsed, 1e-9)))
    t0 = time.perf_counter()
    for _ in range(n):
        net(planes)
    sync()
    return planes.shape[0] * n / (time.perf_counter() - t0)


def throughput(cfg: Config) -> None:
    device = torch.device(cfg.device)
    for game_id in cfg.games:
        baseline = None
        for batch in sorted(cfg.batches):
            az = throughput_config(game_id, batch, cfg)
            m = selfplay_rate(az, cfg, device)
            if batch == 1:
                baseline = m["positions_per_s"]
            ceiling = m["evaluations_per_s"] / (az.search.simulations + 1)
            emit({
                "part": "throughput", "game": game_id, "impl": "arena", "device": device.type, "batch": batch,
                "simulations": az.search.simulations, "algorithm": az.search.algorithm,
                "sync_free": cfg.sync_free or cfg.cuda_graph, "cuda_graph": cfg.cuda_graph and device.type == "cuda",  # the CPU runs it eagerly
                "bf16": cfg.bf16,
                "blocks": az.blocks, "channels": az.channels, "threads": torch.get_num_threads(),
                "positions_per_s": round(m["positions_per_s"], 2),
                "baseline": "arena B=1 (sequential)",
                "ratio_vs_b1": round(m["positions_per_s"] / baseline, 2) if baseline else None,
                "evaluations_per_s": round(m["evaluations_per_s"], 1),
                "ceiling_positions_per_s": round(ceiling, 2),
                "fraction_of_ceiling": round(m["positions_per_s"] / ceiling, 3),
                **{k: v for k, v in m.items() if k not in ("positions_per_s", "evaluations_per_s")},
            })


# ----- gnugo: win rates against GNU Go with intervals, and the learning curve -----------------------


def gnugo_rows(cfg: Config, path: str, report: bool = True) -> list[dict[str, Any]]:
    """Judge the network at ``path`` against GNU Go at every level of ``cfg.levels``: one
    row per level, emitted (unless ``report`` is False) and returned, for the plot."""
    import envs
    from arena.bots.elo import wilson_interval
    from arena.go.gnugo import play_gnugo_batched
    from arena.selfplay.alphazero import load_network, search_bot

    _, net, az = load_network(path, cfg.device)
    if az.game != "go":
        raise SystemExit(f"{path} plays {az.game}, not Go: GNU Go judges Go networks only")
    game = envs.make_uncapped("go", size=az.size, komi=az.komi)  # matches play by the rules alone
    search_cfg = az.play_search()
    if cfg.gnugo_simulations is not None:
        search_cfg = dataclasses.replace(search_cfg, simulations=cfg.gnugo_simulations)
    bot, counters = search_bot(game, net, search_cfg), training_counters(Path(path))
    rows = []
    for level in cfg.levels:
        t0 = time.perf_counter()
        result = play_gnugo_batched(bot, game, cfg.gnugo_games, level, seed=cfg.seed, processes=cfg.processes,
                                    device=cfg.device)
        wall = time.perf_counter() - t0
        interval = wilson_interval(result.wins + 0.5 * result.draws, result.games)
        by_colour = {c: [r.outcome for r in result.records if r.our_colour == c] for c in ("black", "white")}
        seconds = counters.get("train_seconds")
        row = {
            "part": "gnugo", "network": str(path), "level": level, "size": game.board_size, "komi": game.komi,
            "games": result.games, "wins": result.wins, "draws": result.draws, "losses": result.losses,
            "win_rate": round(result.score, 4), "ci95": [round(interval.low, 4), round(interval.high, 4)],
            "at_least_half": 2 * result.wins >= result.games,
            **{f"wins_{c}": outcomes.count(1) for c, outcomes in by_colour.items()},
            **{f"games_{c}": len(outcomes) for c, outcomes in by_colour.items()},
            **{f"mean_margin_{c}": _mean([r.score if c == "black" else -r.score for r in result.records
                                          if r.our_colour == c]) for c in ("black", "white")},
            "mean_moves": round(sum(len(r.moves) for r in result.records) / max(result.games, 1), 1),
            "resignations": sum(r.ended_by == "resignation" for r in result.records),
            "train_seconds": seconds, "train_hours": None if seconds is None else round(seconds / 3600, 4),
            "train_games": counters.get("games"), "counters_from": counters.get("from"),
            "simulations": search_cfg.simulations, "algorithm": search_cfg.algorithm, "processes": cfg.processes,
            "device": cfg.device, "wall_seconds": round(wall, 2), "machine": machine(),
        }
        if report:
            emit(row)
        rows.append(row)
    return rows


def _mean(values: list[float]) -> float | None:
    """The mean rounded to 0.1 point (None for no values): our final margin per colour."""
    return round(sum(values) / len(values), 1) if values else None


def training_counters(path: Path) -> dict[str, Any]:
    """``{"train_seconds", "games", "from"}`` of the network at ``path`` (file or run folder):
    its sidecar's ``counters`` (latest and snapshot files), else, for a run's best network, the
    run's ``metrics.jsonl`` at its last promotion; ``{}`` when neither says."""
    from arena.io.checkpoint import read_sidecar

    file = path / "checkpoints" / "best.safetensors" if path.is_dir() else path
    counters = read_sidecar(file).get("counters")
    if counters:
        return {"train_seconds": counters.get("train_seconds"), "games": counters.get("games"), "from": "sidecar"}
    log = file.parent.parent / "metrics.jsonl"
    if file.stem != "best" or not log.exists():
        return {}
    promoted = [row for row in map(json.loads, log.read_text().splitlines()) if row.get("promoted")]
    if not promoted:
        return {}
    return {"train_seconds": promoted[-1].get("train_seconds"), "games": promoted[-1].get("games"),
            "from": "metrics.jsonl (last promotion)"}


def plot_gnugo_curve(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Win rate (95% Wilson bars) against training hours, one line per GNU Go level; rows
    without training seconds are left out."""
    from arena.io.runs import save_figure

    import matplotlib.pyplot as plt  # after arena.io.runs chose the Agg backend

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for level in sorted({row["level"] for row in rows}):
        points = sorted((row["train_hours"], row["win_rate"], *row["ci95"]) for row in rows
                        if row["level"] == level and row["train_hours"] is not None)
        if not points:
            continue
        hours, rate, low, high = (list(column) for column in zip(*points))
        ax.errorbar(hours, rate, yerr=[[r - lo for r, lo in zip(rate, low)], [hi - r for r, hi in zip(rate, high)]],
                    marker="o", capsize=3, label=f"GNU Go level {level}")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_ylim(0, 1)
    if rows:
        ax.set_title(f"Go {rows[0]['size']}x{rows[0]['size']}, komi {rows[0]['komi']:g}: {rows[0]['games']} games per point")
    ax.set_xlabel("training hours")
    ax.set_ylabel("win rate against GNU Go (95% interval)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return save_figure(fig, Path(path))


# ----- machine and output ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")),
                     platform.processor())
    except OSError:
        model = platform.processor()
    info: dict[str, Any] = {"cpu": model, "cpu_count": os.cpu_count(), "torch": torch.__version__,
                            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                            "date": datetime.date.today().isoformat(), "loadavg_1min": os.getloadavg()[0]}
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


def emit(row: dict[str, Any]) -> None:
    """Print one JSON line and flush, so a long run shows progress."""
    print(json.dumps({"bench": "alphazero", **row}), flush=True)


def _sync(device: torch.device) -> Any:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def main(cfg: Config) -> None:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False on this machine")
    if min(cfg.batches, default=0) < 1 or cfg.steps < 1 or cfg.simulations < 1:
        raise SystemExit("need --batches >= 1, --steps >= 1 and --simulations >= 1")
    if cfg.part == "gnugo" and not cfg.networks:
        raise SystemExit("--part gnugo needs --networks (checkpoint files, snapshots or run folders)")
    if cfg.networks and (cfg.gnugo_games < 1 or cfg.processes < 1):
        raise SystemExit("need --gnugo-games >= 1 and --processes >= 1")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    emit({"machine": machine(), "config": dataclasses.asdict(cfg)})
    if cfg.part in ("tictactoe", "all"):
        for seed in cfg.seeds:
            print(json.dumps(tictactoe_run(cfg, seed)), flush=True)
    if cfg.part in ("throughput", "all"):
        throughput(cfg)
    if cfg.part == "gnugo" or (cfg.part == "all" and cfg.networks):
        rows = [row for path in cfg.networks for row in gnugo_rows(cfg, path)]
        if cfg.plot is not None:
            plot_gnugo_curve(rows, cfg.plot)


if __name__ == "__main__":
    main(tyro.cli(Config))
