"""``arena train ... --workers N [--ray-address auto|ADDRESS]``: AlphaZero self-play on Ray.

The same run as :func:`arena.selfplay.alphazero.train` (the same run loop, arena/run_loop.py, so
the same run folder, metrics, checkpoints, ``--resume`` and stop on Ctrl-C/SIGTERM), with its
parts spread over a Ray cluster (``pip install arena[distributed]``):

- **N self-play actors** (:class:`SelfPlayWorker`), each running batched self-play
  (:class:`agents.alphazero.SelfPlay`, B games in lockstep) on its own device: the CPU, or the
  GPU Ray gives it. A task plays about ``task_seconds`` of moves and returns the finished games.
- **One learner** (:class:`RayLearner`), in this (driver) process: the replay buffer,
  :func:`train_step` at the run's replay ratio, metrics and checkpoints. Each worker has one task in flight and gets its next
  one as soon as its result is taken, so a learner slower than self-play holds the workers
  back and the replay ratio stays what the config says.
- **Weights** go out through Ray's object store (``ray.put``) every ``publish_every`` gradient
  steps; a worker fetches them at its next task when the version changed.
- **Evaluation** runs in its own actor (:class:`Evaluator`) on a snapshot of the network
  while training goes on; when its row comes back (from a later ``learn``) the loop logs it and
  a checkpoint is written.
- **Failures**: a worker that dies is restarted by Ray (``max_restarts``) and given a new task;
  the run goes on. If the learner dies, Ray ends the actors it owns, and the run folder keeps
  the last checkpoint (every file is written atomically); ``--resume`` continues it.

The training clock counts the learner's wall time (self-play and evaluation run beside it);
the final evaluation, after the workers stop, is not counted.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import torch

from agents.alphazero import AlphaZeroConfig, Samples, SelfPlay, make_network, train_step
from arena.io.runs import write_config
from arena.run_loop import NOTHING, Iteration, Position, run_loop
from arena.selfplay.alphazero import (Counters, TrainingState, TrainOptions, evaluate_network, finish_run, save_run,
                                      selfplay_budget, selfplay_report, setup_learner, write_replays)


class WorkerResult(NamedTuple):
    """What one self-play task sends back (CPU tensors)."""

    worker: int
    samples: Samples  # positions of the games that ended during the task
    outcomes: torch.Tensor  # float [G, 2], a few finished games (for replays)
    actions: list[list[int]]  # their moves
    games: int  # games finished during the task
    moves: int  # lockstep moves played (each searched all B games)
    version: int  # weights version the task played with
    pid: int
    node: str  # the Ray node it ran on


class SelfPlayWorker:
    """A Ray actor: B self-play games in lockstep on its own device, with the newest weights.

    Args:
        cfg: the run's config.
        index: worker number (names its share in the metrics).
        seed: seed of its search noise and openings (a restarted worker mixes in its pid).
        device: ``cpu``, ``cuda`` (the GPU Ray assigned) or ``auto``.
        threads: torch CPU threads.
    """

    def __init__(self, cfg: AlphaZeroConfig, index: int, seed: int, device: str, threads: int) -> None:
        import ray

        torch.set_num_threads(threads)
        if ray.get_runtime_context().was_current_actor_reconstructed:
            seed += os.getpid()  # a restart does not replay the games it played before
        self.device = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
        self.cfg, self.index, self.version = cfg, index, -1
        self.game = cfg.make_game()
        torch.manual_seed(seed)
        self.net = make_network(self.game, cfg).to(self.device).eval()
        self.selfplay = SelfPlay(self.game, cfg, self.device, torch.Generator(self.device).manual_seed(seed))

    def play(self, version: int, weights: list[Any], seconds: float, keep_games: int = 2) -> WorkerResult:
        """Self-play moves for about ``seconds`` (at least one) with weights ``version``
        (``weights[0]`` is its object ref, fetched only when the version changed)."""
        import ray

        if version != self.version:
            self.net.load_state_dict(ray.get(weights[0]))
            self.version = version
        parts, start = [], time.perf_counter()
        while not parts or time.perf_counter() - start < seconds:
            parts.append(self.selfplay.step(self.net))
        samples = Samples(*(torch.cat([p.samples.filled()[k] for p in parts]).cpu() for k in range(len(Samples._fields))))
        outcomes = torch.cat([p.outcomes for p in parts]).cpu()
        actions = [a for p in parts for a in p.actions]
        return WorkerResult(self.index, samples, outcomes[:keep_games], actions[:keep_games], len(outcomes),
                            len(parts), version, os.getpid(), ray.get_runtime_context().get_node_id())

    def pid(self) -> int:
        return os.getpid()


class Evaluator:
    """A Ray actor that runs :func:`arena.selfplay.alphazero.evaluate_network` on weight snapshots (CPU)."""

    def __init__(self, cfg: AlphaZeroConfig, opts: TrainOptions, threads: int) -> None:
        torch.set_num_threads(threads)
        self.cfg, self.opts = cfg, dataclasses.replace(opts, device="cpu")
        self.game = cfg.make_game()
        self.net, self.best = make_network(self.game, cfg).eval(), make_network(self.game, cfg).eval()

    def evaluate(self, weights: dict[str, torch.Tensor], best: dict[str, torch.Tensor],
                 counters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(row, counters)`` after the matches (the counters carry the new Elo)."""
        self.net.load_state_dict(weights)
        self.best.load_state_dict(best)
        state = Counters(**counters)
        row = evaluate_network(self.game, self.cfg, self.opts, self.net, self.best, state)
        return row, dataclasses.asdict(state)


