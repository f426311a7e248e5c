"""Slow: the CNN reaches its accuracy goal on the default digits split (minutes on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.supervised.cnn import CnnCommand
from arena.supervised.common import Common


@pytest.mark.slow
def test_cnn_reaches_99_percent_and_beats_the_rbf_svm(tmp_path: Path) -> None:
    from sklearn.svm import SVC

    from arena.io.datasets import load_images
    from nets.data import split_indices

    cmd = CnnCommand(common=Common(run_dir=tmp_path / "run", progress=False))
    metrics = json.loads((cmd.run() / "metrics.json").read_text())
    data = load_images("digits")
    parts = split_indices(len(data.y), cmd.split, seed=cmd.task.train.seed, stratify=data.y)
    x, y = data.x.reshape(len(data.y), -1).numpy(), data.y.numpy()
    svm = SVC(C=10.0, gamma="scale").fit(x[parts.train.numpy()], y[parts.train.numpy()])
    svm_accuracy = svm.score(x[parts.test.numpy()], y[parts.test.numpy()])
    assert metrics["test_accuracy"] >= 0.99
    assert metrics["test_accuracy"] > svm_accuracy  # measured: 1.0000 vs 0.9956 (BENCHMARKS.md)
