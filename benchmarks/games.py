"""Game stepping speed: random legal playouts of our batched games against Pgx, as JSON lines.

One *step* is one move in one game, so a batch step of B games counts B. Each measured loop
is what self-play does with the rules alone:

- ours: ``envs.core.random_actions`` -> ``game.step(state, a, checked=False)`` ->
  ``envs.core.reset_finished`` (finished games restart, so the batch stays full);
- Pgx: one ``jax.jit`` of ``jax.random.categorical`` over the legal mask ->
  ``jax.vmap(pgx.experimental.auto_reset(env.step, env.init))``, i.e. Pgx's own
  ``jit(vmap(env.step))`` with its auto-reset, fused into one compiled call (Pgx at its best).

Timing: a warm-up (JIT compilation, the first steps, and a short calibration run that also
estimates the rate) is never timed; then a fixed number of batch steps, chosen to last at
least ``--seconds``, runs between two clock reads, with ``torch.cuda.synchronize`` /
``block_until_ready`` before each read. The checked ``B = 1`` Go step (what a person, the GTP
engine and the viewer use) is timed separately as a mean latency in microseconds.

Run ``python benchmarks/games.py --help``; results and the machine are recorded in
BENCHMARKS.md. Pgx is the optional extra ``pip install -e .[bench]`` (CPU JAX is enough).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal

import torch
import tyro

from envs import core

GameId = Literal["tictactoe", "go9"]
PGX_IDS: dict[str, str] = {"tictactoe": "tic_tac_toe", "go9": "go_9x9"}


@dataclass(frozen=True)
class Config:
    """Options of the game stepping benchmark."""

    games: tuple[GameId, ...] = ("tictactoe", "go9")
    """Games to measure."""
    batches: tuple[int, ...] = (1, 64, 1024, 8192)
    """Batch sizes B (games stepped together)."""
    seconds: float = 3.0
    """Timed seconds per measurement (the fixed step count is chosen to last at least this)."""
    device: Literal["all", "cpu", "cuda"] = "all"
    """Torch device; ``all`` is the CPU plus CUDA when ``torch.cuda.is_available()``."""
    threads: int | None = None
    """``torch.set_num_threads``; None keeps torch's default (one per core). On the 2-core
    reference machine 2 beat 1 when the machine was otherwise idle, but collapsed under load
    from other processes: use ``--threads 1`` on a busy machine (BENCHMARKS.md)."""
    pgx: bool = True
    """Also measure Pgx on the same device and report ours/Pgx (``--no-pgx`` to skip)."""
    latency: bool = True
    """Also time the checked B=1 step of each game (mean microseconds per step)."""
    graph: bool = True
    """On CUDA, also measure the loop captured as a CUDA graph (row ``impl: arena-graph``)."""
    repeats: int = 1
    """Timed runs per measurement, ours and Pgx interleaved; rows report the best (and all runs),
    which on a shared machine is the least disturbed estimate of each implementation's speed."""
    seed: int = 0
    """Seed of the random playouts."""


# ----- one measurement ------------------------------------------------------------------------


def time_loop(run: Callable[[int], None], sync: Callable[[], None], seconds: float) -> tuple[int, float]:
    """Time ``run(n)`` (n batch steps) for a fixed ``n`` chosen to last >= ``seconds``.

    Warm-up: 3 steps, then a doubling calibration run of >= 0.1 * seconds that also
    estimates the rate. Neither is timed. Returns ``(n, elapsed_seconds)`` of the timed run.
    """
    run(3)
    sync()
    n, elapsed = 1, 0.0
    while elapsed < max(0.1 * seconds, 0.05):
        n *= 2
        t0 = time.perf_counter()
        run(n)
        sync()
        elapsed = time.perf_counter() - t0
    n = max(1, math.ceil(1.05 * seconds * n / elapsed))
    sync()
    t0 = time.perf_counter()
    run(n)
    sync()
    return n, time.perf_counter() - t0


Runner = tuple[Callable[[int], None], Callable[[], None]]  # run(n batch steps), sync()


