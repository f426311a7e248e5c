"""``arena eval <run folder or checkpoint>``: evaluate a trained RL agent, or watch it play.

    arena eval runs/dqn-CartPole-v1-20261126-224500            # 10 greedy episodes, mean and std
    arena eval runs/dqn-CartPole-v1-.../ --render --episodes 3  # in a pygame window
    arena eval runs/.../checkpoints/latest.safetensors --episodes 100
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro


@dataclass(frozen=True)
class EvalCommand:
    """Evaluate a trained RL agent (DQN, REINFORCE, A2C, PPO) with its greedy policy; --render to watch it."""

    path: Annotated[Path, tyro.conf.Positional]
    """A run folder written by ``arena train <task> --agent ...`` or one of its checkpoint files."""
    episodes: int = 10
    """Evaluation episodes."""
    render: bool = False
    """Show the episodes: a pygame window (Gymnasium's render_mode="human"), else text boards."""
    checkpoint: Literal["best", "latest"] = "best"
    """Which checkpoint of a run folder: the best evaluation so far, or the last one."""
    seed: int = 12_345
    """Episode i is reset with seed + i."""
    device: str = "cpu"
    """torch device: cpu, cuda, or auto."""


def run_eval(cmd: EvalCommand) -> dict[str, Any]:
    """Run the evaluation and print the returns; returns :func:`arena.rl.loop.eval_run`'s summary."""
    from arena.rl.loop import eval_run

    if cmd.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {cmd.episodes}")
    result = eval_run(cmd.path, cmd.episodes, cmd.render, cmd.checkpoint, cmd.seed, cmd.device)
    print(f"{result['agent']} on {result['task']} ({result['checkpoint']}, step {result['step']}): "
          f"return {result['return_mean']:.2f} +- {result['return_std']:.2f} over {result['episodes']} episodes")
    return result
