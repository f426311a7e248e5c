"""What a model-free run is made of, before any training: its settings (the task's section of
``agents/hyperparams.toml`` over the ``"*"`` defaults, then command-line overrides), its device,
its environments (:func:`make_env` for evaluation, :func:`make_vector_env` for training) and its
learner. arena/rl/loop.py runs the loop on them.

Atari (``ALE/...`` ids, ``pip install "arena[atari]"``) gets the standard DQN pipeline from
Gymnasium's own wrappers: the emulator at ``frameskip=1`` with sticky actions
(``repeat_action_probability``, v5's 0.25 unless the table says otherwise), then
``AtariPreprocessing`` (30 random no-ops at reset, 4 frames per action max-pooled over the last
two, 84x84 grey, uint8) and ``FrameStackObservation`` (the last 4 frames): uint8 ``[4, 84, 84]``
observations, for training and evaluation alike. Rewards are not clipped."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import torch
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from agents.common import PastSelves

HYPERPARAMS = Path(__file__).resolve().parents[2] / "agents" / "hyperparams.toml"
PG_AGENTS = ("reinforce", "a2c", "ppo")
AGENTS = ("dqn", *PG_AGENTS)
GAMES: dict[str, str] = {"tictactoe": "arena/TicTacToe-v0", "go": "arena/Go-v0"}
"""Our games by short name -> their Gymnasium id (played against an opponent, see envs/gym.py)."""
RUN_DEFAULTS: dict[str, Any] = {"steps": 100_000, "num_envs": 1, "eval_every": None, "eval_episodes": 10,
                                "opponent": "random", "agent_color": 0, "repeat_action_probability": 0.25}
"""Run settings (not agent config) a table section or an override may set; eval_every None = steps / 20;
repeat_action_probability: Atari's sticky actions (ALE/... ids only)."""


@dataclass(frozen=True)
class RunSettings:
    """What an RL run trains, for how long, and how it is evaluated."""

    task: str
    """What the person typed: a Gymnasium id (CartPole-v1) or one of our games (tictactoe)."""
    env_id: str
    """The Gymnasium id made for training and evaluation."""
    env_kwargs: dict[str, Any]
    """Keyword arguments of ``gymnasium.make`` (our games: opponent, agent_color; Atari: frameskip 1,
    repeat_action_probability)."""
    agent: str
    """dqn, reinforce, a2c or ppo."""
    steps: int
    """Total env steps (summed over the vector env)."""
    num_envs: int
    """Sub-envs of the training vector env."""
    eval_every: int
    """Env steps between evaluations (and checkpoints)."""
    eval_episodes: int
    """Deterministic episodes per evaluation."""
    seed: int
    """Seed of the learner, the training envs and the evaluation episodes."""
    device: str
    """torch device of the learner (resolved: cpu or cuda)."""


