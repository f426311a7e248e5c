"""Training tools chosen by config, and ``fit``: the generic supervised loop every script uses.

``fit`` does epochs of minibatches with the optimizer and schedule named in :class:`TrainConfig`,
optional L1/L2 penalties, gradient clipping, mixed precision on CUDA and augmentation; after each
epoch it evaluates on the validation split, keeps the best weights (by a monitored metric),
stops early when that metric stops improving, and reports through callbacks. It prints nothing
and writes nothing: arena turns the callbacks into progress bars and files.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nets.data import batches
from nets.distributed import all_reduce_sum, data_parallel, process_rank, shard

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
Schedule = Literal["constant", "step", "cosine", "onecycle", "plateau"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field is a command-line flag of ``arena supervised``."""

    epochs: int = 30
    """Passes over the training split (early stopping may end sooner)."""
    batch_size: int = 64
    """Minibatch size."""
    optimizer: Optimizer = "adam"
    """sgd, momentum (heavy ball), nesterov, adagrad, rmsprop, adam or adamw (torch's own)."""
    lr: float = 1e-3
    """Learning rate (the peak one for onecycle)."""
    momentum: float = 0.9
    """Momentum for momentum/nesterov (and rmsprop's)."""
    weight_decay: float = 0.0
    """Optimizer weight decay (decoupled for adamw, an L2 gradient term otherwise)."""
    l1: float = 0.0
    """L1 penalty on all weights (not biases), added to the loss."""
    l2: float = 0.0
    """L2 penalty (sum of squares) on all weights (not biases), added to the loss."""
    schedule: Schedule = "constant"
    """Learning-rate schedule: constant, step (x gamma every step_size epochs), cosine, onecycle,
    plateau (x gamma when the monitored metric stalls for 3 epochs)."""
    step_size: int = 10
    """Epochs between decays of the step schedule."""
    gamma: float = 0.1
    """Decay factor of the step and plateau schedules."""
    grad_clip: float | None = None
    """Clip the global gradient norm to this value."""
    early_stopping: int | None = None
    """Stop after this many epochs without improvement of the monitored metric."""
    amp: bool = False
    """Mixed precision (bfloat16 autocast) on CUDA; ignored on the CPU."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto takes CUDA when present."""
    seed: int = 0
    """Seeds torch, numpy and random: the same seed gives the same run on the CPU."""


class EpochLog(NamedTuple):
    """What a callback sees after every epoch."""

    epoch: int
    metrics: dict[str, float]  # train_loss, val_* metrics, lr, wall_time
    improved: bool


class FitResult(NamedTuple):
    """The trained model (best weights restored) and its history."""

    model: nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    best: dict[str, float]
    wall_time: float
    stopped_early: bool


LossFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor]
EvalFn = Callable[[nn.Module, tuple[torch.Tensor, ...]], dict[str, float]]


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU (use --device auto or cpu)")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, numpy and random; returns a CPU generator for shuffling and augmentation."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    return torch.Generator().manual_seed(seed)


def make_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    """torch's optimizer named by ``cfg.optimizer``."""
    o, lr, wd = cfg.optimizer, cfg.lr, cfg.weight_decay
    if o == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if o in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=o == "nesterov", weight_decay=wd)
    if o == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    if o == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=0.0, weight_decay=wd)
    if o == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if o == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {o!r}")


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    """The schedule named by ``cfg.schedule`` (``None`` for constant). onecycle steps per batch,
    the others per epoch (plateau with the monitored metric)."""
    s = cfg.schedule
    if s == "constant":
        return None
    if s == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
    if s == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
    if s == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch)
    if s == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.gamma, patience=3)
    raise ValueError(f"unknown schedule {s!r}")