def train_distributed(cfg: AlphaZeroConfig, opts: TrainOptions, run: Path, workers: int = 2,
                      ray_address: str | None = None, progress: Any = None, publish_every: int = 10,
                      task_seconds: float = 0.5, max_restarts: int = 10) -> dict[str, Any]:
    """Train like :func:`arena.selfplay.alphazero.train` with ``workers`` Ray self-play actors; returns
    the final metrics (those of ``train`` plus ``positions_worker_<i>``, ``worker_restarts``
    and ``worker_nodes``, the number of Ray nodes the workers last ran on).

    Args:
        ray_address: None starts a local Ray instance on this machine (or uses the one this
            process already joined); ``auto`` or ``HOST:PORT`` joins an existing cluster.
        progress: called as ``progress(counters, row_or_None)`` as results come in.
        publish_every: gradient steps between weight publications to the workers.
        task_seconds: self-play time per worker task (how often a worker reports).
        max_restarts: restarts Ray allows each worker (and the evaluator) before it is dropped.
    """
    try:
        import ray
    except ImportError:
        raise ImportError("--workers/--ray-address need Ray: pip install 'arena[distributed]'") from None

    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    run.mkdir(parents=True, exist_ok=True)
    state = setup_learner(cfg, opts, run)
    if not opts.resume:  # config.json as train() writes it, plus how the run was spread
        write_config(run, {"alphazero": dataclasses.asdict(cfg), "options": dataclasses.asdict(opts),
                           "distributed": {"workers": workers, "ray_address": ray_address,
                                           "publish_every": publish_every, "task_seconds": task_seconds}})
    started = _connect(ray_address, workers)
    actors: list[Any] = []
    try:
        actors = _start_workers(cfg, opts, run, workers, max_restarts)
        evaluator = ray.remote(num_cpus=0, max_restarts=max_restarts)(Evaluator).remote(cfg, opts, 1)
        actors.append(evaluator)
        learner = RayLearner(cfg, opts, run, state, actors[:-1], evaluator, publish_every, task_seconds, max_restarts)
        return run_loop(learner, run, opts.resume, progress)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


