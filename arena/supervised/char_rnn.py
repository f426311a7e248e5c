"""``arena supervised char-rnn``: the character-level LSTM (nets/supervised/char_rnn.py) and its run folder.

The text (the standard library's sources, or ``--text FILE``) is cut into contiguous
train/validation/test pieces by fractions, in that order. The run folder gets metrics.jsonl (one
line per evaluation), metrics.json (``test_bits_per_char`` is the headline), a learning-curve PNG,
``sample.txt`` and a checkpoint whose sidecar holds the vocabulary, so ``--checkpoint`` can load
it later and sample without training.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
import tyro
from tqdm import tqdm

from arena import runs
from arena.checkpoint import CheckpointError, config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.datasets import stdlib_text
from arena.supervised.common import Common
from nets.data import split_text
from nets.rnn import CharLM, Vocabulary
from nets.supervised import char_rnn
from nets.train import EpochLog, select_device


@dataclass(frozen=True)
class CharRnnCommand:
    """Character-level LSTM language model on the stdlib's source: goal <= 2.0 test bits/char in 10 minutes."""

    task: Annotated[char_rnn.CharRNNTask, tyro.conf.arg(name="")] = field(default_factory=char_rnn.CharRNNTask)
    text: Path | None = None
    """A UTF-8 text file to model instead of the standard library's sources."""
    max_chars: int = 1_500_000
    """Use at most this many characters of the text."""
    split: tuple[float, float, float] = (0.9, 0.05, 0.05)
    """Train/validation/test fractions, cut contiguously in that order."""
    checkpoint: Path | None = None
    """Sample from this char-rnn checkpoint (model.safetensors) instead of training."""
    common: Annotated[Common, tyro.conf.arg(name="")] = field(default_factory=Common)

    def run(self) -> Path:
        return run_char_rnn(self)


def run_char_rnn(cmd: CharRnnCommand) -> Path:
    """Train the language model (or sample from ``cmd.checkpoint``) and write the run folder."""
    torch.set_num_threads(cmd.common.threads)
    if cmd.checkpoint is not None:
        return _sample_only(cmd)
    task = _quick(cmd.task) if cmd.common.quick else cmd.task
    text = stdlib_text(min(cmd.max_chars, 100_000) if cmd.common.quick else cmd.max_chars, cmd.text)
    train_text, val_text, test_text = split_text(text, cmd.split)
    run_dir = runs.new_run_dir("supervised-char-rnn", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    load_before = os.getloadavg()
    with _Progress(run_dir, task.minutes * 60, cmd.common.progress) as progress:
        result = char_rnn.train(task, train_text, val_text, test_text, [progress])
    metrics = {
        **result.metrics, "device": str(select_device(task.train.device)), "threads": cmd.common.threads,
        "text": str(cmd.text) if cmd.text else "stdlib", "split": list(cmd.split), "temperature": task.temperature,
        "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
    }
    runs.write_json(run_dir / "metrics.json", metrics)
    (run_dir / "sample.txt").write_text(result.sample, encoding="utf-8")
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    runs.plot_curves(plots / "learning_curves.png", result.history,
                     {"bits per character": ["train_bits", "val_bits"], "learning rate": ["lr"]}, x="step",
                     title=f"char-rnn: test {metrics['test_bits_per_char']:.3f} bits/char")
    save_checkpoint(run_dir / "model.safetensors", result.model, {
        "kind": "supervised", "model": "char-rnn", "config": dataclasses.asdict(replace(task, net=result.model.cfg)),
        "vocabulary": list(result.vocab.chars), "metrics": metrics,
    })
    print(f"char-rnn: test {metrics['test_bits_per_char']:.3f} bits/char (val {metrics['val_bits_per_char']:.3f}) "
          f"after {metrics['steps']} steps, {metrics['chars_seen']:,} characters, {metrics['wall_time']:.0f} s "
          f"-> {run_dir}")
    return run_dir


def load_char_rnn(path: str | Path) -> tuple[CharLM, Vocabulary, char_rnn.CharRNNTask]:
    """The model (eval mode, CPU), vocabulary and task config of a char-rnn checkpoint."""
    tensors, meta = load_checkpoint(path)
    if meta.get("model") != "char-rnn" or "vocabulary" not in meta:
        raise CheckpointError(
            f"{path} is not a char-rnn checkpoint (its sidecar says model={meta.get('model')!r})")
    task = config_from_dict(char_rnn.CharRNNTask, meta["config"])
    vocab = Vocabulary(tuple(meta["vocabulary"]))
    if vocab.size != task.net.vocab_size:
        raise CheckpointError(
            f"{path}: the sidecar's vocabulary has {vocab.size} characters, its config {task.net.vocab_size}")
    return load_weights(CharLM(task.net), tensors, str(path)).eval(), vocab, task


def _sample_only(cmd: CharRnnCommand) -> Path:
    """Load ``cmd.checkpoint`` and write a sample (length, temperature, prompt and seed from ``cmd``)."""
    model, vocab, _ = load_char_rnn(cmd.checkpoint)  # type: ignore[arg-type]
    run_dir = runs.new_run_dir("supervised-char-rnn-sample", cmd.common.run_dir)
    runs.write_config(run_dir, cmd)
    t = cmd.task
    text = char_rnn.generate(model, vocab, t.sample_length, t.temperature, prompt=t.prompt, seed=t.train.seed)
    (run_dir / "sample.txt").write_text(text, encoding="utf-8")
    print(text)
    return run_dir


def _quick(task: char_rnn.CharRNNTask) -> char_rnn.CharRNNTask:
    """A seconds-long version: a small LSTM, short windows, 80 steps."""
    return replace(
        task, net=replace(task.net, embedding=16, hidden=64, layers=1),
        train=replace(task.train, batch_size=16, lr=1e-2), seq_len=32, max_steps=80, warmup_steps=5,
        eval_every=20, eval_seconds=None, eval_chars=2_000,
    )


class _Progress:
    """Evaluation callback: a metrics.jsonl line each, and a tqdm bar over the time budget."""

    def __init__(self, run_dir: Path, seconds: float, show: bool):
        self.run_dir = run_dir
        self.bar = tqdm(total=round(seconds), desc="char-rnn", unit="s", disable=not show, dynamic_ncols=True)

    def __call__(self, log: EpochLog) -> None:
        runs.append_metrics(self.run_dir, log.metrics)
        self.bar.n = min(self.bar.total, round(log.metrics["wall_time"]))
        self.bar.set_postfix(step=int(log.metrics["step"]), val_bits=round(log.metrics["val_bits"], 3))

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.bar.close()
        return False
