"""``arena supervised char-rnn``: the character-level LSTM (nets/supervised/char_rnn.py) and its run folder.

The text (the standard library's sources, or ``--text FILE``) is cut into contiguous
train/validation/test pieces by fractions, in that order. The run folder gets metrics.jsonl (one
line per evaluation), metrics.json (``test_bits_per_char`` is the headline), a learning-curve PNG,
``sample.txt`` and a checkpoint whose sidecar holds the vocabulary, so ``--checkpoint`` can load
it later and sample without training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import torch
import tyro

from arena.io import runs
from arena.io.checkpoint import CheckpointError, config_from_dict
from arena.io.datasets import stdlib_text
from arena.supervised.common import Bar, load_model
from arena.supervised.runner import Script, run
from nets.data import TextSplits, split_text
from nets.rnn import CharLM, Vocabulary
from nets.supervised import SupervisedResult, char_rnn


@dataclass(frozen=True)
class CharRnnCommand(Script):
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

    trainer = char_rnn

    def run(self) -> Path:
        """Train (the runner), or with ``--checkpoint`` only sample."""
        if self.checkpoint is None:
            return run(self)
        torch.set_num_threads(self.common.threads)
        return _sample_only(self)

    def data(self, task: char_rnn.CharRNNTask) -> TextSplits:
        text = stdlib_text(min(self.max_chars, 100_000) if self.common.quick else self.max_chars, self.text)
        return split_text(text, self.split)

    def bar(self, task: char_rnn.CharRNNTask) -> Bar:
        return Bar(task.minutes * 60, ("val_bits",), tags=("step",), clock=False, unit="s", position="wall_time")

    def fit(self, task: char_rnn.CharRNNTask, data: TextSplits, run_dir: Path) -> SupervisedResult:
        """Training, with the load average of the machine before and after it in the metrics."""
        before = os.getloadavg()
        result = super().fit(task, data, run_dir)
        loads = {"load_average_before": list(before), "load_average_after": list(os.getloadavg())}
        return result._replace(metrics={**result.metrics, **loads})

    def describe(self, task: char_rnn.CharRNNTask, data: TextSplits) -> dict[str, Any]:
        return {"threads": self.common.threads, "text": str(self.text) if self.text else "stdlib",
                "split": list(self.split), "temperature": task.temperature, "quick": self.common.quick}

    def show(self, run_dir: Path, task: char_rnn.CharRNNTask, result: SupervisedResult, metrics: dict[str, Any]) -> str:
        (run_dir / "sample.txt").write_text(result.artifacts["sample"], encoding="utf-8")
        runs.plot_curves(run_dir / "plots" / "learning_curves.png", result.history,
                         {"bits per character": ["train_bits", "val_bits"], "learning rate": ["lr"]}, x="step",
                         title=f"char-rnn: test {metrics['test_bits_per_char']:.3f} bits/char")
        return (f"char-rnn: test {metrics['test_bits_per_char']:.3f} bits/char (val {metrics['val_bits_per_char']:.3f}) "
                f"after {metrics['steps']} steps, {metrics['chars_seen']:,} characters, {metrics['wall_time']:.0f} s")


def run_char_rnn(cmd: CharRnnCommand) -> Path:
    """Train the language model (or sample from ``cmd.checkpoint``) and write the run folder."""
    return cmd.run()


def load_char_rnn(path: str | Path) -> tuple[CharLM, Vocabulary, char_rnn.CharRNNTask]:
    """The model (eval mode, CPU), vocabulary and task config of a char-rnn checkpoint."""
    model, meta = load_model(path, char_rnn.build, ("char-rnn",), "a char-rnn checkpoint")
    task = config_from_dict(char_rnn.CharRNNTask, meta["config"])
    vocab = Vocabulary(tuple(meta.get("vocabulary", ())))
    if vocab.size != task.net.vocab_size:
        raise CheckpointError(
            f"{path}: the sidecar's vocabulary has {vocab.size} characters, its config {task.net.vocab_size}")
    return model, vocab, task  # type: ignore[return-value]


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

