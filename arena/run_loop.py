"""The one run loop: every ``arena train`` run (DQN, policy gradients, AlphaZero in one process,
under ``--nproc N`` or with Ray ``--workers``) is :func:`run_loop` driving a :class:`LoopLearner`.

The loop owns what every run shares, written once:

- the **budget** (:class:`Budget`): the clock a run is measured on (env steps for the model-free
  agents, training seconds for AlphaZero), an optional cap on gradient steps, and when to
  evaluate (every ``eval_every`` on that clock, and once more when the run ends);
- the **record** of each evaluation, in this order: a line in ``metrics.jsonl``, TensorBoard
  scalars, the learning-curve plot, then the learner's checkpoint files (each written
  atomically), so a kill leaves at most a metrics line newer than the checkpoint;
- **resume**: the metrics lines written after the checkpoint are dropped, TensorBoard events
  after it are hidden (``purge_step``), and the evaluation schedule goes on from the
  learner's restored clock;
- a **graceful stop**: the first Ctrl-C or SIGTERM finishes the current iteration, evaluates,
  saves and returns (``--resume`` continues it); a second Ctrl-C interrupts at once;
- **data parallelism** (torchrun, ``--nproc N``): every process iterates, rank 0's clock (and
  stop request) ends the run for all, and rank 0 alone evaluates and writes;
- a ``progress(counters, row_or_None)`` callback after every iteration (the progress bars).

A learner supplies the rest: one iteration of learning (``learn``), its position on the
budget's clock, its evaluation (one row of metrics; Ray's runs it in the background and hands
the rows back later), the files of its checkpoint (``save``: networks, optimizer, buffers and
the counters in each learner's own on-disk layout) and the final metrics (``finish``).
Restoring a checkpoint is part of building a learner (``--resume``), before the loop starts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from arena.io.files import write_text_atomic
from arena.io.runs import append_metrics, plot_curves
from nets.distributed import all_reduce_sum, process_rank


@dataclass(frozen=True)
class Budget:
    """How long a run goes and when it evaluates, on the learner's clock."""

    total: float
    """The run ends when the clock reaches this (env steps, training seconds)."""
    eval_every: float
    """Clock between evaluations (with their checkpoints)."""
    clock_key: str
    """The metrics row's field that holds the clock (``step``, ``train_seconds``): resume keeps
    the rows up to the checkpoint's clock."""
    max_steps: int | None = None
    """Also end after this many gradient steps (a budget independent of the machine's speed)."""
    aligned: bool = False
    """Evaluate at multiples of ``eval_every`` (True) or ``eval_every`` after the last evaluation."""
    eval_at_start: bool = False
    """Evaluate the untrained learner before the first iteration (a fresh run only)."""

    def next_eval(self, last: float) -> float:
        """The clock of the evaluation after one at ``last`` (or after a resume at ``last``)."""
        if self.aligned:
            return (last // self.eval_every + 1) * self.eval_every
        return last + self.eval_every

    def spent(self, at: Position) -> bool:
        """True when the run has reached its budget at ``at``."""
        return at.clock >= self.total or (self.max_steps is not None and at.steps >= self.max_steps)


class Position(NamedTuple):
    """Where a learner stands on its budget."""

    clock: float
    """On the budget's clock (env steps, training seconds)."""
    steps: int
    """Gradient steps taken (for ``Budget.max_steps``)."""


class Iteration(NamedTuple):
    """What one ``learn()`` call reports to the loop."""

    scalars: dict[str, float | list[float]] = {}
    """TensorBoard scalars of this iteration (a list: several values under one tag), logged at
    the clock's value; empty for AlphaZero, whose iterations are single self-play moves."""
    rows: list[dict[str, Any]] = []
    """Evaluations that finished in the background during the iteration (Ray's evaluator)."""


NOTHING = Iteration()
"""An iteration with nothing to log (shared, so a self-play move allocates nothing for it)."""


@dataclass(frozen=True)
class Report:
    """How a learner's evaluation rows are shown: the plot and the TensorBoard tags."""

    panels: dict[str, list[str]]
    """The learning curve's panels: label -> row keys (keys a run does not log are skipped)."""
    x: str
    """The row key on the plot's x axis."""
    title: str
    tensorboard_keys: tuple[str, ...] | None = None
    """Row keys logged to TensorBoard (None: every number but ``step``), at the row's ``step``."""
    tensorboard_prefix: str = ""
    """Prefix of their tags (``eval/``)."""


class LoopLearner(Protocol):
    """What :func:`run_loop` drives (arena/rl/loop.py's ModelFreeLearner, arena/selfplay's
    SelfPlayLearner and RayLearner)."""

    budget: Budget
    report: Report
    counters: Any
    """The learner's progress counters (a dataclass): what the progress callback is given,
    and, off rank 0, what the run returns."""

    def position(self) -> Position:
        """Where the learner stands now (after a resume: at its checkpoint)."""
        ...

    def learn(self) -> Iteration:
        """One iteration: a rollout or a few env steps and their updates (model-free); a
        self-play move in every game and the gradient steps the replay ratio asks (AlphaZero);
        the self-play results that came in and their gradient steps (Ray). Advances the clock."""
        ...

    def evaluate(self, final: bool) -> list[dict[str, Any]] | None:
        """Evaluate the learner now; returns the rows that are ready (a learner evaluating in
        the background may return ``[]`` and hand the row back from a later ``learn``), or
        None to decline (busy: the loop asks again after the next iteration). ``final``: the
        run ends after this, so finish everything still in flight."""
        ...

    def save(self, run: Path, row: dict[str, Any]) -> None:
        """Write the checkpoint of the evaluation ``row`` (each file atomically)."""
        ...

    def finish(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """The final metrics (and their files, such as ``metrics.json``) from every kept row."""
        ...


def run_loop(learner: LoopLearner, run: Path, resumed: bool,
             progress: Callable[[Any, dict[str, Any] | None], None] | None = None) -> dict[str, Any]:
    """Drive ``learner`` until its budget is spent or a stop is asked for; returns
    ``learner.finish`` (rank 0) or the learner's counters (other data-parallel ranks), with
    ``stopped``: whether this process's Ctrl-C/SIGTERM ended the run before its budget (callers
    that run several trainings, such as benchmarks/go_ablation.py, end there too).

    ``resumed``: the learner was restored from ``run``'s checkpoint, so ``metrics.jsonl`` keeps
    its rows up to that checkpoint (else it starts afresh).
    """
    rank, world = process_rank()
    lead = rank == 0
    budget = learner.budget
    at = learner.position()
    history = read_history(run, budget.clock_key, at.clock if resumed else 0.0) if lead else []
    writer = tensorboard_writer(run, history[-1]["step"] + 1 if resumed and history else None) if lead else None
    next_eval = budget.next_eval(at.clock)
    stop = StopRequest.install()
    try:
        if lead and budget.eval_at_start and at.clock == 0:
            rows = learner.evaluate(final=False) or []
            _record(learner, run, history, writer, rows)
            if progress is not None and rows:
                progress(learner.counters, rows[-1])
        done = _agreed(budget.spent(at), lead, world)
        while not done:
            iteration = learner.learn()
            at = learner.position()
            if writer is not None and iteration.scalars:
                _log_scalars(writer, iteration.scalars, int(at.clock))
            done = _agreed(budget.spent(at) or stop.requested, lead, world)
            rows = list(iteration.rows)
            if lead and (at.clock >= next_eval or done):
                ready = learner.evaluate(final=done)
                if ready is not None:
                    next_eval = budget.next_eval(at.clock)
                    rows += ready
            if rows:
                _record(learner, run, history, writer, rows)
            if progress is not None:
                progress(learner.counters, rows[-1] if rows else None)
    finally:
        stop.uninstall()
        if writer is not None:
            writer.close()
    final = learner.finish(history) if lead else dataclasses.asdict(learner.counters)
    return {**final, "stopped": stop.requested}


class StopRequest:
    """The first SIGINT (Ctrl-C) or SIGTERM asks the loop to stop after the current iteration,
    with a last evaluation, checkpoint and plot, so nothing is lost (``--resume`` continues it);
    a second SIGINT interrupts at once. Only the main thread can take signals: elsewhere (Ray
    actors, threads) this never requests anything."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    @classmethod
    def install(cls) -> StopRequest:
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
        print("\nstopping: finishing this step, then a last evaluation and checkpoint (Ctrl-C again to abort)",
              file=sys.stderr)

    def uninstall(self) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def read_history(run: Path, clock_key: str, clock: float) -> list[dict[str, Any]]:
    """The rows of ``run/metrics.jsonl`` up to ``clock`` (the checkpoint's), rewriting the file
    without the newer ones (written after the last checkpoint); ``clock`` 0: a fresh start,
    the file is removed."""
    path = run / "metrics.jsonl"
    if clock == 0 or not path.exists():
        path.unlink(missing_ok=True)
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    # Rows round their clock (AlphaZero's train_seconds to 0.01 s): compare at that precision.
    kept = [r for r in rows if r.get(clock_key, 0) <= round(clock, 2)]
    if len(kept) != len(rows):
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def tensorboard_writer(run: Path, purge_step: int | None = None) -> Any:
    """A TensorBoard writer for ``run/tb`` (None when tensorboard is not installed); on resume,
    ``purge_step`` hides the events a previous session logged from that step on."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run / "tb"), purge_step=purge_step)


# ----- private helpers ----------------------------------------------------------------------


def _agreed(done: bool, lead: bool, world: int) -> bool:
    """``done`` as rank 0 sees it, on every data-parallel process (one process: ``done``)."""
    if world > 1:
        return all_reduce_sum([float(done and lead)])[0] > 0
    return done


def _record(learner: LoopLearner, run: Path, history: list[dict[str, Any]], writer: Any,
            rows: list[dict[str, Any]]) -> None:
    """Each evaluation row: kept, a metrics line, TensorBoard, the plot, then the checkpoint."""
    report = learner.report
    for row in rows:
        history.append(row)
        append_metrics(run, row)
        if writer is not None:
            keys = report.tensorboard_keys or [k for k in row if k != "step"]
            for key in keys:
                if isinstance(row.get(key), (int, float)):
                    writer.add_scalar(f"{report.tensorboard_prefix}{key}", row[key], row["step"])
            writer.flush()
        (run / "plots").mkdir(exist_ok=True)
        plot_curves(run / "plots" / "learning_curve.png", history, report.panels, x=report.x, title=report.title)
        learner.save(run, row)


def _log_scalars(writer: Any, scalars: dict[str, float | list[float]], step: int) -> None:
    for tag, value in scalars.items():
        for v in value if isinstance(value, list) else [value]:
            writer.add_scalar(tag, float(v), step)
