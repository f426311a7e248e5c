"""``arena supervised``: quick runs write a complete run folder whose checkpoint reloads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from arena.io.checkpoint import config_from_dict, load_checkpoint, load_weights
from arena.io.datasets import load_images, stdlib_text
from arena.supervised.cnn import CnnCommand, run_cnn
from arena.supervised.common import Common
from nets.conv import CNN, CNNConfig


def test_quick_cnn_run_folder(tmp_path: Path) -> None:
    run = run_cnn(CnnCommand(common=Common(quick=True, run_dir=tmp_path / "run", progress=False)))
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test_accuracy", "wall_time", "device", "test_size"} <= set(metrics)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learned
    assert json.loads((run / "config.json").read_text())["dataset"] == "digits"
    assert (run / "plots" / "learning_curves.png").stat().st_size > 1000
    tensors, meta = load_checkpoint(run / "model.safetensors")
    model = load_weights(CNN(config_from_dict(CNNConfig, meta["config"]["net"])), tensors).eval()
    x = load_images("digits").x[:16]
    assert model(x).shape == (16, 10)
    assert meta["metrics"]["test_accuracy"] == metrics["test_accuracy"]


def test_cnn_keeps_last_or_best_validation_weights() -> None:
    """``keep="last"`` ends with the last epoch's network (the default: the tiny digits validation
    split saturates early, and its first best epoch is under-trained); ``"best"`` with the best
    validation accuracy's."""
    from nets.data import ImageSplits
    from nets.supervised import cnn
    from nets.train import accuracy, predict

    data = load_images("digits")
    train, val = (data.x[:200], data.y[:200]), (data.x[200:260], data.y[200:260])
    base = replace(cnn.CNNTask(), ensemble=1, train=replace(cnn.CNNTask().train, epochs=4))
    assert base.keep == "last"
    for keep in ("last", "best"):
        result = cnn.train(replace(base, keep=keep), ImageSplits(train, val, val))
        accs = [row["val_accuracy"] for row in result.history]
        expected = accs[-1] if keep == "last" else max(accs)
        assert accuracy(predict(result.model, val[0]), val[1]) == expected


def test_cli_reports_bad_input_without_traceback(tmp_path: Path, capsys) -> None:
    from arena.cli import main

    code = main(["supervised", "cnn", "--quick", "--no-progress", "--run-dir", str(tmp_path), "--split", "0.5", "0.5", "0.5"])
    assert code == 2
    assert "summing to 1" in capsys.readouterr().err


def test_offline_data() -> None:
    digits = load_images("digits")
    assert digits.x.shape == (1797, 1, 8, 8) and float(digits.x.max()) <= 1.0
    text = stdlib_text(200_000)
    assert len(text) == 200_000 and "def " in text
    assert stdlib_text(200_000) == text  # deterministic
