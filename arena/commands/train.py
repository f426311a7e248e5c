"""``arena train <task>``: the command a person runs to train an agent.

``arena train tictactoe`` trains AlphaZero for 60 seconds with settings that reach perfect
play on two CPU cores; ``arena train go --size 5|7|9`` trains a Go network (a longer budget;
use ``--device cuda`` on a GPU). Every AlphaZero option left unset takes the game's preset.
``arena train CartPole-v1 --agent ppo`` (any Gymnasium id, or ``tictactoe`` with a model-free
agent) runs DQN / REINFORCE / A2C / PPO through :mod:`arena.rl.loop` with the defaults table
``agents/hyperparams.toml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, Literal, NamedTuple

import tyro

from agents.alphazero import AlphaZeroConfig
from agents.mcts import MCTSConfig


@dataclass(frozen=True)
class Train:
    """Train an agent: AlphaZero self-play on tictactoe/go (play it afterwards with ``arena play``),
    or DQN/REINFORCE/A2C/PPO on any Gymnasium task; writes a run folder (metrics, TensorBoard,
    plots, checkpoints)."""

    game: Annotated[str, tyro.conf.Positional] = "tictactoe"
    """What to learn: tictactoe, go, or a Gymnasium id such as CartPole-v1."""
    agent: Literal["alphazero", "dqn", "reinforce", "a2c", "ppo"] = "alphazero"
    """Learning algorithm (alphazero: tictactoe and go only)."""
    steps: int | None = None
    """Model-free agents: environment steps in total (default: the hyperparameter table's)."""
    opponent: Literal["random", "minimax", "self"] | None = None
    """Model-free agents on tictactoe: the opponent inside the environment (self: past copies
    of the learner, refreshed every 10 updates; evaluation then plays random)."""
    size: int = 9
    """Go board size (5..19)."""
    komi: float = 7.5
    """Go komi."""
    mixed_sizes: tuple[int, ...] | None = None
    """Go: more board sizes the same network self-plays beside --size (e.g. --size 9 --mixed-sizes 7;
    the 7x7/9x9 presets' global pooling network plays any size)."""
    seconds: float | None = None
    """Training budget in seconds (default: 65 for tic-tac-toe, 1800 for 5x5 Go, 3600 for 7x7,
    21600 for 9x9: the shipped network's recipe; --resume continues a run toward its budget)."""
    games: int | None = None
    """Self-play games in lockstep (the batch B)."""
    simulations: int | None = None
    """Search simulations per self-play move."""
    play_simulations: int | None = None
    """Search simulations per move when the agent plays (evaluation, play, GTP)."""
    search: Literal["gumbel", "puct"] | None = None
    """Root rule of the search."""
    blocks: int | None = None
    """Residual blocks of the network."""
    channels: int | None = None
    """Channels of the network."""
    eval_every: float | None = None
    """Training seconds between evaluations and checkpoints."""
    eval_games: int | None = None
    """Games per evaluation match (default: 100; 32 on 7x7 and 9x9 Go)."""
    threads: int | None = None
    """torch CPU threads (default: 1; every usable core for 7x7 and 9x9 Go)."""
    gating: bool = False
    """Promote a network to 'best' only when it scores >= 55% against the previous best."""
    gnugo_games: int = 0
    """Go: games against GNU Go at each evaluation (needs `apt-get install gnugo`; 0 skips)."""
    gnugo_level: int = 1
    """GNU Go's level (1..10)."""
    bootstrap: Literal["none", "gnugo"] = "none"
    """Go: gnugo first trains the network on GNU Go's games against itself (varied levels, random
    openings; needs `apt-get install gnugo`), then self-play goes on; the run's counters and
    checkpoints say it saw GNU Go data. none (the default): pure self-play ("zero")."""
    bootstrap_games: int = 400
    """Games of GNU Go against itself for --bootstrap gnugo."""
    seed: int = 0
    """Random seed."""
    device: str = "cpu"
    """torch device: cpu, cuda, or auto."""
    workers: int = 0
    """AlphaZero: self-play workers as Ray actors (pip install 'arena[distributed]'); 0: one process."""
    ray_address: str | None = None
    """AlphaZero: Ray cluster to join (auto or HOST:PORT); default with --workers: a local Ray instance."""
    nproc: int = 1
    """AlphaZero: data-parallel processes through torchrun (gloo on CPU, NCCL on GPUs), each
    with its own self-play games and a shard of every batch; one network, trained as one."""
    sync_batch_norm: bool = False
    """With --nproc: batch norm over the global batch (exactly one process's training; slower on
    CPU) instead of over each process's shard."""
    run_dir: Path | None = None
    """Run folder (default: runs/alphazero-<game>-<time>)."""
    resume: bool = False
    """Continue the run in --run-dir from its last checkpoint (same settings as it was started with)."""


class Preset(NamedTuple):
    """What ``arena train <game>`` runs when no flag says otherwise."""

    cfg: AlphaZeroConfig
    seconds: float
    """Training budget."""
    eval_every: float
    """Training seconds between evaluations."""
    threads: int = 1
    """torch threads (small tensors run fastest on one; 9x9's batched network is large enough
    for two: 1.7x the self-play moves per second on 2 AMD EPYC cores)."""
    eval_games: int = 100
    """Games per evaluation match."""
    snapshot_every: float = 0.0
    """Training seconds between kept copies of the network (a learning curve's points)."""


def preset(game: str, size: int) -> Preset:
    """The settings that work for ``game`` on a small CPU: its entry in :data:`PRESETS`, else
    (tic-tac-toe, or a game just added to envs/) the small-game recipe."""
    return PRESETS.get(game, small_game_preset)(game, size)


def small_game_preset(game: str, size: int) -> Preset:
    """Tic-tac-toe's recipe (perfect play in about a minute), chosen on a 2-core AMD EPYC VM,
    the slow case (README, BENCHMARKS.md); the starting point for any small board game."""
    cfg = AlphaZeroConfig(game=game, games=512, replay_ratio=16.0, lr=3e-3, lr_schedule="cosine",
                          eval_simulations=8)
    return Preset(cfg, 65.0, 32.5)


def go_preset(game: str, size: int) -> Preset:
    """Go's recipes by board size: 5x5's small network, and KataGo's efficiencies from 7x7 up."""
    if size < 7:  # the recipe of the shipped 5x5 network (arena/weights/go5)
        cfg = AlphaZeroConfig(game="go", size=size, blocks=3, channels=48, games=128, search=MCTSConfig(simulations=24),
                              play_simulations=64, buffer_size=100_000, batch_size=256, replay_ratio=2.0,
                              min_buffer=2048, lr=2e-3, random_opening=2)
        return Preset(cfg, 1800.0, 180.0)
    # 7x7 and up: KataGo's efficiencies (agents/alphazero.py): its global pooling network with
    # ownership and score targets, playout cap randomization (a quarter of the moves searched
    # 32 times, the rest 8), resignation with 10% of games played out; every usable core.
    # 9x9's budget is the 6 CPU hours of the shipped network (arena/weights/go9), over sessions
    # with --resume; stopped earlier, it is still a network that plays. Play-time search: 7x7
    # can afford 256 simulations within a second a move on one slow core (0.54 s median on the
    # AMD EPYC VM), which lifted the shipped 7x7 network from 15% to 50% against GNU Go level 1;
    # 9x9 keeps 64 (0.19 s on the Intel VM).
    cfg = AlphaZeroConfig(
        game="go", size=size, blocks=4, channels=64, games=256, search=MCTSConfig(simulations=32),
        play_simulations=256 if size < 9 else 64, eval_simulations=8, buffer_size=200_000, batch_size=256, replay_ratio=3.0,
        min_buffer=4096, lr=2e-3, lr_schedule="cosine", random_opening=4, global_pooling=True,
        ownership_weight=1.5, score_weight=0.5, full_search_fraction=0.25, cheap_simulations=8,
        resign_threshold=0.9, resign_playout=0.1,
    )
    seconds = 21_600.0 if size >= 9 else 3_600.0
    from arena.selfplay.alphazero import usable_cores

    return Preset(cfg, seconds, 600.0 if size >= 9 else 300.0, threads=usable_cores(), eval_games=32,
                  snapshot_every=1800.0 if size >= 9 else 600.0)


PRESETS: dict[str, Callable[[str, int], Preset]] = {"go": go_preset}
"""Game id -> its recipe ``(game, size) -> Preset``; games not named here get :func:`small_game_preset`."""


def build(cmd: Train) -> tuple[AlphaZeroConfig, Any]:
    """The AlphaZero config and run options of ``cmd`` (preset, then what was set)."""
    from arena.selfplay.alphazero import TrainOptions

    chosen = preset(cmd.game, cmd.size)
    cfg, seconds, eval_every, threads, eval_games = chosen[:5]
    search = cfg.search
    if cmd.simulations is not None:
        search = dataclasses.replace(search, simulations=cmd.simulations)
    if cmd.search is not None:
        search = dataclasses.replace(search, algorithm=cmd.search)
    overrides = {k: v for k, v in {"games": cmd.games, "play_simulations": cmd.play_simulations,
                                   "blocks": cmd.blocks, "channels": cmd.channels,
                                   "mixed_sizes": cmd.mixed_sizes}.items() if v is not None}
    cfg = dataclasses.replace(cfg, komi=cmd.komi, search=search, **overrides)
    opts = TrainOptions(seconds=cmd.seconds or seconds, eval_every=cmd.eval_every or eval_every,
                        eval_games=cmd.eval_games or eval_games, threads=cmd.threads or threads,
                        snapshot_every=chosen.snapshot_every,
                        bootstrap_games=cmd.bootstrap_games if cmd.bootstrap == "gnugo" else 0, gating=cmd.gating, gnugo_games=cmd.gnugo_games,
                        gnugo_level=cmd.gnugo_level, seed=cmd.seed, device=cmd.device,
                        resume=cmd.resume, sync_batch_norm=cmd.sync_batch_norm)
    return cfg, opts


def run_train(cmd: Train) -> dict[str, Any]:
    """Train with a progress bar; prints where the run went and how to play it."""
    from envs.spec import REGISTRY

    if cmd.agent != "alphazero" or cmd.game not in REGISTRY:
        if cmd.agent == "alphazero":
            raise ValueError(f"AlphaZero trains the board games ({', '.join(REGISTRY)}); for {cmd.game} "
                             "pass --agent dqn|reinforce|a2c|ppo")
        from arena.rl.loop import run_rl_from_cli

        if cmd.nproc != 1:
            raise ValueError("--nproc trains AlphaZero's learner; the model-free agents run in one process")
        overrides = {"opponent": cmd.opponent} if cmd.opponent else {}
        return run_rl_from_cli(cmd.game, cmd.agent, cmd.steps, cmd.seed, cmd.device, cmd.run_dir, cmd.resume,
                               overrides)

    from arena import ddp
    from arena.selfplay.alphazero import new_run, train

    cfg, opts = _train_config(cmd)
    if cmd.nproc > 1 and not ddp.under_torchrun():
        return _launch_processes(cmd, cfg)
    rank = ddp.init_from_env()[0] if ddp.under_torchrun() else 0
    try:
        if rank > 0:  # a data-parallel helper: trains beside rank 0, which shows and writes everything
            return train(cfg, opts, cmd.run_dir)
        run = new_run(cfg, cmd.run_dir)
        bar, progress = _progress_bar(cmd, opts)
        if cmd.workers > 0 or cmd.ray_address is not None:
            from arena.selfplay.distributed import train_distributed

            final = train_distributed(cfg, opts, run, max(cmd.workers, 1), cmd.ray_address, progress)
        else:
            final = train(cfg, opts, run, progress)
        bar.close()
    finally:
        ddp.shutdown()
    _print_summary(cmd, cfg, run, final)
    return final


def _train_config(cmd: Train) -> tuple[AlphaZeroConfig, Any]:
    """The AlphaZero config and options of ``cmd``; with ``--resume``, the run's own config."""
    from arena.io.checkpoint import CheckpointError, config_from_dict

    if cmd.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {cmd.nproc}")
    if cmd.nproc > 1 and (cmd.workers > 0 or cmd.ray_address is not None):
        raise ValueError("--nproc (data-parallel learner) and --workers/--ray-address (Ray self-play) "
                         "do not combine: choose one")
    cfg, opts = build(cmd)
    from arena.go.gnugo import gnugo_plays

    if cmd.bootstrap != "none" and not gnugo_plays(cmd.game):
        raise ValueError(f"--bootstrap gnugo learns Go from GNU Go's games; {cmd.game} has no GNU Go")
    if cmd.bootstrap != "none" and (cmd.nproc > 1 or cmd.workers > 0 or cmd.ray_address is not None):
        raise ValueError("--bootstrap gnugo runs in one process: leave out --nproc/--workers (resume with them after)")
    if cfg.mixed_sizes and (cmd.workers > 0 or cmd.ray_address is not None):
        raise ValueError("--mixed-sizes trains in this process (or under --nproc), not with Ray --workers")
    if cfg.batch_size < cmd.nproc:
        raise ValueError(f"--nproc {cmd.nproc}: each process needs a share of the {cfg.batch_size}-position batch")
    if cmd.resume:
        if cmd.run_dir is None:
            raise ValueError("--resume needs --run-dir, the run folder to continue")
        import json

        try:
            saved = json.loads((cmd.run_dir / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"--resume: cannot read {cmd.run_dir / 'config.json'} ({e})") from None
        cfg = config_from_dict(AlphaZeroConfig, saved["alphazero"])
    return cfg, opts


def _launch_processes(cmd: Train, cfg: AlphaZeroConfig) -> dict[str, Any]:
    """``--nproc N``: choose the run folder here, start this command in N processes under
    torchrun (each told the folder), and report what rank 0 wrote."""
    import json
    import sys

    from arena import ddp
    from arena.selfplay.alphazero import new_run

    run = new_run(cfg, cmd.run_dir)
    argv = sys.argv[1:] + ([] if cmd.run_dir is not None else ["--run-dir", str(run)])
    status = ddp.launch(cmd.nproc, argv)
    if status != 0:
        raise RuntimeError(f"torchrun with --nproc {cmd.nproc} failed (exit status {status})")
    return json.loads((run / "metrics.json").read_text())


def _progress_bar(cmd: Train, opts: Any) -> tuple[Any, Any]:
    """A tqdm bar over the training seconds and its ``progress(counters, row)`` callback. It
    reads "12/65 s trained, 0:15 wall, ~0:58 left": the wall clock and the estimate left
    include the evaluations (tqdm's rate is trained seconds per wall second)."""
    from tqdm import tqdm

    fmt = "{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s trained, {elapsed} wall, ~{remaining} left{postfix}"
    bar = tqdm(total=round(opts.seconds), desc=f"alphazero {cmd.game}", dynamic_ncols=True, bar_format=fmt)
    bar.update(0)
    last = {}

    def progress(counters: Any, row: dict[str, Any] | None) -> None:
        if row is not None:
            last.update({k: row[k] for k in ("win_random", "loss_minimax", "win_best", "gnugo_score", "elo") if k in row})
        bar.set_postfix(games=str(counters.games), step=str(counters.step), **last, refresh=False)
        bar.update(min(int(counters.train_seconds), bar.total) - bar.n)  # redraws at most every 0.1 s

    return bar, progress


def _print_summary(cmd: Train, cfg: AlphaZeroConfig, run: Path, final: dict[str, Any]) -> None:
    summary = ", ".join(f"{k} {final[k]}" for k in ("games", "positions", "step", "win_random", "loss_minimax",
                                                     "optimal_search", "optimal_policy", "elo") if k in final)
    clock = ", ".join(f"{k.split('_')[0]} {final[k]:.1f} s" for k in ("selfplay_seconds", "learn_seconds", "eval_seconds")
                      if final.get(k))  # Ray runs (--workers) do not split their clock
    lines = [summary] + ([f"wall clock: {clock}"] if clock else []) + [f"run folder: {run}"]
    print("\n".join(lines) + f"\nplay it: arena play {cmd.game} --opponent {run}"
          + "".join(f" --{k} {v}" for k, v in cfg.game_spec().options.items() if k == "size"))
