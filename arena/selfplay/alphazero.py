"""``arena train tictactoe|go``: AlphaZero self-play orchestrated, evaluated and saved.

:func:`train` hands a :class:`SelfPlayLearner` to the one run loop (arena/run_loop.py). Each
iteration reads top to bottom (:meth:`SelfPlayLearner.learn`): self-play one move in all B
games, put the finished games into the replay buffer, take as many gradient steps as the replay
ratio asks. Every ``eval_every`` training seconds the loop has it evaluated (against random, the
previous network, minimax for tic-tac-toe), logs the row to ``metrics.jsonl``, TensorBoard and the
learning curve, and has it checkpointed. The training clock (``--seconds``) counts self-play
and learning only; evaluation time is reported apart, so the budget means the same with or
without evaluation. arena/selfplay/distributed.py drives the same loop with Ray self-play workers.

Run folder::

    config.json  metrics.jsonl  metrics.json  tb/  plots/learning_curve.png  replays/*.json
    checkpoints/latest.{safetensors,json}  checkpoints/best.{...}  checkpoints/optimizer.safetensors
    checkpoints/buffer.safetensors (+ buffer-<n>x<n>.safetensors per --mixed-sizes board)
    checkpoints/snapshots/seconds-<t>.safetensors (with snapshot_every)

``--resume`` continues from ``checkpoints/``: the network, the optimizer, the replay buffer
and the counters (steps, games, positions, training seconds, Elo) come back (the counters from
``latest.json``; runs saved before the optimizer and buffer had files of their own keep them in
``trainer.safetensors``, which is read as well); metrics lines newer than the checkpoint are
dropped, and games that were in progress when the run stopped are started afresh.
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
from arena.bots.networks import SearchPlayer, load_network, search_bot, search_player  # noqa: F401 (re-exported)
from arena.io import checkpoint as ckpt
from arena.io.runs import new_run_dir, write_config, write_json
from arena.run_loop import NOTHING, Budget, Iteration, Position, Report, run_loop
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

    The run loop (arena/run_loop.py) drives a :class:`SelfPlayLearner`: its evaluations,
    metrics, TensorBoard, plot, checkpoints and the stop on Ctrl-C/SIGTERM. ``progress``
    (optional) is called as ``progress(counters, row_or_None)`` after every self-play step, for
    a progress bar.

    Under torchrun (``arena train ... --nproc N``) every process runs this loop: its own
    self-play games and replay buffer, and a shard of each global batch of ``cfg.batch_size``
    through DistributedDataParallel, so all hold the same network. The processes add up their
    new positions after each self-play step and take the same number of gradient steps;
    rank 0's clock ends the run, and rank 0 alone evaluates and writes the run folder.
    """
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    return run_loop(SelfPlayLearner(cfg, opts, run), run, opts.resume, progress)


def selfplay_budget(opts: TrainOptions) -> Budget:
    """An AlphaZero run's budget: training seconds (``--seconds``), optionally gradient steps
    (``max_steps``), an evaluation every ``eval_every`` training seconds."""
    return Budget(total=opts.seconds, eval_every=opts.eval_every, clock_key="train_seconds", max_steps=opts.max_steps)


def selfplay_report(game: Game) -> Report:
    """An AlphaZero run's learning curve (win rates, Elo, losses against training seconds) and
    TensorBoard scalars (every number of a row, at its gradient step)."""
    wins = ["win_random", "win_best"] + (["draw_minimax", "optimal_policy"] if game.spec.solver is not None else [])
    # Panels skip what a run does not log (ownership/score losses, resignations: Go's KataGo parts).
    return Report({"rate": wins + ["resigned_share"], "elo": ["elo"],
                   "loss": ["policy_loss", "value_loss", "ownership_loss", "score_loss"]},
                  x="train_seconds", title=f"AlphaZero {game.name}")