def ours_runner(game: Any, batch: int, device: torch.device, seed: int) -> Runner:
    """Unchecked random playouts with auto-reset of B games on ``device``."""
    gen = torch.Generator(device=device).manual_seed(seed)
    box = [game.init(batch, device=device, generator=gen)]

    def run(n: int) -> None:
        state = box[0]
        for _ in range(n):
            action = core.random_actions(state, gen)
            state = game.step(state, action, checked=False)
            state = core.reset_finished(game, state, gen)
        box[0] = state

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return run, sync


def graphed_runner(game: Any, batch: int, device: torch.device, seed: int) -> Runner:
    """The same playout loop captured once as a CUDA graph (``core.cuda_graph_loop``): one
    launch per batch step, random moves from the default CUDA generator."""
    torch.manual_seed(seed)

    def advance(state: Any) -> Any:
        state = game.step(state, core.random_actions(state), checked=False)
        return core.reset_finished(game, state)

    replay, _ = core.cuda_graph_loop(advance, game.init(batch, device=device))

    def run(n: int) -> None:
        for _ in range(n):
            replay()

    return run, lambda: torch.cuda.synchronize(device)


def checked_latency_us(game: Any, seconds: float, seed: int) -> dict[str, float]:
    """Mean and median microseconds of one checked ``game.step`` at B=1 on the CPU.

    Only the ``step`` call is on the clock; choosing the random move and restarting a
    finished game are not. Warm-up: one full game, untimed.
    """
    gen = torch.Generator().manual_seed(seed)
    state = game.init(1)
    times: list[float] = []
    warm = True
    budget_end = None
    while True:
        action = core.random_actions(state, gen)
        t0 = time.perf_counter()
        state = game.step(state, action)
        t1 = time.perf_counter()
        if not warm:
            times.append(t1 - t0)
        if bool(state.terminated[0]):
            state = game.init(1)
            if warm:
                warm, budget_end = False, time.perf_counter() + seconds
        if budget_end is not None and t1 >= budget_end and times:
            break
    times.sort()
    return {"mean_us": 1e6 * sum(times) / len(times), "median_us": 1e6 * times[len(times) // 2],
            "steps": float(len(times))}


def pgx_runner(env_id: str, batch: int, device: str, seed: int) -> Runner:
    """Pgx random playouts with auto-reset: one fused, jitted call per batch step."""
    import jax
    import jax.numpy as jnp
    import pgx
    from pgx.experimental import auto_reset

    env = pgx.make(env_id)
    step = jax.vmap(auto_reset(env.step, env.init))

    @jax.jit
    def play(state: Any, key: jax.Array) -> tuple[Any, jax.Array]:
        key, k_act, k_step = jax.random.split(key, 3)
        logits = jnp.where(state.legal_action_mask, 0.0, -jnp.inf)
        action = jax.random.categorical(k_act, logits, axis=-1)
        return step(state, action, jax.random.split(k_step, batch)), key

    jax_device = jax.devices("gpu" if device == "cuda" else "cpu")[0]
    key, k_init = jax.random.split(jax.random.PRNGKey(seed))
    keys = jax.device_put(jax.random.split(k_init, batch), jax_device)
    box = [jax.jit(jax.vmap(env.init))(keys), jax.device_put(key, jax_device)]

    def run(n: int) -> None:
        state, key = box
        for _ in range(n):
            state, key = play(state, key)
        box[:] = [state, key]

    def sync() -> None:
        jax.block_until_ready(box)

    return run, sync


def best_rates(runners: dict[str, Runner], batch: int, seconds: float, repeats: int) -> dict[str, list[float]]:
    """Steps per second of each runner, ``repeats`` times, interleaved so that a burst of
    load from elsewhere on the machine hits every implementation alike."""
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, (run, sync) in runners.items():
            n, elapsed = time_loop(run, sync, seconds)
            rates[name].append(n * batch / elapsed)
    return rates


# ----- games and machine ----------------------------------------------------------------------


def make_game(game_id: str) -> Any:
    """Our game for an id; raises ImportError while a game is not written yet."""
    if game_id == "tictactoe":
        from envs.tictactoe import TicTacToe

        return TicTacToe()
    if game_id == "go9":
        from envs.go import Go

        return Go(size=9, komi=7.5)
    raise ValueError(f"unknown game {game_id!r}; choose from {sorted(PGX_IDS)}")


def pgx_versions() -> dict[str, str] | None:
    """Versions of pgx, jax and the jax backend, or None when Pgx cannot be imported."""
    try:
        import jax
        import pgx
    except ImportError:
        return None
    return {"pgx": pgx.__version__, "jax": jax.__version__, "jax_backend": jax.default_backend()}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                      if ln.startswith("Model name")), platform.processor())
    except OSError:
        model = platform.processor()
    info: dict[str, Any] = {
        "cpu": model, "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
        "date": datetime.date.today().isoformat(), "loadavg_1min": os.getloadavg()[0],
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
    info.update(pgx_versions() or {"pgx": None})
    return info


def emit(row: dict[str, Any]) -> None:
    """Print one JSON line and flush, so a long run shows progress."""
    print(json.dumps({"bench": "games", **row}), flush=True)


def _devices(choice: str) -> list[torch.device]:
    if choice == "all":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False on this machine")
    return [torch.device(choice)]


def _pgx_skip_reason(device: torch.device) -> str | None:
    versions = pgx_versions()
    if versions is None:
        return "pgx/jax not importable: pip install -e .[bench] (or pip install pgx jax)"
    if device.type == "cuda" and versions["jax_backend"] not in ("gpu", "cuda"):
        return "jax has no GPU backend here (CPU jax); Pgx is measured on the CPU only"
    return None


# ----- main -----------------------------------------------------------------------------------


def run(cfg: Config) -> list[dict[str, Any]]:
    """Measure every (game, device, batch), ours and Pgx, emitting and returning the rows."""
    if cfg.seconds <= 0 or cfg.repeats < 1 or min(cfg.batches, default=0) < 1:
        raise SystemExit("need --seconds > 0, --repeats >= 1 and at least one batch size, each >= 1")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    rows: list[dict[str, Any]] = []

    def out(row: dict[str, Any]) -> None:
        rows.append(row)
        emit(row)

    emit({"machine": machine(), "seconds": cfg.seconds, "repeats": cfg.repeats})
    for game_id in cfg.games:
        try:
            game = make_game(game_id)
        except ImportError as err:
            out({"game": game_id, "impl": "arena", "skipped": f"game not importable: {err}"})
            continue
        for device in _devices(cfg.device):
            skip = _pgx_skip_reason(device) if cfg.pgx else None
            if skip:
                out({"game": game_id, "impl": "pgx", "device": device.type, "skipped": skip})
            for batch in cfg.batches:
                runners = {"arena": ours_runner(game, batch, device, cfg.seed)}
                if device.type == "cuda" and cfg.graph:
                    runners["arena-graph"] = graphed_runner(game, batch, device, cfg.seed)
                if cfg.pgx and not skip:
                    runners["pgx"] = pgx_runner(PGX_IDS[game_id], batch, device.type, cfg.seed)
                rates = best_rates(runners, batch, cfg.seconds, cfg.repeats)
                pgx_best = max(rates["pgx"]) if "pgx" in rates else None
                for impl, runs in sorted(rates.items(), reverse=True):  # pgx first, then ours
                    best = max(runs)
                    row = {"game": game_id, "impl": impl, "device": device.type, "batch": batch,
                           "steps_per_s": round(best, 1), "us_per_batch_step": round(1e6 * batch / best, 2),
                           "runs": [round(r, 1) for r in runs]}
                    if impl.startswith("arena"):
                        row["threads"] = torch.get_num_threads()
                        row["ratio_vs_pgx"] = round(best / pgx_best, 3) if pgx_best else None
                    out(row)
        if cfg.latency:
            lat = checked_latency_us(game, cfg.seconds, cfg.seed)
            out({"game": game_id, "impl": "arena", "device": "cpu", "batch": 1, "mode": "checked",
                 "threads": torch.get_num_threads(), "latency_mean_us": round(lat["mean_us"], 1),
                 "latency_median_us": round(lat["median_us"], 1), "steps": int(lat["steps"])})
    return rows


def main() -> None:
    run(tyro.cli(Config))


if __name__ == "__main__":
    main()
