"""nets/shallow.py and nets/rbf.py: shapes, gradients, each loss on hand-checked cases, k-means on
separated clusters; ``arena supervised shallow|rbf --quick`` run folders and checkpoints; the goals
of issue 8 (slow)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from arena.supervised.common import Common
from arena.supervised.rbf import RbfCommand, load_rbf
from arena.supervised.shallow import ShallowCommand, load_shallow
from nets.rbf import RBFConfig, RBFNetwork, init_rbf, kmeans, prototype_widths, ridge_readout
from nets.shallow import (
    SHALLOW_LOSSES, Shallow, ShallowConfig, class_scores, hinge_loss, logistic_loss, pair_targets, perceptron_loss,
    shallow_loss, widrow_hoff_loss,
)


@pytest.mark.parametrize("loss", SHALLOW_LOSSES)
def test_shallow_shapes_and_gradients(loss: str) -> None:
    cfg = ShallowConfig(in_features=6, classes=4, loss=loss)  # type: ignore[arg-type]
    net = Shallow(cfg)
    x, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 1])
    scores = net(x)
    assert scores.shape == (5, 6 if loss == "hinge" else 4)  # ovo hinge: 4 * 3 / 2 pairs
    assert class_scores(cfg, scores).shape == (5, 4)
    shallow_loss(cfg, scores, y).backward()
    assert net.linear.weight.grad is not None and torch.isfinite(net.linear.weight.grad).all()


def test_perceptron_and_widrow_hoff_by_hand() -> None:
    y = torch.tensor([0, 1])
    right = torch.tensor([[2.0, -1.0, -3.0], [-0.5, 0.1, -2.0]])  # every output has its target's sign
    assert float(perceptron_loss(right, y)) == 0.0
    wrong = torch.tensor([[-1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    # row 0: max(0, 1) + max(0, 2) + 0 = 3; row 1: all zero margins -> 0; mean 1.5
    assert float(perceptron_loss(wrong, y)) == pytest.approx(1.5)
    # targets (+1, -1, -1) and (-1, +1, -1): row 0 (4 + 9 + 1) / 2 = 7, row 1 (1 + 1 + 1) / 2 = 1.5
    assert float(widrow_hoff_loss(wrong, y)) == pytest.approx((7 + 1.5) / 2)
    assert float(logistic_loss(torch.zeros(1, 3), torch.tensor([2]))) == pytest.approx(3 * torch.log(torch.tensor(2.0)))


def test_hinge_losses_and_gradient_by_hand() -> None:
    s = torch.tensor([[0.5, -2.0, 0.8]], requires_grad=True)
    y = torch.tensor([0])
    # ovr: max(0, 1 - 0.5) + max(0, 1 - 2) + max(0, 1 + 0.8) = 0.5 + 0 + 1.8
    loss = hinge_loss(s, y, "ovr")
    assert float(loss.detach()) == pytest.approx(2.3)
    loss.backward()
    assert s.grad.tolist() == [[-1.0, 0.0, 1.0]]  # -t where the margin is below 1, else 0
    # Crammer-Singer: max(0, 1 + 0.8 - 0.5) = 1.3, gradient -1 on the label, +1 on the runner-up
    s2 = s.detach().clone().requires_grad_(True)
    cs = hinge_loss(s2, y, "crammer_singer")
    cs.backward()
    assert float(cs.detach()) == pytest.approx(1.3) and s2.grad.tolist() == [[-1.0, 0.0, 1.0]]
    # ovo on 3 classes: pairs (0,1), (0,2), (1,2); label 0 -> targets (+1, +1, 0)
    assert pair_targets(y, 3).tolist() == [[1.0, 1.0, 0.0]]
    pairs = torch.tensor([[2.0, 0.25, -7.0]])
    assert float(hinge_loss(pairs, y, "ovo", classes=3)) == pytest.approx(0.75)  # the third pair is ignored


def test_ovo_votes_pick_the_class_that_wins_its_pairs() -> None:
    cfg = ShallowConfig(in_features=2, classes=3, loss="hinge", hinge="ovo")
    # pairs (0,1), (0,2), (1,2): class 2 beats 0 and 1 -> 2 votes
    scores = class_scores(cfg, torch.tensor([[0.3, -0.5, -0.2], [1.0, 1.0, 0.1]]))
    assert scores.argmax(1).tolist() == [2, 0]


def test_kmeans_recovers_separated_clusters() -> None:
    g = torch.Generator().manual_seed(0)
    truth = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    x = (truth[:, None] + 0.3 * torch.randn(4, 50, 2, generator=g)).reshape(-1, 2)
    km = kmeans(x, 4, generator=torch.Generator().manual_seed(1))
    nearest = torch.cdist(truth, km.centers).min(1).values
    assert float(nearest.max()) < 0.3
    assert km.inertia == sorted(km.inertia, reverse=True)  # Lloyd never increases it
    labels = km.assignment.reshape(4, 50)
    assert all(len(set(row.tolist())) == 1 for row in labels) and len(set(labels[:, 0].tolist())) == 4
    again = kmeans(x, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.centers, km.centers)  # seeded


def test_rbf_widths_readout_and_gradients() -> None:
    c = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert float(prototype_widths(c, "shared")) == pytest.approx((3 + 4 + 5) / 3)
    assert prototype_widths(c, "nearest", neighbors=1).tolist() == pytest.approx([3.0, 3.0, 4.0])
    h = torch.eye(3).repeat(4, 1)
    w, b = ridge_readout(h, torch.tensor([2, 0, 1] * 4), classes=3, ridge=1e-6)
    assert (h @ w.T + b).argmax(1).tolist() == [2, 0, 1] * 4
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)
    for width in ("shared", "nearest"):
        net = RBFNetwork(RBFConfig(in_features=5, prototypes=8, classes=3, width=width))  # type: ignore[arg-type]
        init_rbf(net, x, y, torch.Generator().manual_seed(0))
        out = net(x)
        assert out.shape == (40, 3) and net.hidden(x).shape == (40, 8)
        out.pow(2).sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_quick_shallow_run_folder_and_checkpoints(tmp_path: Path) -> None:
    cmd = ShallowCommand(common=Common(quick=True, run_dir=tmp_path / "run", progress=False))
    run = cmd.run()
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["models"]) == set(SHALLOW_LOSSES)
    for row in metrics["models"].values():
        assert {"test_accuracy", "sklearn_accuracy", "sklearn_model", "gap"} <= set(row)
    assert metrics["test_accuracy"] == max(r["test_accuracy"] for r in metrics["models"].values())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for loss in SHALLOW_LOSSES:
        losses = [r["train_loss"] for r in rows if r["model"] == loss]
        assert len(losses) == 5 and losses[-1] < losses[0]  # it learned
    for plot in ("accuracy_vs_sklearn", "learning_curves", "templates"):
        assert (run / "plots" / f"{plot}.png").stat().st_size > 1000
    from arena.io.datasets import load_images

    x = load_images("digits").x[:16].flatten(1)
    model = load_shallow(run / "checkpoints" / "hinge.safetensors")
    assert model.cfg.pairwise and class_scores(model.cfg, model(x)).shape == (16, 10)


def test_quick_rbf_run_folder_and_checkpoint(tmp_path: Path) -> None:
    run = RbfCommand(common=Common(quick=True, run_dir=tmp_path / "run", progress=False)).run()
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test_accuracy", "two_stage_test_accuracy", "sklearn_accuracy", "sweep"} <= set(metrics)
    assert set(metrics["sweep"]) == {"10", "25", "50"}
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    tuned = [r["train_loss"] for r in rows if r.get("prototypes") == 50 and "train_loss" in r]
    assert len(tuned) == 5 and tuned[-1] < tuned[0]
    for plot in ("accuracy_vs_prototypes", "prototypes", "kmeans_inertia"):
        assert (run / "plots" / f"{plot}.png").stat().st_size > 1000
    model = load_rbf(run / "model.safetensors")
    from arena.io.datasets import load_images

    data = load_images("digits")
    assert model(data.x[:16].flatten(1)).shape == (16, 10)
    assert json.loads((run / "model.json").read_text())["metrics"]["test_accuracy"] == metrics["test_accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shallow_models_within_1_5_points_of_sklearn(tmp_path: Path, seed: int) -> None:
    cmd = ShallowCommand(common=Common(run_dir=tmp_path / "run", progress=False))
    cmd = replace(cmd, task=replace(cmd.task, train=replace(cmd.task.train, seed=seed)))
    metrics = json.loads((cmd.run() / "metrics.json").read_text())
    gaps = {name: row["gap"] for name, row in metrics["models"].items()}
    assert all(gap >= -0.015 for gap in gaps.values()), gaps


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rbf_reaches_98_percent_with_200_prototypes(tmp_path: Path, seed: int) -> None:
    cmd = RbfCommand(common=Common(run_dir=tmp_path / "run", progress=False))
    cmd = replace(cmd, task=replace(cmd.task, sweep=(), train=replace(cmd.task.train, seed=seed)))
    metrics = json.loads((cmd.run() / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.98, metrics