def budget_cosine(progress: float, floor: float = 0.0) -> float:
    """A learning-rate multiplier over a budget: a half cosine from 1 at ``progress`` 0 down to
    ``floor`` at 1 (``progress``, the share of the step or time budget used, clipped at 1)."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every parameter group of ``optimizer`` at ``lr`` (schedules computed by the caller)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def weight_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor:
    """``l1 * sum|w| + l2 * sum w^2`` over weight tensors (dim > 1; biases and norms excluded)."""
    weights = [p for p in model.parameters() if p.dim() > 1 and p.requires_grad]
    total = torch.zeros((), device=weights[0].device if weights else "cpu")
    if l1:
        total = total + l1 * sum(w.abs().sum() for w in weights)
    if l2:
        total = total + l2 * sum((w * w).sum() for w in weights)
    return total


def optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                   grad_clip: float | None) -> None:
    """One update: clear the gradients, backpropagate ``loss``, clip the global gradient norm
    to ``grad_clip`` (None: no clipping) and step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def flatten_parameters(*modules: nn.Module) -> nn.Parameter:
    """Move the parameters of ``modules`` into one contiguous tensor and their gradients into a
    second; every parameter becomes a view of the first, its ``.grad`` a view of the second.

    Returns the flat parameter, whose ``.grad`` is the flat gradient: hand it to the optimizer
    and to gradient clipping instead of the modules' parameters. Why: for small networks the
    per-tensor overhead dominates; Adam and norm clipping on one tensor cost about a third of
    what they cost on the ~12 tensors of a small MLP. Clear gradients with ``flat.grad.zero_()``
    (``zero_grad(set_to_none=True)`` would detach the views), and move the modules to their
    device before flattening.
    """
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("flatten_parameters: the modules have no trainable parameters")
    if len({(p.dtype, p.device) for p in params}) > 1:
        raise ValueError("flatten_parameters: the parameters must share one dtype and device")
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    grad = torch.zeros_like(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.data = flat[offset:offset + n].view_as(p)
        p.grad = grad[offset:offset + n].view_as(p)  # backward accumulates into it in place
        offset += n
    out = nn.Parameter(flat)
    out.grad = grad
    return out


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, ...],
    loss_fn: LossFn,
    cfg: TrainConfig,
    val: tuple[torch.Tensor, ...] | None = None,
    evaluate: EvalFn | None = None,
    monitor: str = "val_loss",
    mode: Literal["min", "max"] = "min",
    augment: Callable[[tuple[torch.Tensor, ...], torch.Generator], tuple[torch.Tensor, ...]] | None = None,
    callbacks: Sequence[Callable[[EpochLog], None]] = (),
) -> FitResult:
    """Train ``model`` on ``train`` (aligned tensors, e.g. ``(x, y)``) and return the best weights.

    ``loss_fn(model, batch)`` gives the mean training loss of a batch (the model is in train
    mode). After each epoch ``evaluate(model, val)`` (eval mode, no grad) gives metrics named
    ``val_*``; without it the validation metric is ``val_loss`` from ``loss_fn``. The weights with
    the best ``monitor`` value are restored at the end (without a validation split: the last).
    ``augment(batch, generator)`` transforms each training batch.

    Under a torch.distributed process group (``arena ... --nproc N`` through torchrun; see
    nets/distributed.py) each process runs this same loop with the same seed, so all draw the
    same global batch; each trains on its shard of it, DDP averages the gradients, and every
    process ends with the same weights as one process would (up to float rounding; batch
    norm is synchronized over the processes). ``train_loss`` is then the mean over the whole batch.
    """
    generator = seed_everything(cfg.seed)
    device = select_device(cfg.device)
    model.to(device)
    train = tuple(t.to(device) for t in train)
    val = tuple(t.to(device) for t in val) if val is not None and len(val[0]) else None
    rank, world = process_rank()
    trained = data_parallel(model, device)  # the model itself in a single process
    opt = make_optimizer(model.parameters(), cfg)
    steps = max(1, -(-len(train[0]) // cfg.batch_size))
    sched = make_scheduler(opt, cfg, steps)
    use_amp = cfg.amp and device.type == "cuda"
    sign = 1.0 if mode == "min" else -1.0
    best_score, best_state, best_epoch, best = float("inf"), None, 0, {}
    history: list[dict[str, float]] = []
    start, stale, stopped = time.perf_counter(), 0, False
    for epoch in range(1, cfg.epochs + 1):
        trained.train()
        total, count = 0.0, 0
        for batch in batches(train, cfg.batch_size, shuffle=True, generator=generator):
            if augment is not None:
                batch = augment(batch, generator)
            part, weight = shard(batch, rank, world)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = loss_fn(trained, part)
            if cfg.l1 or cfg.l2:
                loss = loss + weight_penalty(model, cfg.l1, cfg.l2)
            optimizer_step(model, opt, loss * weight if world > 1 else loss, cfg.grad_clip)
            if cfg.schedule == "onecycle":
                sched.step()
            total += float(loss.detach()) * len(part[0]) * (weight > 0)
            count += len(part[0]) * (weight > 0)
        total, count = all_reduce_sum([total, count], device)
        metrics = {"epoch": float(epoch), "train_loss": total / max(count, 1), "lr": opt.param_groups[0]["lr"]}
        if val is not None:
            metrics.update(_validate(model, val, loss_fn, evaluate))
        metrics["wall_time"] = time.perf_counter() - start
        score = sign * metrics.get(monitor, metrics["train_loss"] if val is None else float("nan"))
        improved = val is None or score < best_score
        if improved:
            best_score, best_epoch, best = score, epoch, dict(metrics)
            best_state = copy.deepcopy(model.state_dict())
            stale = 0
        else:
            stale += 1
        history.append(metrics)
        for cb in callbacks:
            cb(EpochLog(epoch, metrics, improved))
        if cfg.schedule in ("step", "cosine"):
            sched.step()
        elif cfg.schedule == "plateau":
            sched.step(sign * score)
        if cfg.early_stopping is not None and val is not None and stale >= cfg.early_stopping:
            stopped = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, history, best_epoch, best, time.perf_counter() - start, stopped)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """``model(x)`` in eval mode and in batches, concatenated (for metrics on whole splits)."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)])


def classification_loss(label_smoothing: float = 0.0) -> LossFn:
    """``loss_fn`` for ``fit`` on ``(x, labels)`` batches: mean cross-entropy of ``model(x)``."""
    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return F.cross_entropy(model(batch[0]), batch[1], label_smoothing=label_smoothing)

    return loss_fn


def classification_metrics(model: nn.Module, val: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """``evaluate`` for ``fit`` on ``(x, labels)``: ``val_loss`` (plain cross-entropy) and
    ``val_accuracy``."""
    logits = predict(model, val[0])
    return {"val_loss": float(F.cross_entropy(logits, val[1].to(logits.device))), "val_accuracy": accuracy(logits, val[1])}


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose argmax is the label."""
    return float((logits.argmax(dim=1) == labels.to(logits.device)).float().mean())


@torch.no_grad()
def _validate(model: nn.Module, val: tuple[torch.Tensor, ...], loss_fn: LossFn, evaluate: EvalFn | None) -> dict[str, float]:
    """Validation metrics in eval mode: ``evaluate``'s, or the mean ``val_loss`` over batches."""
    model.eval()
    if evaluate is not None:
        return evaluate(model, val)
    total, count = 0.0, 0
    for batch in batches(val, 1024, shuffle=False):
        total += float(loss_fn(model, batch)) * len(batch[0])
        count += len(batch[0])
    return {"val_loss": total / max(count, 1)}
