"""``arena train ... --workers N [--ray-address auto|ADDRESS]``: AlphaZero self-play on Ray.

The same run as :func:`arena.selfplay.alphazero.train` (same run folder, metrics, checkpoints and
``--resume``), with its parts spread over a Ray cluster (``pip install arena[distributed]``):

- **N self-play actors** (:class:`SelfPlayWorker`), each running batched self-play
  (:class:`agents.alphazero.SelfPlay`, B games in lockstep) on its own device: the CPU, or the
  GPU Ray gives it. A task plays about ``task_seconds`` of moves and returns the finished games.
- **One learner**, in this (driver) process: the replay buffer, :func:`train_step` at the run's
  replay ratio, metrics and checkpoints. Each worker has one task in flight and gets its next
  one as soon as its result is taken, so a learner slower than self-play holds the workers
  back and the replay ratio stays what the config says.
- **Weights** go out through Ray's object store (``ray.put``) every ``publish_every`` gradient
  steps; a worker fetches them at its next task when the version changed.
- **Evaluation** runs in its own actor (:class:`Evaluator`) on a snapshot of the network
  while training goes on; when its row comes back it is logged and a checkpoint is written.
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
from arena.selfplay.alphazero import (Counters, TrainOptions, evaluate_network, finish_run, log_row, save_run, setup_learner, tensorboard_writer,
                             write_replays)
from arena.io.runs import write_config


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
    learner = setup_learner(cfg, opts, run)
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
        return _learn(cfg, opts, run, learner, actors[:-1], evaluator, progress, publish_every, task_seconds,
                      max_restarts)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()


def _learn(cfg: AlphaZeroConfig, opts: TrainOptions, run: Path, learner: Any, workers: list[Any], evaluator: Any,
           progress: Any, publish_every: int, task_seconds: float, max_restarts: int) -> dict[str, Any]:
    """The learner's loop: take self-play results as they come, train, publish, evaluate."""
    import ray
    from ray.exceptions import RayActorError

    game, device, generator, net, optimizer, buffer, counters, best = learner
    n = len(workers)
    positions, failures, nodes = [0] * n, [0] * n, [""] * n
    version, published_step, weights = 0, counters.step, ray.put(_cpu_state(net))
    pending = {workers[i].play.remote(version, [weights], task_seconds): i for i in range(n)}
    evaluation: tuple[Any, dict[str, torch.Tensor]] | None = None
    sample_debt, next_eval, losses, last = 0.0, counters.train_seconds + opts.eval_every, None, None
    rows: list[dict[str, Any]] = []
    writer = tensorboard_writer(run)
    ray.get([w.pid.remote() for w in workers])  # the clock starts once every worker is up
    clock_start, train_start = time.perf_counter(), counters.train_seconds
    wall_start = clock_start - counters.train_seconds

    def finish_evaluation(ref: Any, snapshot: dict[str, torch.Tensor]) -> dict[str, Any]:
        row, after = ray.get(ref)
        counters.elo, counters.best_elo, counters.evaluations = after["elo"], after["best_elo"], after["evaluations"]
        if row["promoted"]:
            best.load_state_dict(snapshot)
        row.update(wall_time=round(time.perf_counter() - wall_start, 2), worker_restarts=sum(failures),
                   worker_nodes=len(set(nodes) - {""}),
                   **{f"positions_worker_{i}": p for i, p in enumerate(positions)})
        if losses is not None:
            row.update(policy_loss=losses.policy, value_loss=losses.value)
        rows.append(row)
        log_row(run, writer, row, counters)
        save_run(run, cfg, net, optimizer, buffer, counters, best, row)
        if last is not None:
            write_replays(run, game, cfg, last, counters, opts.replays_per_eval)
        return row

    def submit_evaluation() -> tuple[Any, dict[str, torch.Tensor]]:
        snapshot = _cpu_state(net)
        return evaluator.evaluate.remote(snapshot, _cpu_state(best), dataclasses.asdict(counters)), snapshot

    done = False
    while not done:
        row = None
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in ready:
            i = pending.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError:  # the worker died: Ray restarts it; its game batch starts afresh
                failures[i] += 1
                if failures[i] <= max_restarts:
                    pending[workers[i].play.remote(version, [weights], task_seconds)] = i
                elif not pending:
                    raise RuntimeError(f"every self-play worker died more than {max_restarts} times") from None
                continue
            pending[workers[i].play.remote(version, [weights], task_seconds)] = i
            buffer.add(Samples(*(t.to(device) for t in result.samples)))
            counters.games += result.games
            counters.positions += len(result.samples.value)
            positions[i] += len(result.samples.value)
            nodes[i] = result.node
            last = result
            if buffer.size >= cfg.min_buffer:
                sample_debt += len(result.samples.value) * cfg.replay_ratio / cfg.batch_size
                while sample_debt >= 1 and (opts.max_steps is None or counters.step < opts.max_steps):
                    losses = train_step(net, optimizer, buffer, cfg, game.board_size, generator)
                    counters.step += 1
                    sample_debt -= 1
            if counters.step - published_step >= publish_every:
                version, published_step, weights = version + 1, counters.step, ray.put(_cpu_state(net))
        counters.train_seconds = train_start + time.perf_counter() - clock_start
        done = counters.train_seconds >= opts.seconds or (opts.max_steps is not None and counters.step >= opts.max_steps)
        if evaluation is not None and ray.wait([evaluation[0]], timeout=0)[0]:
            try:
                row = finish_evaluation(*evaluation)
            except RayActorError:
                pass  # the evaluator died (Ray restarts it): the next one is submitted at once
            evaluation = None
        if evaluation is None and counters.train_seconds >= next_eval and not done:
            next_eval = counters.train_seconds + opts.eval_every
            evaluation = submit_evaluation()
        if progress is not None:
            progress(counters, row)
    for worker in workers:  # free their cores for the last evaluation
        ray.kill(worker)
    if evaluation is not None:
        try:
            finish_evaluation(*evaluation)
        except RayActorError:
            pass
    row = finish_evaluation(*submit_evaluation())
    if progress is not None:
        progress(counters, row)
    return finish_run(run, writer, game, cfg, net, rows, counters)


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