def resolve_settings(task: str, agent: str, steps: int | None, seed: int, device: str,
                     overrides: dict[str, Any] | None = None,
                     table_path: Path = HYPERPARAMS) -> tuple[RunSettings, dict[str, Any]]:
    """The run settings and the agent's config overrides: built-in defaults < the table's
    ``["*".<agent>]`` < ``["<task>".<agent>]`` < ``overrides`` < ``steps``.

    Raises:
        ValueError: unknown agent, or a table/override key that is neither a run setting nor a
            field of the agent's config (the message names the section and the known keys).
    """
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {', '.join(AGENTS)}")
    known = set(RUN_DEFAULTS) | config_fields(agent)
    merged: dict[str, Any] = dict(RUN_DEFAULTS)
    table = load_table(table_path)
    for section in ("*", task):
        values = table.get(section, {}).get(agent, {})
        _check_keys(values, known, f"{table_path} section [\"{section}\".{agent}]")
        merged.update(values)
    _check_keys(overrides or {}, known, "the overrides")
    merged.update(overrides or {})
    if steps is not None:
        merged["steps"] = steps
    env_id = GAMES.get(task, task)
    env_kwargs: dict[str, Any] = {}
    if env_id.startswith("arena/"):
        env_kwargs = {"opponent": merged["opponent"], "agent_color": merged["agent_color"]}
    elif is_atari(env_id):
        if "-ram-" in env_id:
            raise ValueError(f"{env_id}: RAM observations are not supported; use the screen id, e.g. ALE/Pong-v5")
        env_kwargs = {"frameskip": 1, "repeat_action_probability": float(merged["repeat_action_probability"])}
    run_keys = {k: merged.pop(k) for k in RUN_DEFAULTS}
    total = int(run_keys["steps"])
    settings = RunSettings(
        task=task, env_id=env_id, env_kwargs=env_kwargs, agent=agent, steps=total,
        num_envs=int(run_keys["num_envs"]), eval_every=int(run_keys["eval_every"] or max(1, total // 20)),
        eval_episodes=int(run_keys["eval_episodes"]), seed=seed, device=resolve_device(device),
    )
    return settings, merged


def load_table(path: Path = HYPERPARAMS) -> dict[str, Any]:
    """The hyperparameter table ``{task: {agent: {key: value}}}`` (read with tomllib)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"cannot read the hyperparameter table {path}: {e}") from None


def agent_module(agent: str) -> Any:
    """The module implementing ``agent`` (``make_learner``, ``default_config``), imported lazily."""
    if agent == "dqn":
        import agents.dqn as module

        return module
    if agent in PG_AGENTS:
        try:
            import agents.pg as module
        except Exception as e:  # noqa: BLE001 - any failure to import means the agent is unavailable
            raise ValueError(f"--agent {agent} needs agents/pg.py (REINFORCE, A2C, PPO), which could not be "
                             f"imported: {type(e).__name__}: {e}") from None
        return module
    raise ValueError(f"unknown agent {agent!r}; choose one of {', '.join(AGENTS)}")


def config_fields(agent: str) -> set[str]:
    """The field names of ``agent``'s config dataclass."""
    return {f.name for f in dataclasses.fields(agent_module(agent).default_config(agent))}


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is a clear error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda, but torch sees no CUDA GPU; use --device cpu or auto")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


def make_env(settings: RunSettings, render_mode: str | None = None) -> gymnasium.Env:
    """One env of the run's task (evaluation, watching). A self-play run is evaluated
    against the ``random`` opponent (its past copies are no fixed yardstick)."""
    register(settings.env_id)
    kwargs = dict(settings.env_kwargs)
    if kwargs.get("opponent") == "self":
        kwargs["opponent"] = "random"
    env = gymnasium.make(settings.env_id, render_mode=render_mode, **kwargs)
    return atari_pipeline(env) if is_atari(settings.env_id) else env


def make_vector_env(settings: RunSettings, pool: PastSelves | None = None) -> gymnasium.vector.VectorEnv:
    """The training vector env of ``num_envs`` copies. With the ``self`` opponent, ``pool`` (past
    copies of the learner) plays the other side.

    Policy gradients take the task's own batched env when it registers one (Gymnasium's numpy
    CartPole, our games: :func:`vector_mode`), whose step costs about what one copy's does; the
    rollout reads its next-step autoreset. DQN, and tasks without one, get synchronous copies
    with same-step autoreset (an episode's final observation in ``info["final_obs"]`` on the step
    that ends it).
    """
    register(settings.env_id)
    kwargs = dict(settings.env_kwargs)
    if kwargs.get("opponent") == "self":
        if pool is None:
            raise ValueError("the self opponent needs a pool of past copies")
        kwargs["opponent"] = pool.bot
    mode = vector_mode(settings)
    if mode == "vector_entry_point":
        return gymnasium.make_vec(settings.env_id, num_envs=settings.num_envs, vectorization_mode=mode, **kwargs)
    return gymnasium.make_vec(settings.env_id, num_envs=settings.num_envs, vectorization_mode="sync",
                              vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
                              wrappers=[atari_pipeline] if is_atari(settings.env_id) else None, **kwargs)


def vector_mode(settings: RunSettings) -> str:
    """``vector_entry_point`` when the agent reads next-step autoreset (policy gradients) and the
    task registers a batched env, else ``sync`` (always for Atari: the ALE's own batched env
    does its own preprocessing)."""
    register(settings.env_id)
    spec = gymnasium.spec(settings.env_id)
    batched = spec.vector_entry_point is not None and not spec.additional_wrappers and not is_atari(settings.env_id)
    return "vector_entry_point" if settings.agent in PG_AGENTS and batched else "sync"


def is_atari(env_id: str) -> bool:
    """An Atari game of the ALE (``ALE/Pong-v5``)."""
    return env_id.startswith("ALE/")


def register(env_id: str) -> None:
    """Register the ids ``env_id`` needs: our games always, the ALE's (lazily) for ``ALE/...``.

    Raises:
        ValueError: an ``ALE/...`` id without ale-py installed, naming the extra to install.
    """
    import envs  # noqa: F401 - registers the arena/... ids

    if is_atari(env_id):
        try:
            import ale_py
            import cv2  # noqa: F401 - AtariPreprocessing resizes frames with OpenCV
        except ImportError as e:
            raise ValueError(f"{env_id} needs the Atari extra (ale-py, which ships the ROMs, and OpenCV; {e}): "
                             'pip install "arena[atari]"') from None
        gymnasium.register_envs(ale_py)


def atari_pipeline(env: gymnasium.Env) -> gymnasium.Env:
    """The DQN preprocessing of an ALE env made with ``frameskip=1``: uint8 ``[4, 84, 84]`` observations."""
    env = AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True, scale_obs=False)
    return FrameStackObservation(env, stack_size=4)


def build_learner(settings: RunSettings, config: dict[str, Any], env: gymnasium.Env) -> Any:
    """The agent's learner for ``env``'s spaces (lists in ``config`` become tuples)."""
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return agent_module(settings.agent).make_learner(
        settings.agent, config, env.observation_space, env.action_space, settings.num_envs, settings.device,
        settings.seed)


def settings_from_dict(data: dict[str, Any]) -> RunSettings:
    return RunSettings(**{f.name: data[f.name] for f in dataclasses.fields(RunSettings)})


def checked_env(settings: RunSettings) -> gymnasium.Env:
    """The evaluation env, with an unknown task turned into a clear error."""
    try:
        return make_env(settings)
    except gymnasium.error.Error as e:
        raise ValueError(f"unknown task {settings.task!r} ({e}); use a Gymnasium id such as CartPole-v1, "
                         f"or one of our games: {', '.join(GAMES)}") from None


def _check_keys(values: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where}; known keys: {sorted(known)}")