class RayLearner:
    """The learner's side of a Ray run, as the run loop (arena/run_loop.py) drives it.

    One :meth:`learn` takes the self-play results that came in (waiting up to a second for
    one), gives each worker its next task at once, trains on the new positions at the run's
    replay ratio and publishes the weights every ``publish_every`` steps. :meth:`evaluate` sends
    a snapshot of the network to the evaluator actor; its row comes back from a later
    :meth:`learn`, and is then logged and checkpointed. The budget's clock is the learner's
    wall time from the moment every worker is up.
    """

    def __init__(self, cfg: AlphaZeroConfig, opts: TrainOptions, run: Path, state: TrainingState, workers: list[Any],
                 evaluator: Any, publish_every: int, task_seconds: float, max_restarts: int) -> None:
        import ray

        self.cfg, self.opts, self.run, self.state = cfg, opts, run, state
        self.workers, self.evaluator = workers, evaluator
        self.publish_every, self.task_seconds, self.max_restarts = publish_every, task_seconds, max_restarts
        self.game, self.net, self.best, self.counters = state.game, state.net, state.best, state.counters
        self.budget, self.report = selfplay_budget(opts), selfplay_report(state.game)
        n = len(workers)
        self.positions, self.failures, self.nodes = [0] * n, [0] * n, [""] * n
        self.version, self.published_step, self.weights = 0, self.counters.step, ray.put(_cpu_state(self.net))
        self.pending = {workers[i].play.remote(self.version, [self.weights], task_seconds): i for i in range(n)}
        self.evaluation: tuple[Any, dict[str, torch.Tensor]] | None = None
        self.sample_debt, self.losses, self.last = 0.0, None, None
        ray.get([w.pid.remote() for w in workers])  # the clock starts once every worker is up
        self.clock_start, self.train_start = time.perf_counter(), self.counters.train_seconds
        self.wall_start = self.clock_start - self.counters.train_seconds

    def position(self) -> Position:
        return Position(self.counters.train_seconds, self.counters.step)

    def learn(self) -> Iteration:
        """The results that are ready (up to a second's wait), their gradient steps, the
        weights published when due; and the evaluation's row if it came back."""
        import ray
        from ray.exceptions import RayActorError

        ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=1.0)
        for ref in ready:
            i = self.pending.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError:  # the worker died: Ray restarts it; its game batch starts afresh
                self.failures[i] += 1
                if self.failures[i] <= self.max_restarts:
                    self._submit(i)
                elif not self.pending:
                    raise RuntimeError(f"every self-play worker died more than {self.max_restarts} times") from None
                continue
            self._submit(i)
            self._take(i, result)
        counters = self.counters
        counters.train_seconds = self.train_start + time.perf_counter() - self.clock_start
        rows = []
        if self.evaluation is not None and ray.wait([self.evaluation[0]], timeout=0)[0]:
            try:
                rows.append(self._finish_evaluation(*self.evaluation))
            except RayActorError:
                pass  # the evaluator died (Ray restarts it): the next one is submitted at once
            self.evaluation = None
        return Iteration(rows=rows) if rows else NOTHING

    def evaluate(self, final: bool) -> list[dict[str, Any]] | None:
        """Send a snapshot to the evaluator (None while one is still out). ``final``: stop the
        workers (their cores go to the evaluation), finish the one in flight, then evaluate
        the last network and wait for it (outside the training clock)."""
        from ray.exceptions import RayActorError

        if not final:
            if self.evaluation is not None:
                return None
            self.evaluation = self._submit_evaluation()
            return []
        import ray

        for worker in self.workers:
            ray.kill(worker)
        rows = []
        if self.evaluation is not None:
            try:
                rows.append(self._finish_evaluation(*self.evaluation))
            except RayActorError:
                pass
            self.evaluation = None
        rows.append(self._finish_evaluation(*self._submit_evaluation()))
        return rows

    def save(self, run: Path, row: dict[str, Any]) -> None:
        """:func:`save_run` and a few replays of the last games that came in."""
        save_run(run, self.cfg, self.net, self.state.optimizer, self.state.buffer, self.counters, self.best, row)
        if self.last is not None:
            write_replays(run, self.game, self.cfg, self.last, self.counters, self.opts.replays_per_eval)

    def finish(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        return finish_run(self.run, self.game, self.cfg, self.net, history, self.counters)

    def _submit(self, i: int) -> None:
        self.pending[self.workers[i].play.remote(self.version, [self.weights], self.task_seconds)] = i

    def _take(self, i: int, result: WorkerResult) -> None:
        """Worker ``i``'s games into the buffer, the gradient steps they owe, and the weights
        published every ``publish_every`` steps."""
        import ray

        cfg, counters, state = self.cfg, self.counters, self.state
        state.buffer.add(Samples(*(t.to(state.device) for t in result.samples)))
        counters.games += result.games
        counters.positions += len(result.samples.value)
        self.positions[i] += len(result.samples.value)
        self.nodes[i] = result.node
        self.last = result
        if state.buffer.size >= cfg.min_buffer:
            self.sample_debt += len(result.samples.value) * cfg.replay_ratio / cfg.batch_size
            while self.sample_debt >= 1 and (self.opts.max_steps is None or counters.step < self.opts.max_steps):
                self.losses = train_step(self.net, state.optimizer, state.buffer, cfg, self.game.board_size,
                                         state.generator)
                counters.step += 1
                self.sample_debt -= 1
        if counters.step - self.published_step >= self.publish_every:
            self.version, self.published_step = self.version + 1, counters.step
            self.weights = ray.put(_cpu_state(self.net))

    def _submit_evaluation(self) -> tuple[Any, dict[str, torch.Tensor]]:
        snapshot = _cpu_state(self.net)
        ref = self.evaluator.evaluate.remote(snapshot, _cpu_state(self.best), dataclasses.asdict(self.counters))
        return ref, snapshot

    def _finish_evaluation(self, ref: Any, snapshot: dict[str, torch.Tensor]) -> dict[str, Any]:
        """The evaluator's row, with the Elo it computed and the network it promoted taken in."""
        import ray

        row, after = ray.get(ref)
        counters = self.counters
        counters.elo, counters.best_elo, counters.evaluations = after["elo"], after["best_elo"], after["evaluations"]
        if row["promoted"]:
            self.best.load_state_dict(snapshot)
        row.update(wall_time=round(time.perf_counter() - self.wall_start, 2), worker_restarts=sum(self.failures),
                   worker_nodes=len(set(self.nodes) - {""}),
                   **{f"positions_worker_{i}": p for i, p in enumerate(self.positions)})
        if self.losses is not None:
            row.update(policy_loss=self.losses.policy, value_loss=self.losses.value)
        return row


def _connect(address: str | None, workers: int) -> bool:
    """Join ``address`` or start a local Ray instance; True when this call connected."""
    import ray

    if ray.is_initialized():
        return False
    if address is None:
        # Locally every worker asks for one CPU: allow the count asked for even on a small
        # machine (oversubscribed, as the benchmark of 2 workers on 2 cores is).
        ray.init(num_cpus=max(os.cpu_count() or 1, workers), include_dashboard=False, log_to_driver=False)
    else:
        # Ship this checkout's packages, so every node runs the same Arena code as the driver
        # (each node still needs torch and the other dependencies: pip install arena[distributed]).
        import agents
        import arena
        import envs
        import nets

        ray.init(address=address, runtime_env={"py_modules": [arena, agents, envs, nets]}, log_to_driver=False)
    return True


def _start_workers(cfg: AlphaZeroConfig, opts: TrainOptions, run: Path, workers: int, max_restarts: int) -> list[Any]:
    """The self-play actors, one CPU each, and one GPU (or a share) each when asked for."""
    import ray

    gpus = ray.cluster_resources().get("GPU", 0.0)
    if opts.device == "cuda" and gpus == 0:
        raise ValueError("--device cuda, but the Ray cluster has no GPU (use --device cpu or auto)")
    per_worker = 0.0 if opts.device == "cpu" or gpus == 0 else min(1.0, gpus / workers)
    actor = ray.remote(num_cpus=1, num_gpus=per_worker, max_restarts=max_restarts)(SelfPlayWorker)
    # Named (per run folder), so a person or a test can find a worker: ray.get_actor(name).
    return [actor.options(name=f"{run.resolve()}/selfplay-{i}").remote(cfg, i, opts.seed + 7919 * (i + 1),
                                                                       "cpu" if per_worker == 0 else "cuda", 1)
            for i in range(workers)]


def _cpu_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
