"""The one run loop (arena/run_loop.py) with a stub learner: when it evaluates, the order of a
record (metrics line before checkpoint), resume's dropped rows, rows that come back later (Ray's
evaluator), the budget's step cap and the stop request."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from arena.run_loop import NOTHING, Budget, Iteration, Position, Report, StopRequest, read_history, run_loop


class Stub:
    """Advances its clock by ``tick`` per learn(); evaluations are rows of the clock. With
    ``background`` an evaluation's row comes back from the next learn() instead."""

    def __init__(self, budget: Budget, tick: float = 1.0, clock: float = 0.0, background: bool = False) -> None:
        self.budget, self.tick, self.clock, self.background = budget, tick, clock, background
        self.report = Report({"value": ["value"]}, x="step", title="stub")
        self.counters = Position(clock, 0)
        self.steps = 0
        self.events: list[tuple[str, float]] = []
        self.waiting: list[dict[str, Any]] = []
        self.on_learn = None

    def position(self) -> Position:
        return Position(self.clock, self.steps)

    def learn(self) -> Iteration:
        self.clock += self.tick
        self.steps += 1
        if self.on_learn is not None:
            self.on_learn()
        rows, self.waiting = self.waiting, []
        return Iteration({"train/x": self.clock}, rows) if rows else NOTHING

    def evaluate(self, final: bool) -> list[dict[str, Any]] | None:
        row = {"step": self.clock, "value": self.clock}
        self.events.append(("evaluate", self.clock))
        if self.background and not final:
            self.waiting.append(row)
            return []
        return [row]

    def save(self, run: Path, row: dict[str, Any]) -> None:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        assert json.loads(lines[-1]) == row  # the metrics line is out before the checkpoint
        self.events.append(("save", row["step"]))

    def finish(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        return {"rows": [r["step"] for r in history]}


def _rows(run: Path) -> list[float]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_aligned_schedule_evaluates_at_start_multiples_and_end(tmp_path: Path) -> None:
    stub = Stub(Budget(total=10, eval_every=4, clock_key="step", aligned=True, eval_at_start=True), tick=3)
    final = run_loop(stub, tmp_path, resumed=False)
    assert final["rows"] == [0, 6, 9, 12] == _rows(tmp_path)  # 6: first >= 4; 9: first >= 8; 12: the end
    assert final["stopped"] is False  # ended by its budget
    assert (tmp_path / "plots" / "learning_curve.png").stat().st_size > 0
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_relative_schedule_counts_from_the_last_evaluation(tmp_path: Path) -> None:
    stub = Stub(Budget(total=10, eval_every=4, clock_key="step"), tick=3)
    assert run_loop(stub, tmp_path, resumed=False)["rows"] == [6, 12]  # 6 >= 0 + 4, then 12 (>= 10 + 4 and the end)


def test_resume_drops_newer_rows_and_continues_the_schedule(tmp_path: Path) -> None:
    lines = [{"step": s, "value": s} for s in (4, 8, 9)]  # 9: written after the checkpoint at 8
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    stub = Stub(Budget(total=14, eval_every=4, clock_key="step", aligned=True, eval_at_start=True), tick=2, clock=8)
    final = run_loop(stub, tmp_path, resumed=True)
    assert final["rows"] == [4, 8, 12, 14] == _rows(tmp_path)
    assert read_history(tmp_path, "step", 0) == [] and not (tmp_path / "metrics.jsonl").exists()  # fresh start


def test_rows_from_the_background_are_recorded_when_they_come_back(tmp_path: Path) -> None:
    stub = Stub(Budget(total=5, eval_every=2, clock_key="step"), background=True)
    final = run_loop(stub, tmp_path, resumed=False)
    assert final["rows"] == [2, 4, 5]  # each background row recorded one learn() later; the last one waited for
    assert [e for e in stub.events if e[0] == "save"] == [("save", 2), ("save", 4), ("save", 5)]


def test_max_steps_ends_the_run(tmp_path: Path) -> None:
    stub = Stub(Budget(total=1e9, eval_every=1e9, clock_key="step", max_steps=3))
    assert run_loop(stub, tmp_path, resumed=False)["rows"] == [3]


def test_a_stop_request_ends_with_a_last_evaluation(tmp_path: Path) -> None:
    stub = Stub(Budget(total=1e9, eval_every=1e9, clock_key="step"))
    before = signal.getsignal(signal.SIGTERM)
    stub.on_learn = lambda: stub.clock == 3 and signal.raise_signal(signal.SIGTERM)
    final = run_loop(stub, tmp_path, resumed=False)
    assert final["rows"] == [3] and final["stopped"] is True
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers as they were


def test_a_second_ctrl_c_interrupts() -> None:
    stop = StopRequest.install()
    try:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        stop.uninstall()
