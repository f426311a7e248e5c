"""``arena supervised mlp`` and ``gradients``: quick run folders, checkpoint round trips, and the
vanishing-gradient physics the plot shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from arena.io.checkpoint import config_from_dict, load_checkpoint, load_weights
from arena.io.datasets import load_images
from arena.supervised.common import Common
from arena.supervised.gradients import GradientsCommand, run_gradients
from arena.supervised.mlp import MlpCommand, run_mlp
from nets.mlp import MLP, MLPConfig
from nets.supervised import gradients, mlp


def _quick(tmp_path: Path) -> Common:
    return Common(quick=True, run_dir=tmp_path / "run", progress=False)


def _reloaded_outputs_match(checkpoint: Path, model_outputs: torch.Tensor, x: torch.Tensor) -> None:
    tensors, meta = load_checkpoint(checkpoint)
    model = load_weights(MLP(config_from_dict(MLPConfig, meta["net"])), tensors).eval()
    with torch.no_grad():
        assert torch.equal(model(x), model_outputs)


def test_quick_mlp_run_folder(tmp_path: Path) -> None:
    run = run_mlp(MlpCommand(common=_quick(tmp_path)))
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test_accuracy", "wall_time", "device", "test_size", "depth", "activation"} <= set(metrics)
    assert metrics["test_accuracy"] > 0.5  # 5 epochs on 300 images already learn most digits
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert (run / "plots" / "learning_curves.png").stat().st_size > 1000
    assert json.loads((run / "config.json").read_text())["task"]["depth"] == 2

    tensors, meta = load_checkpoint(run / "model.safetensors")
    assert meta["model"] == "mlp" and meta["metrics"]["test_accuracy"] == metrics["test_accuracy"]
    task = config_from_dict(mlp.MLPTask, meta["config"])
    x = load_images("digits").x[:16].flatten(1)
    first = load_weights(mlp.build_model(task, 64, 10), tensors).eval()
    with torch.no_grad():
        out = first(x)
    assert out.shape == (16, 10)
    _reloaded_outputs_match(run / "model.safetensors", out, x)


def test_mlp_depth_activation_switch() -> None:
    task = mlp.MLPTask(depth=4, width=32, activation="tanh", norm="layer", residual=True, init="orthogonal")
    model = mlp.build_model(task, 64, 10)
    assert len(model.hidden_layers()) == 4
    assert model(torch.rand(5, 64)).shape == (5, 10)
    with pytest.raises(ValueError, match="depth"):
        mlp.MLPTask(depth=-1)


def test_quick_gradients_run_folder(tmp_path: Path) -> None:
    run = run_gradients(GradientsCommand(common=_quick(tmp_path)))
    metrics = json.loads((run / "metrics.json").read_text())
    names = list(gradients.GradientsTask().networks)
    assert list(metrics["gradient_norms"]) == names
    for name in names:
        norms = metrics["gradient_norms"][name]
        assert set(norms) == {"init", "epoch_1", "epoch_3"}
        assert all(len(v) == 15 for v in norms.values())
        assert 0 <= metrics["test_accuracy"][name] <= 1
        assert metrics["first_to_last_ratio"][name] == pytest.approx(norms["init"][0] / norms["init"][-1])
    assert metrics["first_to_last_ratio"]["sigmoid"] < 1e-4 < metrics["first_to_last_ratio"]["residual"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * len(names)
    for name in ("tanh", "relu", "residual", "residual_bn"):  # the deep sigmoid barely moves at all
        losses = [r["train_loss"] for r in rows if r["network"] == name]
        assert losses[-1] < losses[0], name
    for plot in ("gradient_norms_init", "gradient_norms_training", "learning_curves"):
        assert (run / "plots" / f"{plot}.png").stat().st_size > 1000

    x = load_images("digits").x[:16].flatten(1)
    for name in names:
        path = run / "checkpoints" / f"{name}.safetensors"
        tensors, meta = load_checkpoint(path)
        assert meta["network"] == name
        task = config_from_dict(gradients.GradientsTask, meta["config"])
        model = load_weights(gradients.build_network(name, task, 64, 10), tensors).eval()
        with torch.no_grad():
            out = model(x)
        _reloaded_outputs_match(path, out, x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_gradients_vanish_residual_ones_do_not(seed: int) -> None:
    # At depth 15 the sigmoid's ratio measured ~1e-9 (each layer x ~0.25, sigma' <= 1/4), the
    # residual one's 0.1-0.35 and the batch-normed residual one's 5-7, over seeds 0-2.
    digits = load_images("digits")
    task = gradients.GradientsTask(depth=15, networks=("sigmoid", "residual", "residual_bn"))
    probes = gradients.probe_batches(digits.x.flatten(1), digits.y, count=4, batch_size=64, seed=seed)
    ratios = {}
    for name in task.networks:
        torch.manual_seed(seed)
        model = gradients.build_network(name, task, 64, 10)
        before = [p.clone() for p in model.parameters()]
        norms = gradients.layer_gradient_norms(model, probes)
        assert len(norms) == 15 and all(n > 0 for n in norms)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # probing changes nothing
        assert all(p.grad is None for p in model.parameters())
        ratios[name] = gradients.first_to_last_ratio(norms)
    assert ratios["sigmoid"] < 1e-6  # orders of magnitude below the last layer
    assert 1e-2 < ratios["residual"] < 1e2  # within two orders of 1
    assert 1e-2 < ratios["residual_bn"] < 1e2
    assert ratios["residual"] / ratios["sigmoid"] > 1e5


def test_unknown_network_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown networks"):
        gradients.GradientsTask(networks=("swish",))  # type: ignore[arg-type]


@pytest.mark.slow
def test_mlp_defaults_reach_98_percent(tmp_path: Path) -> None:
    run = run_mlp(MlpCommand(common=Common(run_dir=tmp_path / "run", progress=False)))
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] >= 0.98


@pytest.mark.slow
def test_deep_sigmoid_does_not_learn_but_residual_does(tmp_path: Path) -> None:
    run = run_gradients(GradientsCommand(common=Common(run_dir=tmp_path / "run", progress=False)))
    acc = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    assert acc["sigmoid"] < 0.3 and acc["residual"] > 0.95 and acc["residual_bn"] > 0.95
