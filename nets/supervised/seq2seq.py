"""Encoder-decoder LSTMs with and without attention on generated tasks (reverse, sort, addition).

For every task and every attention kind a fresh ``Seq2Seq`` is trained for ``steps`` Adam steps
on batches of freshly generated examples whose length is drawn uniformly from
``[min_length, max_length]`` (one length per batch), with teacher forcing and gradient clipping.
It is then scored by greedy decoding on held-out examples (a seed apart from training's) at each
of ``test_lengths``, which may exceed the longest trained length: ``sequence_accuracy`` is the
fraction of examples whose every target token (``EOS`` included) is right, ``token_accuracy`` the
fraction of right target positions. The headline table is ``metrics["table"][task][attention]
[length]``; the attention maps of a few test examples are returned for pictures.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nets.data import SeqTaskName as TaskName
from nets.data import decode_tokens, make_task
from nets.seq2seq import AttentionKind, Seq2Seq, Seq2SeqConfig, greedy_decode, teacher_input
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar
from nets.train import EpochLog, TrainConfig, make_optimizer, optimizer_step, seed_everything, select_device


@dataclass(frozen=True)
class Seq2SeqTask:
    """What is trained and how it is scored. Of ``train``, only batch_size, optimizer, lr,
    weight_decay, grad_clip, device and seed are used: the budget is ``steps``."""

    net: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    """Architecture; its ``attention`` is replaced by each of ``attentions`` in turn."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=64, lr=3e-3, grad_clip=1.0))
    """Optimisation (Adam with clipping by default)."""
    tasks: tuple[TaskName, ...] = ("reverse", "sort", "addition")
    """Generated tasks, one model per task and attention kind."""
    attentions: tuple[AttentionKind, ...] = ("none", "bahdanau")
    """Attention kinds compared on every task (none, bahdanau, luong)."""
    steps: int = 3000
    """Optimizer steps per model (addition with attention was at 33% sequence accuracy after
    1,500 steps, 99% after 3,000)."""
    min_length: int = 1
    """Shortest training sequence (digits; per operand for addition)."""
    max_length: int = 10
    """Longest training sequence."""
    addition_max_length: int = 5
    """Longest training operand for addition (its source is 2L + 1 tokens); test lengths are
    scaled by ``addition_max_length / max_length`` for it."""
    test_lengths: tuple[int, ...] = (5, 10, 15, 20)
    """Lengths scored after training (longer than max_length tests generalization)."""
    test_examples: int = 500
    """Held-out examples per test length."""
    eval_every: int = 100
    """Steps between validation scores (one metrics line each)."""
    val_examples: int = 256
    """Validation examples at max_length per evaluation."""
    attention_examples: int = 3
    """Test examples whose attention maps are returned (at max_length)."""

    def __post_init__(self) -> None:
        for name in ("steps", "min_length", "eval_every", "val_examples", "test_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_length < self.min_length or self.addition_max_length < 1:
            raise ValueError(f"need 1 <= min_length <= max_length, got {self.min_length}, {self.max_length}")
        if not self.tasks or not self.attentions:
            raise ValueError("give at least one task and one attention kind")
        if any(n < 1 for n in self.test_lengths):
            raise ValueError(f"test lengths must be >= 1, got {self.test_lengths}")

    def quick(self) -> Seq2SeqTask:
        """A seconds-long version: a small network, reverse only, 60 steps per model."""
        return replace(self, net=replace(self.net, embedding=16, hidden=32), tasks=("reverse",), steps=60,
                       eval_every=20, max_length=6, test_lengths=(3, 6, 9), test_examples=50, val_examples=50,
                       train=replace(self.train, batch_size=32, lr=1e-2))

    def lengths(self, task: TaskName) -> tuple[int, int, tuple[int, ...]]:
        """``(min, max, test lengths)`` of ``task`` (addition's are scaled to its operand length)."""
        if task != "addition":
            return self.min_length, self.max_length, self.test_lengths
        scale = self.addition_max_length / self.max_length
        tests = tuple(dict.fromkeys(max(1, round(n * scale)) for n in self.test_lengths))
        return min(self.min_length, self.addition_max_length), self.addition_max_length, tests


def train(cfg: Seq2SeqTask, data: None = None, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train and score one model per (task, attention kind) on generated examples (``data`` is
    None: the task makes its own); callbacks get every evaluation (rows name task and attention).

    Returns:
        ``model``: an ``nn.ModuleDict`` (``<task>_<attention>`` -> Seq2Seq, on the CPU); ``metrics``:
        ``table[task][attention][length]`` -> ``{sequence_accuracy, token_accuracy}``, flat
        ``test_*_accuracy_<task>_<attention>`` at the longest trained length, ...; ``history``: one
        row per evaluation; ``figures``: ``attention_<task>_<attention>`` weights ``[n, T, S]``;
        ``artifacts["attention_examples"]``: the same keys, the examples' source, target and
        prediction strings.
    """
    device = select_device(cfg.train.device)
    start = time.perf_counter()
    models, history, figures, examples = nn.ModuleDict(), [], {}, {}
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for ti, task in enumerate(cfg.tasks):
        for ai, attention in enumerate(cfg.attentions):
            seed = cfg.train.seed * 1000 + ti * 10 + ai
            model, rows = _fit_one(cfg, task, attention, seed, device, callbacks, len(history), start)
            history += rows
            name = f"{task}_{attention}"
            models[name] = model.cpu()
            scores = {}
            for length in cfg.lengths(task)[2]:
                scores[str(length)] = score(model, task, length, cfg.test_examples, seed=10_000 + cfg.train.seed)
            table.setdefault(task, {})[attention] = scores
            if attention != "none" and cfg.attention_examples > 0:
                figures[f"attention_{name}"], examples[f"attention_{name}"] = _attention_examples(cfg, model, task)
    metrics: dict[str, Any] = {"table": table}
    for task, by_attention in table.items():  # flat headline names, at the longest trained length
        longest = str(cfg.lengths(task)[1])
        for attention, scores in by_attention.items():
            if longest in scores:
                metrics[f"test_sequence_accuracy_{task}_{attention}"] = scores[longest]["sequence_accuracy"]
                metrics[f"test_token_accuracy_{task}_{attention}"] = scores[longest]["token_accuracy"]
    metrics.update({
        "steps": cfg.steps, "wall_time": time.perf_counter() - start,
        "parameters": {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()},
    })
    return SupervisedResult(models, metrics, history, figures, {"attention_examples": examples})


def checkpoints(cfg: Seq2SeqTask, data: None, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint holding every model (keys ``<task>_<attention>.*``)."""
    return {"model": Part(result.model, {"config": dataclasses.asdict(cfg), "models": list(result.model.keys())})}


def build(sidecar: dict[str, Any]) -> nn.ModuleDict:
    """Every model of a seq2seq checkpoint, keyed ``<task>_<attention>``."""
    task = from_sidecar(Seq2SeqTask, sidecar["config"])
    return nn.ModuleDict({name: Seq2Seq(replace(task.net, attention=name.rsplit("_", 1)[1]))
                          for name in sidecar["models"]})


@torch.no_grad()
def score(model: Seq2Seq, task: TaskName, length: int, examples: int, seed: int, batch: int = 250) -> dict[str, float]:
    """Greedy-decoding accuracy on ``examples`` generated examples of ``length``.

    Returns ``sequence_accuracy`` (every target token, EOS included, right) and ``token_accuracy``
    (fraction of right target positions). The model is left in eval mode.
    """
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed * 7919 + length)
    right_seq = right_tok = tokens = 0
    for begin in range(0, examples, batch):
        data = make_task(task, min(batch, examples - begin), length, generator)
        target = data.target.to(device)
        pred = greedy_decode(model, data.source.to(device), target.shape[1]).logits.argmax(-1)  # (B, T)
        hit = pred == target
        right_seq += int(hit.all(1).sum())
        right_tok += int(hit.sum())
        tokens += hit.numel()
    return {"sequence_accuracy": right_seq / examples, "token_accuracy": right_tok / tokens}


def _fit_one(
    cfg: Seq2SeqTask, task: TaskName, attention: AttentionKind, seed: int, device: torch.device,
    callbacks: Sequence[Callback], logged: int, start: float,
) -> tuple[Seq2Seq, list[dict[str, Any]]]:
    """Train one model; returns it (best validation weights are not kept: fresh data never overfits)."""
    generator = seed_everything(seed)
    model = Seq2Seq(replace(cfg.net, attention=attention)).to(device)
    opt = make_optimizer(model.parameters(), cfg.train)
    low, high, _ = cfg.lengths(task)
    rows: list[dict[str, Any]] = []
    total, count = 0.0, 0
    for step in range(1, cfg.steps + 1):
        model.train()
        length = int(torch.randint(low, high + 1, (1,), generator=generator))
        data = make_task(task, cfg.train.batch_size, length, generator)
        source, target = data.source.to(device), data.target.to(device)
        logits = model(source, teacher_input(target)).logits  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        optimizer_step(model, opt, loss, cfg.train.grad_clip)
        total, count = total + float(loss.detach()), count + 1
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val = score(model, task, high, cfg.val_examples, seed=5_000 + seed)
            row = {"task": task, "attention": attention, "step": float(step), "train_loss": total / count,
                   "val_sequence_accuracy": val["sequence_accuracy"], "val_token_accuracy": val["token_accuracy"],
                   "wall_time": time.perf_counter() - start}
            rows.append(row)
            total, count = 0.0, 0
            for cb in callbacks:
                cb(EpochLog(logged + len(rows), row, False))
    model.eval()
    return model, rows


@torch.no_grad()
def _attention_examples(cfg: Seq2SeqTask, model: Seq2Seq, task: TaskName) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Attention weights ``[n, T, S]`` of ``attention_examples`` test examples at the longest trained length."""
    data = make_task(task, cfg.attention_examples, cfg.lengths(task)[1], torch.Generator().manual_seed(12_345))
    device = next(model.parameters()).device
    out = greedy_decode(model, data.source.to(device), data.target.shape[1])
    pred = out.logits.argmax(-1).cpu()
    assert out.attention is not None
    texts = [{"source": decode_tokens(s), "target": decode_tokens(t), "prediction": decode_tokens(p)}
             for s, t, p in zip(data.source, data.target, pred, strict=True)]
    return out.attention.cpu().numpy(), texts
