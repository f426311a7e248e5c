"""A character-level LSTM language model (Karpathy's char-rnn; Graves 2013) trained to a time budget.

Training draws random windows of ``seq_len + 1`` characters from the training text (truncated
backpropagation through time over each window, starting from a zero state) and runs Adam with
gradient clipping and a warmup + cosine learning rate that decays over the *budget*: the schedule's
progress is the larger of ``step / max_steps`` and ``elapsed / (minutes * 60)``, so a run that is
stopped by the clock still ends at a low learning rate. Held-out text is scored in bits per
character with the recurrent state carried across chunks (``evaluate_bits``); the validation
score is taken on a fixed prefix of the validation split so it stays cheap, the test score on the
whole test split. Goal (issue 3): <= 2.0 test bits/char within 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nets.data import TextSplits
from nets.rnn import CharLM, CharLMConfig, Vocabulary, bits_per_char, sample
from nets.supervised import Callback, Part, SupervisedResult, from_sidecar
from nets.train import (EpochLog, TrainConfig, budget_cosine, make_optimizer, optimizer_step, seed_everything,
                        select_device, set_learning_rate, weight_penalty)


@dataclass(frozen=True)
class CharRNNTask:
    """The language model and how it is trained. Of ``train``, the fields epochs, step_size, gamma,
    early_stopping and amp are unused: the budget is ``max_steps`` and ``minutes``."""

    net: CharLMConfig = field(default_factory=lambda: CharLMConfig(
        vocab_size=1, embedding=64, hidden=512, layers=1, dropout=0.25,
    ))
    """Architecture (vocab_size is set from the text). One wide layer learns faster per CPU second
    than two (a 2x256 LSTM was still above 2.5 bits/char after 150 CPU-seconds, 1x256 at 2.0);
    dropout matters because the held-out text is other files: 1x256 without it overfit in 10
    minutes (test 2.06), 1x512 with dropout 0.25 reached 1.86."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        batch_size=32, optimizer="adam", lr=5e-3, schedule="cosine", grad_clip=1.0,
    ))
    """Optimisation: schedule constant, or cosine/onecycle (warmup then cosine over the budget)."""
    forget_bias: float = 1.0
    """Initial LSTM forget-gate bias (Jozefowicz et al. 2015: 1 lets gradients through early on)."""
    seq_len: int = 64
    """Characters per training window (the truncated-BPTT length): short windows and small
    batches give more optimizer steps per CPU second, which matters more than context here."""
    minutes: float = 10.0
    """Wall-clock budget for training, periodic evaluation included."""
    max_steps: int = 1_000_000
    """Most optimizer steps (the budget when the clock does not end the run first)."""
    warmup_steps: int = 50
    """Steps of linear learning-rate warmup."""
    min_lr_fraction: float = 0.05
    """The cosine schedule ends at this fraction of the peak learning rate."""
    eval_every: int = 200
    """Steps between validation scores (one metrics line each)."""
    eval_seconds: float | None = 30.0
    """Also score when this many seconds passed since the last score (a curve however slow the CPU)."""
    eval_chars: int = 20_000
    """Validation characters scored each time (a fixed prefix of the validation split)."""
    sample_length: int = 1000
    """Characters generated after training."""
    temperature: float = 0.8
    """Sampling temperature (0 is greedy)."""
    prompt: str = ""
    """Text the sample continues (its characters must occur in the text); empty: a newline, or
    the vocabulary's first character when the text has no newline."""

    def __post_init__(self) -> None:
        for name in ("seq_len", "max_steps", "eval_every", "eval_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.minutes > 0:
            raise ValueError(f"minutes must be > 0, got {self.minutes}")
        if self.train.schedule not in ("constant", "cosine", "onecycle"):
            raise ValueError(f"char-rnn schedules are constant, cosine or onecycle, got {self.train.schedule!r}")

    def quick(self) -> CharRNNTask:
        """A seconds-long version: a small LSTM, short windows, 80 steps."""
        return replace(
            self, net=replace(self.net, embedding=16, hidden=64, layers=1),
            train=replace(self.train, batch_size=16, lr=1e-2), seq_len=32, max_steps=80, warmup_steps=5,
            eval_every=20, eval_seconds=None, eval_chars=2_000,
        )


def train(cfg: CharRNNTask, data: TextSplits, callbacks: Sequence[Callback] = ()) -> SupervisedResult:
    """Train on ``data.train``, keep the weights with the best validation score, score the test
    text and generate a sample. The vocabulary is the characters of all three texts (so scoring
    never meets an unknown character). Callbacks get an ``EpochLog`` per evaluation.

    Returns:
        ``model``: the ``CharLM`` (its ``cfg.vocab_size`` set from the text); ``metrics``:
        ``test_bits_per_char`` (the headline), ``val_bits_per_char``, ``steps``, ``chars_seen``,
        ...; ``history``: one row per evaluation; no figures; ``artifacts``: ``vocabulary`` (the
        ``Vocabulary``) and ``sample`` (``sample_length`` generated characters, the prompt not included).
    """
    train_text, val_text, test_text = data
    if len(train_text) < cfg.seq_len + 2:
        raise ValueError(f"the training text has {len(train_text)} characters; seq_len {cfg.seq_len} needs more")
    if len(test_text) < 2 or len(val_text) < 2:
        raise ValueError("the validation and test texts need at least 2 characters each (use larger split fractions)")
    generator = seed_everything(cfg.train.seed)
    device = select_device(cfg.train.device)
    vocab = Vocabulary.from_text(train_text + val_text + test_text)
    train_tokens = vocab.encode(train_text).to(device)
    val_tokens = vocab.encode(val_text[: cfg.eval_chars])
    test_tokens = vocab.encode(test_text)
    model = CharLM(replace(cfg.net, vocab_size=vocab.size)).to(device)
    _init_forget_bias(model, cfg.forget_bias)
    opt = make_optimizer(model.parameters(), cfg.train)
    budget = cfg.minutes * 60.0
    offsets = torch.arange(cfg.seq_len + 1, device=device)
    history: list[dict[str, float]] = []
    best_val, best_state = float("inf"), copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    step, total, count, last_eval = 0, 0.0, 0, start
    while step < cfg.max_steps and time.perf_counter() - start < budget:
        progress = max(step / cfg.max_steps, (time.perf_counter() - start) / budget)
        lr = cfg.train.lr * lr_factor(cfg, step, progress)
        set_learning_rate(opt, lr)
        model.train()
        starts = torch.randint(0, len(train_tokens) - cfg.seq_len - 1, (cfg.train.batch_size,), generator=generator)
        window = train_tokens[starts.to(device)[:, None] + offsets]  # (B, T + 1)
        logits, _ = model(window[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, vocab.size), window[:, 1:].reshape(-1))
        if cfg.train.l1 or cfg.train.l2:
            loss = loss + weight_penalty(model, cfg.train.l1, cfg.train.l2)
        optimizer_step(model, opt, loss, cfg.train.grad_clip)
        step += 1
        total, count = total + float(loss.detach()), count + 1
        now = time.perf_counter()
        out_of_time = now - start >= budget
        due = cfg.eval_seconds is not None and now - last_eval >= cfg.eval_seconds
        if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time or due:
            val_bits = evaluate_bits(model, val_tokens, streams=min(32, len(val_tokens) - 1), chunk=cfg.seq_len)
            improved = val_bits < best_val
            if improved:
                best_val, best_state = val_bits, copy.deepcopy(model.state_dict())
            row = {"epoch": float(len(history) + 1), "step": float(step),
                   "chars_seen": float(step * cfg.train.batch_size * cfg.seq_len),
                   "train_bits": total / count / math.log(2.0), "val_bits": val_bits, "lr": lr,
                   "wall_time": time.perf_counter() - start}
            history.append(row)
            total, count, last_eval = 0.0, 0, time.perf_counter()
            for cb in callbacks:
                cb(EpochLog(len(history), row, improved))
    train_time = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()
    test_bits = evaluate_bits(model, test_tokens, streams=min(32, len(test_tokens) - 1), chunk=cfg.seq_len)
    text = generate(model, vocab, cfg.sample_length, cfg.temperature, prompt=cfg.prompt, seed=cfg.train.seed)
    metrics = {
        "test_bits_per_char": test_bits,
        "val_bits_per_char": best_val,
        "best_step": int(history[int(np.argmin([r["val_bits"] for r in history]))]["step"]),
        "steps": step,
        "chars_seen": step * cfg.train.batch_size * cfg.seq_len,
        "train_time": train_time,
        "wall_time": time.perf_counter() - start,
        "vocab_size": vocab.size,
        "train_chars": len(train_text), "val_chars_scored": len(val_tokens), "test_chars": len(test_tokens),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return SupervisedResult(model, metrics, history, {}, {"vocabulary": vocab, "sample": text})


def checkpoints(cfg: CharRNNTask, data: TextSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint: the model, its task (with the network as trained) and its vocabulary."""
    config = dataclasses.asdict(replace(cfg, net=result.model.cfg))
    return {"model": Part(result.model, {"config": config, "vocabulary": list(result.artifacts["vocabulary"].chars)})}


def build(sidecar: dict[str, Any]) -> CharLM:
    """The language model of a char-rnn checkpoint (its task's ``net``)."""
    return CharLM(from_sidecar(CharRNNTask, sidecar["config"]).net)


@torch.no_grad()
def evaluate_bits(model: CharLM, tokens: Tensor, streams: int = 32, chunk: int = 256) -> float:
    """Mean bits per character of predicting ``tokens[1:]`` from what precedes them.

    The text ``[N]`` is cut into ``streams`` contiguous pieces read side by side, ``chunk``
    characters at a time, with the recurrent state carried from chunk to chunk (so context is
    not cut at chunk edges); the up to ``streams - 1`` characters left over at the end are not
    scored. The model is left in eval mode.
    """
    if tokens.dim() != 1 or len(tokens) < 2:
        raise ValueError(f"tokens must be 1-D with at least 2 ids, got shape {tuple(tokens.shape)}")
    streams = max(1, min(streams, len(tokens) - 1))
    model.eval()
    device = next(model.parameters()).device
    per = (len(tokens) - 1) // streams
    x = tokens[: per * streams].view(streams, per).to(device)  # (S, n)
    y = tokens[1 : per * streams + 1].view(streams, per).to(device)  # (S, n)
    state, bits = None, 0.0
    for i in range(0, per, chunk):
        logits, state = model(x[:, i : i + chunk], state)  # (S, c, V)
        target = y[:, i : i + chunk]  # (S, c)
        bits += float(bits_per_char(logits, target)) * target.numel()
    return bits / (per * streams)


def generate(
    model: CharLM, vocab: Vocabulary, length: int, temperature: float = 0.8, prompt: str = "", seed: int = 0,
) -> str:
    """``length`` characters sampled after ``prompt`` (not included; empty: a newline, or the
    vocabulary's first character without one); the same seed gives the same text."""
    prompt = prompt or ("\n" if "\n" in vocab.chars else vocab.chars[0])
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    tokens = sample(model, vocab.encode(prompt), length, temperature, generator)
    return vocab.decode(tokens[len(prompt) :].cpu())


def lr_factor(cfg: CharRNNTask, step: int, progress: float) -> float:
    """Multiplier of the peak learning rate: linear warmup, then cosine down to ``min_lr_fraction``
    as ``progress`` (fraction of the step or time budget used) goes from 0 to 1."""
    if cfg.train.schedule == "constant":
        return 1.0
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    return warm * budget_cosine(progress, cfg.min_lr_fraction)


@torch.no_grad()
def _init_forget_bias(model: CharLM, value: float) -> None:
    """Set the forget-gate slice of every LSTM input bias to ``value`` and of the hidden bias to 0
    (torch orders the gates input, forget, cell, output)."""
    if model.cfg.cell != "lstm":
        return
    H = model.cfg.hidden
    for name, p in model.named_parameters():
        if "bias_ih" in name:
            p[H : 2 * H] = value
        elif "bias_hh" in name:
            p[H : 2 * H] = 0.0
