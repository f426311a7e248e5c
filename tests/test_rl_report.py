"""benchmarks/rl.py's report: the per-task and cross-task aggregates from hand-made run rows
(answers worked out by hand), and a two-seed, tiny-budget run that writes runs.jsonl,
report.json and the plots, then resumes without running anything again."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rliable")
pytest.importorskip("stable_baselines3")

from benchmark_modules import load_benchmark  # noqa: E402  (after the skips: the script imports them)

bench = load_benchmark("rl.py", "bench_rl")


def _row(side: str, task: str, seed: int, means: list[float], threshold: float, reached: int | None) -> dict:
    """A run line as run_ours/run_sb3 write it: evaluations every 1,000 steps with ``means``."""
    evals = [[1000 * (i + 1), float(i + 1), m] for i, m in enumerate(means)]
    return {"side": side, "agent": "ppo", "task": task, "seed": seed, "threshold": threshold, "evals": evals,
            "steps_to_threshold": reached, "seconds_to_threshold": None if reached is None else reached / 1000,
            "final_eval_mean": means[-1]}


def _rows() -> list[dict]:
    rows = []
    # CartPole, 3 seeds: ours ends at 500 on every seed; SB3 ends at 500, 500 and (last 3) 300.
    for seed in range(3):
        rows.append(_row("ours", "CartPole-v1", seed, [100, 500, 500, 500], 475, 2000))
    rows.append(_row("sb3", "CartPole-v1", 0, [100, 200, 500, 500, 500], 475, 3000))
    rows.append(_row("sb3", "CartPole-v1", 1, [100, 500, 500, 500, 500], 475, 2000))
    rows.append(_row("sb3", "CartPole-v1", 2, [500, 500, 100, 300, 500], 475, 1000))  # reached, then fell
    # Acrobot, 2 seeds only: ours -80 at the end, SB3 never above -300.
    for seed in range(2):
        rows.append(_row("ours", "Acrobot-v1", seed, [-500, -80, -80, -80], -100, 2000))
        rows.append(_row("sb3", "Acrobot-v1", seed, [-500, -400, -300, -300], -100, None))
    return rows


def test_final_score_is_the_mean_of_the_last_three_evaluations() -> None:
    assert bench.final_score(_row("sb3", "CartPole-v1", 2, [500, 500, 100, 300, 500], 475, 1000)) == pytest.approx(300)
    assert bench.final_score(_row("ours", "CartPole-v1", 0, [200, 400], 475, None)) == pytest.approx(300)


def test_report_per_task_and_across_tasks(tmp_path: Path) -> None:
    report = bench.write_report(_rows(), tmp_path, reps=200)
    cart = next(t for t in report["per_task"] if t["task"] == "CartPole-v1")
    assert cart["ours"]["seeds_ending_above"] == 3 and cart["ours"]["runs"] == 3
    assert cart["sb3"]["seeds_ending_above"] == 2  # seed 2 reached 475, then its last 3 averaged 300
    assert cart["ours"]["median_steps_to_threshold"] == 2000 and cart["sb3"]["median_steps_to_threshold"] == 2000
    assert cart["ours"]["iqm_final"]["estimate"] == pytest.approx(1.0)
    acro = next(t for t in report["per_task"] if t["task"] == "Acrobot-v1")
    assert acro["sb3"]["seeds_ending_above"] == 0 and acro["sb3"]["median_steps_to_threshold"] is None
    assert acro["ours"]["final"] == pytest.approx([-80, -80])
    # AUC of ours on Acrobot: normalized means 0, .84, .84, .84 over steps 1k..4k -> (0.42 + 0.84 * 2) / 3.
    assert acro["ours"]["auc"][0] == pytest.approx((0.42 + 0.84 * 2) / 3, abs=1e-4)

    (agg,) = report["aggregates"]
    assert agg["seeds"] == [0, 1]  # the seeds both tasks ran
    assert agg["tasks"] == ["CartPole-v1", "Acrobot-v1"]
    # On seeds 0-1 ours ties SB3 on CartPole (500 each) and beats it on Acrobot: P = (0.5 + 1) / 2.
    assert agg["p_improvement_final"]["estimate"] == pytest.approx(0.75)
    assert agg["ours"]["final"]["mean"]["estimate"] == pytest.approx((1.0 + 0.84) / 2)
    for name in ("aggregates.png", "auc.png", "profiles.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert json.loads((tmp_path / "report.json").read_text())["final_evals"] == 3


def test_a_tiny_run_writes_the_report_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = bench.Config(agents=("ppo",), tasks=("CartPole-v1",), seeds=(0, 1), steps=512, eval_every=256,
                       eval_episodes=1, sb3_hyperparams="zoo", out=tmp_path, bootstrap_reps=100)
    bench.main(cfg)
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert sorted((json.loads(x)["side"], json.loads(x)["seed"]) for x in lines) == [
        ("ours", 0), ("ours", 1), ("sb3", 0), ("sb3", 1)]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["per_task"][0]["ours"]["seeds"] == [0, 1]
    assert (tmp_path / "profiles.png").exists()

    # A torn last line (killed mid-write) is dropped; finished runs are not run again.
    with (tmp_path / "runs.jsonl").open("a") as f:
        f.write('{"side": "ours", "agent"')

    def never(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a finished run ran again")

    monkeypatch.setattr(bench, "run_ours", never)
    monkeypatch.setattr(bench, "run_sb3", never)
    bench.main(cfg)
    assert len(bench.read_runs(tmp_path / "runs.jsonl")) == 4


def test_suite_settings_and_the_out_check() -> None:
    cfg = bench.with_suite(bench.Config(suite="heldout"))
    assert cfg.seeds == tuple(range(100, 110)) and cfg.sb3_hyperparams == "zoo" and cfg.out == Path("runs/rl-heldout")
    assert bench.task_seeds(cfg, "LunarLander-v3") == (100, 101, 102, 103, 104)
    assert bench.task_seeds(cfg, "Acrobot-v1") == cfg.seeds
    assert bench.task_threshold("Acrobot-v1", None) == -100 and bench.task_threshold("Acrobot-v1", -90) == -90
    with pytest.raises(SystemExit, match="--eval-every"):
        bench.with_suite(bench.Config(out=Path("x")))
    assert np.isfinite(bench.task_threshold("LunarLander-v3", None))


def test_set_overrides_read_as_toml() -> None:
    assert bench.parse_overrides(("lr=5e-4", "hidden=[128, 128]", "normalize_advantages=true", "loss=huber")) == {
        "lr": 5e-4, "hidden": [128, 128], "normalize_advantages": True, "loss": "huber"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        bench.parse_overrides(("lr",))


def test_each_set_flag_adds_an_override() -> None:
    import tyro

    cfg = tyro.cli(bench.Config, args=["--set", "lr=5e-4", "--set", "exploration_steps=5000"])
    assert bench.parse_overrides(cfg.set) == {"lr": 5e-4, "exploration_steps": 5000}


def test_sb3_kwargs_carry_dqn_learning_rate_annealing():
    """Our DQN's lr falling to ``lr_end_fraction`` over ``lr_anneal_steps`` maps onto SB3's schedule
    of progress_remaining (1 at the start, 0 at the end of the run), and the target interval from
    gradient steps to env steps."""
    from stable_baselines3 import DQN
    config = {"lr": 1e-3, "lr_anneal_steps": 25_000, "lr_end_fraction": 0.2, "buffer_size": 100,
              "learning_starts": 1, "batch_size": 4, "tau": 1.0, "gamma": 0.99, "train_frequency": 32,
              "gradient_steps": 16, "n_step": 3, "target_update_every": 100, "exploration_steps": 10_000,
              "eps_start": 1.0, "eps_end": 0.05, "max_grad_norm": 10.0, "hidden": (64, 64)}
    kwargs = bench.sb3_kwargs("dqn", config, 50_000, 1, DQN)
    schedule = kwargs["learning_rate"]
    assert schedule(1.0) == pytest.approx(1e-3)
    assert schedule(0.75) == pytest.approx(0.6e-3)  # 12.5k of 25k steps: halfway down to 0.2e-3
    assert schedule(0.5) == pytest.approx(0.2e-3) and schedule(0.0) == pytest.approx(0.2e-3)
    assert kwargs["target_update_interval"] == 200  # 100 gradient steps, 16 per 32 env steps
    assert bench.sb3_kwargs("dqn", {**config, "lr_anneal_steps": 0}, 50_000, 1, DQN)["learning_rate"] == 1e-3
