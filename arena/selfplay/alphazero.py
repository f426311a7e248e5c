"""``arena train tictactoe|go``: AlphaZero self-play orchestrated, evaluated and saved.

The loop (:func:`train`) reads top to bottom: self-play one move in all B games, put the
finished games into the replay buffer, take as many gradient steps as the replay ratio asks,
and every ``eval_every`` seconds evaluate (against random, the previous network, minimax for
tic-tac-toe), log a row to ``metrics.jsonl`` and TensorBoard, and checkpoint. The training
clock (``--seconds``) counts self-play and learning only; evaluation time is reported
apart, so the budget means the same with or without evaluation.

Run folder::

    config.json  metrics.jsonl  metrics.json  tb/  plots/learning_curve.png  replays/*.json
    checkpoints/latest.{safetensors,json}  checkpoints/best.{...}  checkpoints/trainer.safetensors

``--resume`` continues from ``checkpoints/``: the network, the optimizer, the replay buffer
and the counters (steps, games, positions, training seconds, Elo) come back; games that were
in progress when the run stopped are started afresh.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch

from agents.alphazero import AlphaZeroConfig, PositionBuffer, SelfPlay, make_network, make_optimizer, train_step
from agents.mcts import MCTSConfig, network_evaluator, search
from arena.bots.elo import elo_difference
from arena.bots.match import MatchResult, make_bot, play_matches
from arena.io import checkpoint as ckpt
from arena.bots.networks import SearchPlayer, load_network, search_bot, search_player  # noqa: F401 (re-exported)
from arena.io.runs import append_metrics, new_run_dir, plot_curves, write_config, write_json
from envs.core import Game
from nets.distributed import all_reduce_sum, data_parallel, process_rank, shard_size
from nets.train import budget_cosine, set_learning_rate


@dataclass(frozen=True)
class TrainOptions:
    """How long and how a run goes (the learning itself is :class:`AlphaZeroConfig`)."""

    seconds: float = 60.0
    """Training budget in seconds of self-play and learning (evaluation not counted)."""
    max_steps: int | None = None
    """Also stop after this many gradient steps (a budget independent of the machine's speed)."""
    eval_every: float = 10.0
    """Seconds of training between evaluations and checkpoints."""
    eval_games: int = 100
    """Games per evaluation match (half with each colour)."""
    gating: bool = False
    """Promote a network to 'best' only when it scores >= 55% against the previous best."""
    gnugo_games: int = 0
    """Go only: games against GNU Go (``apt-get install gnugo``) at each evaluation; 0 skips,
    as does a machine without GNU Go."""
    gnugo_level: int = 1
    """GNU Go's strength level (1..10)."""
    bootstrap_games: int = 0
    """Go: first learn from this many GNU Go self-play games (arena/selfplay/bootstrap.py; needs
    ``apt-get install gnugo``), then self-play; 0 (the default) is pure self-play, "zero"."""
    snapshot_every: float = 0.0
    """Training seconds between copies of the network kept in ``checkpoints/snapshots/`` (for a
    learning curve judged afterwards, e.g. against GNU Go); 0 keeps none."""
    replays_per_eval: int = 2
    """Self-play games written to the run's replays/ at each evaluation."""
    seed: int = 0
    """Seed for networks, search noise and sampling."""
    device: str = "cpu"
    """torch device: cpu, cuda, or auto."""
    resume: bool = False
    """Continue the run in ``run_dir`` from its last checkpoint."""
    threads: int | None = None
    """torch CPU threads for the run (None: as the process has them)."""
    sync_batch_norm: bool = False
    """Under ``--nproc N``: batch norm over the global batch (exactly one process's training,
    but each layer waits on the other processes twice a step: slower on CPU) instead of over
    each process's shard (DDP's default)."""


@dataclass
class Counters:
    """Progress that survives a resume (stored in the latest checkpoint's sidecar)."""

    step: int = 0
    games: int = 0
    positions: int = 0
    train_seconds: float = 0.0
    elo: float = 0.0
    best_elo: float = 0.0
    evaluations: int = 0
    selfplay_seconds: float = 0.0
    learn_seconds: float = 0.0
    eval_seconds: float = 0.0
    """Where the wall clock went: self-play and learning (together the training clock) and
    evaluation with its checkpoints and replays (the final judgement of a tic-tac-toe run included)."""
    resigned: int = 0
    """Self-play games ended by a resignation (``resign_threshold``)."""
    bootstrap_games: int = 0
    """GNU Go games the network learned from before self-play (0: a pure self-play network)."""
    bootstrap_seconds: float = 0.0
    """Wall clock of that stage (GNU Go's games and the learning on them), outside the training clock."""
    resign_checks: int = 0
    resign_wrong: int = 0
    """Games played out although a side would have resigned, and those of them that side did
    not lose: ``resign_wrong / resign_checks`` is the false-resignation rate."""


def train(cfg: AlphaZeroConfig, opts: TrainOptions, run: Path, progress: Any = None) -> dict[str, Any]:
    """Train until ``opts.seconds`` of training have passed; returns the final metrics.

    ``progress`` (optional) is called as ``progress(counters, row_or_None)`` after every
    self-play step, for a progress bar.

    Under torchrun (``arena train ... --nproc N``) every process runs this loop: its own
    self-play games and replay buffer, and a shard of each global batch of ``cfg.batch_size``
    through DistributedDataParallel, so all hold the same network. The processes add up their
    new positions after each self-play step and take the same number of gradient steps;
    rank 0's clock ends the run, and rank 0 alone evaluates and writes the run folder.
    """
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    learner = setup_learner(cfg, opts, run)
    game, device, generator, net, optimizer, buffer, counters, best = learner
    rank, world = process_rank()
    lead = rank == 0
    trainee = data_parallel(net, device, opts.sync_batch_norm)  # ``net`` itself in a single process
    rows = shard_size(cfg.batch_size, rank, world)
    weight = rows * world / cfg.batch_size
    if opts.bootstrap_games > 0 and counters.step == 0 and world == 1:
        _bootstrap(game, cfg, opts, trainee, optimizer, buffer, counters, generator, rows, weight)
    boards = [Board(game, buffer, SelfPlay(game, cfg, device, generator))] + extra_boards(cfg, opts, run, device, generator)
    next_eval = counters.train_seconds + opts.eval_every
    next_snapshot = (counters.train_seconds // opts.snapshot_every + 1) * opts.snapshot_every if opts.snapshot_every else 0.0
    history: list[dict[str, Any]] = []
    losses = None
    writer = tensorboard_writer(run) if lead else None
    wall_start = time.perf_counter() - counters.train_seconds
    done = False
    stop = _StopRequest.install()  # Ctrl-C / SIGTERM: finish the move, evaluate, save, then return
    while not done:
        tick = time.perf_counter()
        for board in boards:  # one board size unless cfg.mixed_sizes: a move in each size's games
            move_tick = time.perf_counter()
            board.finished = board.selfplay.step(net)
            board.buffer.add(board.finished.samples)
            _count_resignations(counters, board.finished)
            games, positions, short = all_reduce_sum([len(board.finished.lengths), len(board.finished.samples.value),
                                                      board.buffer.size < -(-cfg.min_buffer // world)])
            counters.games += int(games)
            counters.positions += int(positions)
            learn_tick = time.perf_counter()
            counters.selfplay_seconds += learn_tick - move_tick
            if short == 0:
                board.sample_debt += positions * cfg.replay_ratio / cfg.batch_size
                set_learning_rate(optimizer, cfg.lr * lr_factor(cfg, opts, counters))
                while board.sample_debt >= 1:
                    losses = train_step(trainee, optimizer, board.buffer, cfg, board.game.board_size, generator,
                                        rows, weight)
                    counters.step += 1
                    board.sample_debt -= 1
            counters.learn_seconds += time.perf_counter() - learn_tick
        counters.train_seconds += time.perf_counter() - tick
        done = (counters.train_seconds >= opts.seconds or stop.requested
                or (opts.max_steps is not None and counters.step >= opts.max_steps))
        if world > 1:  # rank 0's clock decides for everyone
            done = all_reduce_sum([float(done and lead)])[0] > 0
        row = None
        if lead and (counters.train_seconds >= next_eval or done):
            eval_tick = time.perf_counter()
            next_eval = counters.train_seconds + opts.eval_every
            row = evaluate_network(game, cfg, opts, net, best, counters)
            row.update(wall_time=round(time.perf_counter() - wall_start, 2))
            if losses is not None:
                row.update(policy_loss=losses.policy, value_loss=losses.value)
                if cfg.ownership_weight or cfg.score_weight:
                    row.update(ownership_loss=losses.ownership, score_loss=losses.score)
            if cfg.resign_threshold > 0:
                row.update(_resign_rates(counters))
            history.append(row)
            log_row(run, writer, row, counters)
            save_run(run, cfg, net, optimizer, buffer, counters, best, row)
            for board in boards[1:]:
                ckpt.save_tensors(_extra_buffer_path(run, board.game), board.buffer.tensors())
            if opts.snapshot_every > 0 and counters.train_seconds >= next_snapshot:
                next_snapshot = (counters.train_seconds // opts.snapshot_every + 1) * opts.snapshot_every
                _snapshot(run, cfg, net, counters, row)
            write_replays(run, game, cfg, boards[0].finished, counters, opts.replays_per_eval)
            counters.eval_seconds += time.perf_counter() - eval_tick
        if progress is not None:
            progress(counters, row)
    stop.uninstall()
    return finish_run(run, writer, game, cfg, net, history, counters) if lead else dataclasses.asdict(counters)


class _StopRequest:
    """The first SIGINT (Ctrl-C) or SIGTERM asks the loop to stop after the current move, with
    a last evaluation, checkpoint and plot, so nothing is lost (``--resume`` continues it); a
    second SIGINT interrupts at once. Only the main thread can take signals: elsewhere (Ray
    actors, threads) this never requests anything."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    @classmethod
    def install(cls) -> _StopRequest:
        import signal
        import threading

        stop = cls()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                stop._previous[sig] = signal.signal(sig, stop._handle)
        return stop

    def _handle(self, signum: int, frame: Any) -> None:
        import signal
        import sys

        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping: finishing this move, then a last evaluation and checkpoint (Ctrl-C again to abort)",
              file=sys.stderr)

    def uninstall(self) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _bootstrap(game: Game, cfg: AlphaZeroConfig, opts: TrainOptions, net: torch.nn.Module,
               optimizer: torch.optim.Optimizer, buffer: PositionBuffer, counters: Counters, generator: torch.Generator,
               rows: int, weight: float) -> None:
    """``--bootstrap gnugo``: GNU Go's games into the buffer and ``epochs`` passes of learning
    on them (arena/selfplay/bootstrap.py), before self-play; timed apart from the training clock."""
    from tqdm import tqdm

    from arena.go.gnugo import gnugo_plays
    from arena.selfplay.bootstrap import BootstrapConfig, gnugo_dataset

    if not gnugo_plays(cfg.game):
        raise ValueError(f"--bootstrap gnugo learns Go from GNU Go's games; {cfg.game} has no GNU Go")
    tick = time.perf_counter()
    boot = BootstrapConfig(games=opts.bootstrap_games, processes=max(1, usable_cores()))
    with tqdm(total=boot.games, desc="GNU Go games", dynamic_ncols=True, leave=False) as bar:
        samples, _ = gnugo_dataset(game, boot, opts.seed, lambda n: bar.update(n - bar.n))
    buffer.add(samples)
    for _ in tqdm(range(int(boot.epochs * len(samples.value) / cfg.batch_size)), desc="learning from them",
                  dynamic_ncols=True, leave=False):
        train_step(net, optimizer, buffer, cfg, game.board_size, generator, rows, weight)
        counters.step += 1
    counters.bootstrap_games = boot.games
    counters.bootstrap_seconds = time.perf_counter() - tick


@dataclass
class Board:
    """One board size's self-play: its rules, replay buffer, games in lockstep, the gradient
    steps its positions still owe (``replay_ratio``) and its last finished games."""

    game: Game
    buffer: PositionBuffer
    selfplay: SelfPlay
    sample_debt: float = 0.0
    finished: Any = None


def extra_boards(cfg: AlphaZeroConfig, opts: TrainOptions, run: Path, device: torch.device,
                  generator: torch.Generator) -> list[Board]:
    """The boards of ``cfg.mixed_sizes`` (one network plays them all), their buffers restored
    on ``--resume`` when saved."""
    boards = []
    for game in cfg.extra_games():
        buffer = PositionBuffer(cfg.buffer_size, game.observation_shape, game.num_actions, device)
        path = _extra_buffer_path(run, game)
        if opts.resume and path.exists():
            buffer.load(ckpt.load_tensors(path))
        boards.append(Board(game, buffer, SelfPlay(game, cfg, device, generator)))
    return boards


def _extra_buffer_path(run: Path, game: Game) -> Path:
    return run / "checkpoints" / f"buffer-{game.board_size}x{game.board_size}.safetensors"


def _count_resignations(counters: Counters, finished: Any) -> None:
    if finished.resigned is not None:
        counters.resigned += int(finished.resigned.sum())
        counters.resign_checks += int(finished.resign_checks.sum())
        counters.resign_wrong += int(finished.resign_wrong.sum())


def _resign_rates(counters: Counters) -> dict[str, float]:
    """The share of games resigned so far and the false-resignation rate (None before a check)."""
    rate = counters.resign_wrong / counters.resign_checks if counters.resign_checks else None
    return {"resigned_share": round(counters.resigned / max(counters.games, 1), 4), "false_resign_rate": rate,
            "resign_checks": counters.resign_checks}


def lr_factor(cfg: AlphaZeroConfig, opts: TrainOptions, counters: Counters) -> float:
    """The learning rate's share of ``lr`` at this point of the budget."""
    if cfg.lr_schedule == "constant":
        return 1.0
    done = counters.train_seconds / opts.seconds
    if opts.max_steps is not None:
        done = max(done, counters.step / opts.max_steps)
    return budget_cosine(done)


class TrainingState(NamedTuple):
    """What the learner holds: rules, device, random numbers, network, optimizer, replay
    buffer, counters and the best network so far."""

    game: Game
    device: torch.device
    generator: torch.Generator
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    buffer: PositionBuffer
    counters: Counters
    best: torch.nn.Module


def setup_learner(cfg: AlphaZeroConfig, opts: TrainOptions, run: Path) -> TrainingState:
    """Seed, build the learner, and either restore it (``--resume``) or write ``config.json``
    (shared by :func:`train` and arena/selfplay/distributed.py). Data-parallel processes other than
    rank 0 draw their own random numbers (their own self-play games) and write nothing."""
    rank = process_rank()[0]
    seed = opts.seed + 1_000_003 * rank
    torch.manual_seed(seed)
    device = torch.device("cuda" if opts.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if opts.device == "auto" else opts.device))
    game = cfg.make_game()
    generator = torch.Generator(device).manual_seed(seed)
    net = make_network(game, cfg).to(device).eval()
    optimizer = make_optimizer(net, cfg)
    buffer = PositionBuffer(cfg.buffer_size, game.observation_shape, game.num_actions, device)
    counters = Counters()
    if opts.resume:
        counters = restore_run(run, net, optimizer, buffer)
    elif rank == 0:
        write_config(run, {"alphazero": dataclasses.asdict(cfg), "options": dataclasses.asdict(opts)})
    best = copy.deepcopy(net)
    if opts.resume and (run / "checkpoints" / "best.safetensors").exists():
        ckpt.load_weights(best, ckpt.load_checkpoint(run / "checkpoints" / "best.safetensors")[0])
    return TrainingState(game, device, generator, net, optimizer, buffer, counters, best)


def log_row(run: Path, writer: Any, row: dict[str, Any], counters: Counters) -> None:
    """One evaluation row to ``metrics.jsonl`` and TensorBoard."""
    append_metrics(run, row)
    if writer is not None:
        for key, value in row.items():
            if isinstance(value, (int, float)) and key != "step":
                writer.add_scalar(key, value, counters.step)
        writer.flush()


def finish_run(run: Path, writer: Any, game: Game, cfg: AlphaZeroConfig, net: torch.nn.Module,
            rows: list[dict[str, Any]], counters: Counters) -> dict[str, Any]:
    """Close TensorBoard, write ``metrics.json`` and the learning curve; the final metrics."""
    if writer is not None:
        writer.close()
    final = _final_metrics(game, cfg, net, rows, counters)
    write_json(run / "metrics.json", final)
    _plot(run, rows, game)
    return final


# ----- evaluation ---------------------------------------------------------------------------


def evaluate_network(game: Game, cfg: AlphaZeroConfig, opts: TrainOptions, net: torch.nn.Module,
              best: torch.nn.Module, counters: Counters) -> dict[str, Any]:
    """Matches against random, the previous best (and minimax for tic-tac-toe), all in one
    batch of games, searching ``cfg.eval_simulations`` (cheap: they track progress and gate;
    the agent's play-time strength is judged at the end, see :func:`_final_metrics`); Elo update."""
    play = dataclasses.replace(cfg.play_search(), simulations=cfg.eval_simulations or cfg.search.simulations)
    me = search_bot(game, net, play)
    dev = next(net.parameters()).device
    row: dict[str, Any] = {"step": counters.step, "games": counters.games, "positions": counters.positions,
                           "train_seconds": round(counters.train_seconds, 2), "eval_simulations": play.simulations}
    # Two deterministic searches would replay one game per colour: both sides explore here.
    noise = torch.Generator(dev).manual_seed(opts.seed + 7919 * counters.evaluations)
    pairings = {"random": (me, make_bot("random", game, opts.seed + counters.evaluations)),
                "best": (search_bot(game, net, play, True, noise), search_bot(game, best, play, True, noise))}
    if game.spec.solver is not None:  # a solved game: play its perfect player too
        pairings["minimax"] = (me, make_bot("minimax", game, counters.evaluations))
    records = play_matches(game, list(pairings.values()), opts.eval_games, dev)
    results = {name: record.result for name, record in zip(pairings, records)}
    for name, result in results.items():
        row.update(_rates(name, result))
    if game.spec.solver is not None:
        row["optimal_policy"] = judge_solved(game, net, None)
    elif opts.gnugo_games > 0:
        from arena.go.gnugo import find_gnugo, gnugo_win_rate

        if find_gnugo() is not None:
            player = SearchPlayer("alphazero", network_evaluator(game, net), play)
            row.update(gnugo_win_rate(player, game, opts.gnugo_games, opts.gnugo_level))
    # Elo: random is 0; each evaluation is rated against the previous best network.
    vs_random, vs_best = results["random"], results["best"]
    if counters.evaluations == 0:
        counters.elo = elo_difference(vs_random.score, vs_random.games)
    else:
        counters.elo = counters.best_elo + elo_difference(vs_best.score, vs_best.games)
    promote = not opts.gating or vs_best.score >= 0.55 or counters.evaluations == 0
    if promote:
        best.load_state_dict(net.state_dict())
        counters.best_elo = counters.elo
    counters.evaluations += 1
    row.update(elo=round(counters.elo, 1), promoted=promote)
    return row


def judge_solved(game: Game, net: torch.nn.Module, search_cfg: MCTSConfig | None) -> float:
    """Fraction of a solved game's non-terminal positions (``game.spec.solver``; tic-tac-toe has
    4,520) where the agent's move is optimal: the raw policy's argmax when ``search_cfg`` is
    None, else the move its search picks."""
    dev = next(net.parameters()).device
    judge = game.spec.solver.judge(dev)
    with _all_cores():
        action = _judged_actions(game, net, judge.state, search_cfg)
    return round(float(judge.optimal.gather(1, action[:, None]).float().mean()), 5)


def _judged_actions(game: Game, net: torch.nn.Module, state: Any, search_cfg: MCTSConfig | None) -> torch.Tensor:
    if search_cfg is None:
        logits, _ = network_evaluator(game, net)(state)
        return logits.masked_fill(~state.legal_action_mask, -1e9).argmax(-1)
    return search(game, state, network_evaluator(game, net), search_cfg).action


@contextlib.contextmanager
def _all_cores() -> Iterator[None]:
    """Every core for torch inside (then the thread count as it was): the judgement's batch of
    4,520 positions is large enough to split, unlike self-play's small ops that run fastest on
    one thread; the search judgement runs after training, the raw one is one forward pass
    (64-simulation judgement on 2 AMD EPYC cores: 5.9 s on one thread, 3.5 s on two)."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(before, usable_cores()))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def usable_cores() -> int:
    """Cores this process may run on (its affinity under ``taskset``, else the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rates(name: str, result: MatchResult) -> dict[str, float]:
    n = result.games
    return {f"win_{name}": result.wins / n, f"draw_{name}": result.draws / n, f"loss_{name}": result.losses / n}


def _final_metrics(game: Game, cfg: AlphaZeroConfig, net: torch.nn.Module, rows: list[dict[str, Any]],
                   counters: Counters) -> dict[str, Any]:
    tick = time.perf_counter()
    final = {**(rows[-1] if rows else {})}
    if game.spec.solver is not None:  # the final row already judged the raw policy
        final["optimal_search"] = judge_solved(game, net, cfg.play_search())
    counters.eval_seconds += time.perf_counter() - tick
    final.update(dataclasses.asdict(counters))
    return {k: round(v, 2) if isinstance(v, float) and k.endswith("seconds") else v for k, v in final.items()}


# ----- checkpoints and files ----------------------------------------------------------------


def save_run(run: Path, cfg: AlphaZeroConfig, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
          buffer: PositionBuffer, counters: Counters, best: torch.nn.Module, row: dict[str, Any]) -> None:
    """Best network, optimizer state, replay buffer, then the latest network with the counters
    in its sidecar. Each file is written atomically, so none is ever half written; a kill
    between two of these writes resumes with the previous latest network and counters beside a
    slightly newer buffer and optimizer state, which training tolerates. The buffer is apart
    (on 9x9 it is 10-100x the rest): a run carried to another machine without it resumes with
    an empty buffer, refilled by self-play before learning goes on."""
    folder = run / "checkpoints"
    meta = _network_meta(cfg, counters)
    ckpt.save_checkpoint(folder / "best.safetensors", best, {**meta, "elo": counters.best_elo})
    ckpt.save_tensors(folder / "optimizer.safetensors", ckpt.optimizer_tensors(optimizer))
    ckpt.save_tensors(folder / "buffer.safetensors", buffer.tensors())
    ckpt.save_checkpoint(folder / "latest.safetensors", net,
                         {**meta, "counters": dataclasses.asdict(counters), "metrics": row})


def _network_meta(cfg: AlphaZeroConfig, counters: Counters) -> dict[str, Any]:
    """What every network's sidecar says: the algorithm, the game, the config, and whether it
    saw GNU Go's games (``bootstrap_games`` > 0)."""
    return {"algorithm": "alphazero", "game": cfg.game, "config": dataclasses.asdict(cfg),
            "bootstrap_games": counters.bootstrap_games}


def _snapshot(run: Path, cfg: AlphaZeroConfig, net: torch.nn.Module, counters: Counters, row: dict[str, Any]) -> None:
    """A copy of the network named by its training seconds, with the counters in its sidecar."""
    meta = {**_network_meta(cfg, counters), "counters": dataclasses.asdict(counters), "metrics": row}
    name = f"seconds-{int(counters.train_seconds):06d}.safetensors"
    ckpt.save_checkpoint(run / "checkpoints" / "snapshots" / name, net, meta)


def restore_run(run: Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer, buffer: PositionBuffer) -> Counters:
    latest = run / "checkpoints" / "latest.safetensors"
    if not latest.exists():
        raise ckpt.CheckpointError(f"--resume: no checkpoint in {run / 'checkpoints'} (start without --resume)")
    tensors, meta = ckpt.load_checkpoint(latest)
    ckpt.load_weights(net, tensors, str(latest))
    folder = run / "checkpoints"
    if (folder / "optimizer.safetensors").exists():
        ckpt.load_optimizer_tensors(optimizer, ckpt.load_tensors(folder / "optimizer.safetensors"))
        if (folder / "buffer.safetensors").exists():  # else rebuilt by self-play
            buffer.load(ckpt.load_tensors(folder / "buffer.safetensors"))
    else:  # a run saved before the optimizer and buffer were apart: one trainer file
        trainer = ckpt.load_tensors(folder / "trainer.safetensors")
        ckpt.load_optimizer_tensors(optimizer, {k[10:]: v for k, v in trainer.items() if k.startswith("optimizer.")})
        buffer.load({k[7:]: v for k, v in trainer.items() if k.startswith("buffer.")})
    known = {f.name for f in dataclasses.fields(Counters)}
    return Counters(**{k: v for k, v in meta["counters"].items() if k in known})


def write_replays(run: Path, game: Game, cfg: AlphaZeroConfig, finished: Any, counters: Counters, count: int) -> None:
    from arena.io.replays import Replay, new_replay_path, save_replay

    config = {k: v for k, v in game.spec.to_dict().items() if k not in ("game", "max_moves")}  # replays play uncapped
    results = getattr(finished, "results", None)  # Ray workers' results carry only the outcomes
    for g, (moves, outcome) in enumerate(list(zip(finished.actions, finished.outcomes.tolist()))[:count]):
        result = results[g] if results is not None else (
            "draw" if outcome[0] == outcome[1] else ("first player wins" if outcome[0] > 0 else "second player wins"))
        replay = Replay(game.name, config, (f"self-play step {counters.step}",) * 2, tuple(moves), result)
        save_replay(replay, new_replay_path(game.name, run / "replays"))


def _plot(run: Path, rows: list[dict[str, Any]], game: Game) -> None:
    if not rows:
        return
    (run / "plots").mkdir(exist_ok=True)
    wins = ["win_random", "win_best"] + (["draw_minimax", "optimal_policy"] if game.spec.solver is not None else [])
    # Panels skip what a run does not log (ownership/score losses, resignations: Go's KataGo parts).
    plot_curves(run / "plots" / "learning_curve.png", rows,
                {"rate": wins + ["resigned_share"], "elo": ["elo"],
                 "loss": ["policy_loss", "value_loss", "ownership_loss", "score_loss"]},
                x="train_seconds", title=f"AlphaZero {game.name}")


def tensorboard_writer(run: Path) -> Any:
    """A TensorBoard writer for ``run/tb`` (None when tensorboard is not installed)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run / "tb"))


def new_run(cfg: AlphaZeroConfig, run_dir: str | Path | None) -> Path:
    """The run folder: ``runs/alphazero-<game label>-<time>`` (``alphazero-go9-...``) unless given."""
    return new_run_dir(f"alphazero-{cfg.game_spec().label}", run_dir)
