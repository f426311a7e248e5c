"""Neural Turing machines against LSTMs of similar size on the copy and priority-sort tasks.

For every task an ``NTM`` and an ``LSTMBaseline`` whose width is chosen to match the NTM's
parameter count (unless ``lstm_hidden`` is given) are trained for ``steps`` Adam steps on the
same stream of generated batches (sequence length uniform in ``[min_length, max_length]``, one
length per batch), with binary cross-entropy on the output phase and gradient clipping. Both are
scored on held-out sequences at every test length (``max_length`` and ``test_factor`` times it,
longer than anything trained on) in bits wrong per sequence (Graves et al. 2014, figure 3's
"cost per sequence" counted in bits). The memory weightings of one NTM run over a long sequence
and example outputs are returned for pictures.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nets.data import BitBatch, copy_task, priority_sort_task
from nets.ntm import NTM, LSTMBaseline, LSTMBaselineConfig, NTMConfig, bit_errors, lstm_hidden_for
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar
from nets.train import EpochLog, TrainConfig, make_optimizer, optimizer_step, seed_everything, select_device

TaskKind = Literal["copy", "sort"]
_TASKS: dict[str, Callable[[int, int, int, torch.Generator], BitBatch]] = {
    "copy": copy_task, "sort": priority_sort_task,
}


@dataclass(frozen=True)
class NTMTask:
    """What is trained and how it is scored. Of ``train``, only batch_size, optimizer, lr,
    weight_decay, grad_clip, device and seed are used: the budget is ``steps``."""

    net: NTMConfig = field(default_factory=lambda: NTMConfig(
        input_size=9, output_size=8, controller_size=100, memory_slots=32, memory_width=20,
    ))
    """NTM shape; input_size and output_size are set from ``bits`` and the task. memory_slots
    must hold the longest test sequence."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=32, lr=2e-3, grad_clip=10.0))
    """Optimisation of both networks (Adam with clipping by default)."""
    tasks: tuple[TaskKind, ...] = ("copy",)
    """copy and/or sort (Graves et al. 2014's priority sort: ``--tasks copy sort``). Sort is not
    in the default: in 1,500 steps neither network learned it (29.4 and 30.2 bits wrong of 80 at
    length 10, chance is 40), where the NTM copies perfectly."""
    bits: int = 8
    """Width of each vector."""
    min_length: int = 1
    """Shortest training sequence."""
    max_length: int = 10
    """Longest training sequence (the first test length)."""
    test_factor: int = 2
    """The second test length is this times max_length (generalization)."""
    steps: int = 1500
    """Optimizer steps per network."""
    lstm_hidden: int | None = None
    """Baseline LSTM width (None: about the NTM's parameter count)."""
    eval_every: int = 100
    """Steps between validation scores (one metrics line each)."""
    val_examples: int = 64
    """Validation sequences at max_length per evaluation."""
    test_examples: int = 256
    """Test sequences per test length."""

    def __post_init__(self) -> None:
        for name in ("bits", "min_length", "steps", "eval_every", "val_examples", "test_examples", "test_factor"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_length < self.min_length:
            raise ValueError(f"max_length ({self.max_length}) < min_length ({self.min_length})")
        if not self.tasks or any(t not in _TASKS for t in self.tasks):
            raise ValueError(f"tasks must be copy and/or sort, got {self.tasks}")

    def quick(self) -> NTMTask:
        """A seconds-long version: copy only, short sequences, small networks, 40 steps each."""
        return replace(
            self, net=replace(self.net, controller_size=32, memory_slots=12, memory_width=8),
            tasks=("copy",), bits=4, max_length=4, steps=40, eval_every=20, val_examples=32, test_examples=32,
            train=replace(self.train, batch_size=16, lr=5e-3),
        )

    @property
    def test_lengths(self) -> tuple[int, ...]:
        """The trained length and ``test_factor`` times it."""
        return tuple(dict.fromkeys((self.max_length, self.test_factor * self.max_length)))

    def ntm_config(self, task: TaskKind) -> NTMConfig:
        """The NTM shape for ``task`` (input: bits + delimiter, + priority for sort)."""
        return replace(self.net, input_size=self.bits + (1 if task == "copy" else 2), output_size=self.bits)


def train(cfg: NTMTask, data: None = None, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train and score an NTM and an LSTM per task on generated batches (``data`` is None: the
    task makes its own); callbacks get every evaluation (rows name their task and model).

    Returns:
        ``model``: an ``nn.ModuleDict`` (``ntm_<task>`` -> NTM, ``lstm_<task>`` -> LSTMBaseline, on
        the CPU); ``metrics``: ``test_bit_error``, ``lstm_test_bit_error`` (and ``_long``),
        ``table[task][model][length]``, ...; ``history``: one row per evaluation; ``figures``:
        ``<task>_read_weights``/``_write_weights`` ``[T, N]`` and ``<task>_<part>`` bit images.
    """
    device = select_device(cfg.train.device)
    start = time.perf_counter()
    models, history, figures = nn.ModuleDict(), [], {}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for ti, task in enumerate(cfg.tasks):
        ntm_cfg = cfg.ntm_config(task)
        ntm = NTM(ntm_cfg)
        n_params = sum(p.numel() for p in ntm.parameters())
        hidden = cfg.lstm_hidden or lstm_hidden_for(n_params, ntm_cfg.input_size, ntm_cfg.output_size)
        for kind in ("ntm", "lstm"):
            seed = cfg.train.seed * 1000 + ti
            seed_everything(seed)  # the same initial-weight and data seeds for both kinds
            model = NTM(ntm_cfg) if kind == "ntm" else LSTMBaseline(
                LSTMBaselineConfig(ntm_cfg.input_size, ntm_cfg.output_size, hidden))
            rows = _fit(cfg, task, kind, model.to(device), seed, callbacks, len(history), start)
            history += rows
            models[f"{kind}_{task}"] = model
            table.setdefault(task, {})[kind] = {
                str(n): score(model, task, n, cfg.bits, cfg.test_examples, seed=10_000 + cfg.train.seed)
                for n in cfg.test_lengths
            }
        figures.update(_pictures(cfg, task, models[f"ntm_{task}"], models[f"lstm_{task}"]))
    metrics: dict[str, Any] = {"table": table}
    for task in cfg.tasks:
        for kind in ("ntm", "lstm"):
            for i, n in enumerate(cfg.test_lengths):
                prefix = "" if kind == "ntm" else "lstm_"
                metrics[f"{prefix}test_bit_error_{task}_{n}"] = table[task][kind][str(n)]
                if task == cfg.tasks[0]:  # headline names: the first task at the trained length and longer
                    metrics[f"{prefix}test_bit_error{'' if i == 0 else '_long'}"] = table[task][kind][str(n)]
    metrics.update({
        "headline_task": cfg.tasks[0], "test_lengths": list(cfg.test_lengths), "steps": cfg.steps,
        "parameters": {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()},
        "wall_time": time.perf_counter() - start,
    })
    return SupervisedResult(models.cpu(), metrics, history, figures)


def checkpoints(cfg: NTMTask, data: None, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint holding every network (keys ``<model>_<task>.*``) and the LSTMs' widths."""
    lstm_hidden = {k: m.cfg.hidden for k, m in result.model.items() if isinstance(m, LSTMBaseline)}
    return {"model": Part(result.model, {"config": dataclasses.asdict(cfg), "models": list(result.model.keys()),
                                         "lstm_hidden": lstm_hidden})}


def build(sidecar: dict[str, Any]) -> nn.ModuleDict:
    """Every network of an ntm checkpoint, keyed ``<model>_<task>``."""
    task = from_sidecar(NTMTask, sidecar["config"])
    models = nn.ModuleDict()
    for name in sidecar["models"]:
        kind, task_name = name.split("_", 1)
        cfg = task.ntm_config(task_name)  # type: ignore[arg-type]
        models[name] = NTM(cfg) if kind == "ntm" else LSTMBaseline(
            LSTMBaselineConfig(cfg.input_size, cfg.output_size, int(sidecar["lstm_hidden"][name])))
    return models


def logits_of(model: nn.Module, inputs: Tensor) -> Tensor:
    """Output logits ``[B, T, O]`` of an NTM or an LSTM baseline."""
    out = model(inputs)
    return out.logits if isinstance(model, NTM) else out


@torch.no_grad()
def score(model: nn.Module, task: TaskKind, length: int, bits: int, examples: int, seed: int) -> float:
    """Mean bits wrong per sequence over ``examples`` held-out sequences of ``length`` (eval mode)."""
    model.eval()
    device = next(model.parameters()).device
    data = _TASKS[task](examples, length, bits, torch.Generator().manual_seed(seed * 7919 + length))
    out = logits_of(model, data.inputs.to(device))[:, length + 1 :]
    return float(bit_errors(out, data.targets.to(device)).mean())


def _fit(
    cfg: NTMTask, task: TaskKind, kind: str, model: nn.Module, seed: int,
    callbacks: Sequence[Callback], logged: int, start: float,
) -> list[dict[str, Any]]:
    """Train ``model`` in place on generated batches; returns its evaluation rows."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    opt = make_optimizer(model.parameters(), cfg.train)
    rows: list[dict[str, Any]] = []
    total = errors = 0.0
    count = 0
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        model.train()
        length = int(torch.randint(cfg.min_length, cfg.max_length + 1, (1,), generator=generator))
        data = _TASKS[task](cfg.train.batch_size, length, cfg.bits, generator)
        target = data.targets.to(device)
        out = logits_of(model, data.inputs.to(device))[:, length + 1 :]  # (B, T, bits): the output phase
        loss = F.binary_cross_entropy_with_logits(out, target)
        optimizer_step(model, opt, loss, cfg.train.grad_clip)
        total, count = total + float(loss.detach()), count + 1
        errors += float(bit_errors(out.detach(), target).mean())
        if step % cfg.eval_every == 0 or step == cfg.steps:
            row = {"task": task, "model": kind, "step": float(step),
                   "sequences": float(step * cfg.train.batch_size), "train_loss": total / count,
                   "train_bit_error": errors / count,
                   "val_bit_error": score(model, task, cfg.max_length, cfg.bits, cfg.val_examples, 5_000 + seed),
                   "train_time": time.perf_counter() - t0, "wall_time": time.perf_counter() - start}
            rows.append(row)
            total = errors = 0.0
            count = 0
            for cb in callbacks:
                cb(EpochLog(logged + len(rows), row, False))
    model.eval()
    return rows


@torch.no_grad()
def _pictures(cfg: NTMTask, task: TaskKind, ntm: NTM, lstm: nn.Module) -> dict[str, np.ndarray]:
    """One test sequence at the longest test length: the NTM's read/write weightings ``[T, N]``
    and the input, target and both networks' output probabilities as bit images ``[rows, T]``."""
    length = cfg.test_lengths[-1]
    device = next(ntm.parameters()).device
    data = _TASKS[task](1, length, cfg.bits, torch.Generator().manual_seed(4_242))
    inputs = data.inputs.to(device)
    out = ntm(inputs)
    lstm_out = logits_of(lstm, inputs)
    return {
        f"{task}_read_weights": out.read_weights[0, :, 0].cpu().numpy(),  # (T, N), the first read head
        f"{task}_write_weights": out.write_weights[0].cpu().numpy(),  # (T, N)
        f"{task}_input": data.inputs[0].T.numpy(),  # (I, 2T + 1)
        f"{task}_target": data.targets[0].T.numpy(),  # (bits, T)
        f"{task}_ntm_output": torch.sigmoid(out.logits[0, length + 1 :]).T.cpu().numpy(),
        f"{task}_lstm_output": torch.sigmoid(lstm_out[0, length + 1 :]).T.cpu().numpy(),
    }