class SelfPlayLearner:
    """AlphaZero in this process (or in each of ``--nproc N``) as the run loop drives it.

    Built from the run's config (restored from ``run`` with ``--resume``, after a GNU Go head
    start with ``--bootstrap gnugo``). One :meth:`learn` is one self-play move in all games of
    each board size and the gradient steps their new positions owe at the replay ratio; the
    budget's clock (``counters.train_seconds``) counts exactly that time, so evaluation,
    checkpoints and replays are timed apart (``eval_seconds``).
    """

    def __init__(self, cfg: AlphaZeroConfig, opts: TrainOptions, run: Path) -> None:
        self.cfg, self.opts, self.run = cfg, opts, run
        self.state = setup_learner(cfg, opts, run)
        game, device, generator, net, optimizer, buffer, counters, best = self.state
        self.game, self.net, self.best, self.counters = game, net, best, counters
        rank, self.world = process_rank()
        self.trainee = data_parallel(net, device, opts.sync_batch_norm)  # ``net`` itself in a single process
        self.rows = shard_size(cfg.batch_size, rank, self.world)
        self.weight = self.rows * self.world / cfg.batch_size
        if opts.bootstrap_games > 0 and counters.step == 0 and self.world == 1:
            _bootstrap(game, cfg, opts, self.trainee, optimizer, buffer, counters, generator, self.rows, self.weight)
        self.boards = [Board(game, buffer, SelfPlay(game, cfg, device, generator))] + extra_boards(
            cfg, opts, run, device, generator)
        every = opts.snapshot_every
        self.next_snapshot = (counters.train_seconds // every + 1) * every if every else 0.0
        self.budget, self.report = selfplay_budget(opts), selfplay_report(game)
        self.losses: Any = None
        self.wall_start = time.perf_counter() - counters.train_seconds
        self.eval_tick = 0.0

    def position(self) -> Position:
        return Position(self.counters.train_seconds, self.counters.step)

    def learn(self) -> Iteration:
        """A self-play move in every board's games, then the gradient steps the replay ratio
        asks for their new positions (once every process's buffer holds ``min_buffer``)."""
        cfg, counters, optimizer = self.cfg, self.counters, self.state.optimizer
        tick = time.perf_counter()
        for board in self.boards:  # one board size unless cfg.mixed_sizes: a move in each size's games
            move_tick = time.perf_counter()
            board.finished = board.selfplay.step(self.net)
            board.buffer.add(board.finished.samples)
            _count_resignations(counters, board.finished)
            games, positions, short = all_reduce_sum([len(board.finished.lengths), len(board.finished.samples.value),
                                                      board.buffer.size < -(-cfg.min_buffer // self.world)])
            counters.games += int(games)
            counters.positions += int(positions)
            learn_tick = time.perf_counter()
            counters.selfplay_seconds += learn_tick - move_tick
            if short == 0:
                board.sample_debt += positions * cfg.replay_ratio / cfg.batch_size
                set_learning_rate(optimizer, cfg.lr * lr_factor(cfg, self.opts, counters))
                while board.sample_debt >= 1:
                    self.losses = train_step(self.trainee, optimizer, board.buffer, cfg, board.game.board_size,
                                             self.state.generator, self.rows, self.weight)
                    counters.step += 1
                    board.sample_debt -= 1
            counters.learn_seconds += time.perf_counter() - learn_tick
        counters.train_seconds += time.perf_counter() - tick
        return NOTHING

    def evaluate(self, final: bool) -> list[dict[str, Any]]:
        """The matches of :func:`evaluate_network` (Elo, promotion of the best network), with
        the wall time, the last losses and the resignation rates: one metrics row."""
        self.eval_tick = time.perf_counter()
        cfg, counters, losses = self.cfg, self.counters, self.losses
        row = evaluate_network(self.game, cfg, self.opts, self.net, self.best, counters)
        row.update(wall_time=round(time.perf_counter() - self.wall_start, 2))
        if losses is not None:
            row.update(policy_loss=losses.policy, value_loss=losses.value)
            if cfg.ownership_weight or cfg.score_weight:
                row.update(ownership_loss=losses.ownership, score_loss=losses.score)
        if cfg.resign_threshold > 0:
            row.update(_resign_rates(counters))
        return [row]

    def save(self, run: Path, row: dict[str, Any]) -> None:
        """:func:`save_run`, the other boards' buffers, a snapshot when one is due and a few
        self-play replays; the evaluation's time (from :meth:`evaluate` on) goes to ``eval_seconds``."""
        cfg, counters, opts = self.cfg, self.counters, self.opts
        save_run(run, cfg, self.net, self.state.optimizer, self.state.buffer, counters, self.best, row)
        for board in self.boards[1:]:
            ckpt.save_tensors(_extra_buffer_path(run, board.game), board.buffer.tensors())
        if opts.snapshot_every > 0 and counters.train_seconds >= self.next_snapshot:
            self.next_snapshot = (counters.train_seconds // opts.snapshot_every + 1) * opts.snapshot_every
            _snapshot(run, cfg, self.net, counters, row)
        if self.boards[0].finished is not None:
            write_replays(run, self.game, cfg, self.boards[0].finished, counters, opts.replays_per_eval)
        counters.eval_seconds += time.perf_counter() - self.eval_tick

    def finish(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """``metrics.json``: the last row, the counters and (a solved game) the search's judgement."""
        return finish_run(self.run, self.game, self.cfg, self.net, history, self.counters)


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


def finish_run(run: Path, game: Game, cfg: AlphaZeroConfig, net: torch.nn.Module, rows: list[dict[str, Any]],
               counters: Counters) -> dict[str, Any]:
    """Write ``metrics.json``; the final metrics (the last row, the counters and, for a solved
    game, the judgement of the agent's search)."""
    final = _final_metrics(game, cfg, net, rows, counters)
    write_json(run / "metrics.json", final)
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
            player = SearchPlayer("alphazero", network_evaluator(game, net, play.score_utility), play)
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
    return search(game, state, network_evaluator(game, net, search_cfg.score_utility), search_cfg).action


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


def new_run(cfg: AlphaZeroConfig, run_dir: str | Path | None) -> Path:
    """The run folder: ``runs/alphazero-<game label>-<time>`` (``alphazero-go9-...``) unless given."""
    return new_run_dir(f"alphazero-{cfg.game_spec().label}", run_dir)
