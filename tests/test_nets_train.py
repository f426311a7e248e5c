"""nets/train.py and nets/data.py: splits, batching, augmentation, and the generic fit loop."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nets.data import batches, random_shift_rotate, split_indices
from nets.train import TrainConfig, fit, make_optimizer, make_scheduler, select_device, weight_penalty


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.98, 0.01, 0.01), (0.75, 0.0, 0.25)])
def test_split_indices_partition(fractions) -> None:
    n = 1000
    parts = split_indices(n, fractions, seed=1)
    joined = torch.cat(list(parts))
    assert torch.equal(joined.sort().values, torch.arange(n))
    for part, f in zip(parts, fractions):
        assert abs(len(part) - f * n) <= 1
    assert torch.equal(split_indices(n, fractions, seed=1).test, parts.test)
    assert not torch.equal(split_indices(n, fractions, seed=2).test, parts.test)


def test_stratified_split_keeps_class_balance() -> None:
    y = torch.arange(10).repeat_interleave(100)
    parts = split_indices(len(y), (0.7, 0.1, 0.2), seed=0, stratify=y)
    assert torch.equal(torch.bincount(y[parts.test], minlength=10), torch.full((10,), 20))


def test_split_rejects_bad_fractions() -> None:
    with pytest.raises(ValueError, match="summing to 1"):
        split_indices(10, (0.5, 0.2, 0.2))


def test_batches_cover_every_row_once() -> None:
    x = torch.arange(10)
    seen = torch.cat([b[0] for b in batches((x,), 3, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))


def test_augmentation_shifts_and_keeps_shape() -> None:
    img = torch.zeros(4, 1, 8, 8)
    img[:, :, 3:5, 3:5] = 1.0
    out = random_shift_rotate(img, max_shift=2, max_degrees=0, generator=torch.Generator().manual_seed(0))
    assert out.shape == img.shape
    assert not torch.allclose(out, img)
    same = random_shift_rotate(img, max_shift=0, max_degrees=0)
    assert torch.allclose(same, img, atol=1e-5)  # the identity transform leaves images alone


def _regression_problem(n: int = 256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.01 * torch.randn(n, generator=g)
    return x, y


def _mse(model: nn.Module, batch) -> torch.Tensor:
    return F.mse_loss(model(batch[0]).squeeze(-1), batch[1])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_fit_every_optimizer_lowers_the_loss(optimizer: str) -> None:
    x, y = _regression_problem()
    lr = {"adagrad": 0.3, "sgd": 0.05, "momentum": 0.05, "nesterov": 0.05}.get(optimizer, 0.01)
    cfg = TrainConfig(epochs=15, batch_size=32, optimizer=optimizer, lr=lr, device="cpu")
    result = fit(nn.Linear(4, 1), (x[:200], y[:200]), _mse, cfg, val=(x[200:], y[200:]))
    first, last = result.history[0]["val_loss"], result.best["val_loss"]
    assert last < 0.5 * first


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle", "plateau"])
def test_schedules_run_and_change_the_rate(schedule: str) -> None:
    x, y = _regression_problem(64)
    cfg = TrainConfig(epochs=12, batch_size=16, lr=0.01, schedule=schedule, step_size=3, device="cpu")
    result = fit(nn.Linear(4, 1), (x, y), _mse, cfg, val=(x, y))
    rates = [row["lr"] for row in result.history]
    if schedule == "constant":
        assert len(set(rates)) == 1
    elif schedule != "plateau":
        assert len(set(rates)) > 1


def test_best_weights_are_restored_and_early_stopping_stops() -> None:
    x, y = _regression_problem(128)
    calls = []
    cfg = TrainConfig(epochs=50, batch_size=16, lr=0.05, early_stopping=2, device="cpu")
    # A validation metric that is best at epoch 3 and worse afterwards.
    scores = iter([5.0, 4.0, 1.0] + [9.0] * 100)
    result = fit(nn.Linear(4, 1), (x, y), _mse, cfg, val=(x, y), evaluate=lambda m, v: {"val_loss": next(scores)},
                 callbacks=[calls.append])
    assert result.best_epoch == 3 and result.stopped_early
    assert len(result.history) == 5 and len(calls) == 5
    assert [c.improved for c in calls] == [True, True, True, False, False]


def test_same_seed_same_run() -> None:
    x, y = _regression_problem(64)
    cfg = TrainConfig(epochs=3, batch_size=8, device="cpu", seed=5)
    model = nn.Linear(4, 1)
    twin = copy.deepcopy(model)
    a = fit(model, (x, y), _mse, cfg)
    torch.manual_seed(123)  # fit reseeds its shuffling: outside state must not matter
    b = fit(twin, (x, y), _mse, cfg)
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]


def test_penalties_and_clipping() -> None:
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.fill_(-2.0)
        layer.bias.fill_(5.0)
    assert float(weight_penalty(layer, l1=1.0, l2=0.0).detach()) == pytest.approx(12.0)  # biases excluded
    assert float(weight_penalty(layer, l1=0.0, l2=0.5).detach()) == pytest.approx(12.0)
    x, y = _regression_problem(64)
    base = TrainConfig(epochs=5, batch_size=64, lr=0.1, optimizer="sgd", device="cpu")
    plain = fit(nn.Linear(4, 1), (x, y), _mse, base).model.weight.abs().sum()
    shrunk = fit(nn.Linear(4, 1), (x, y), _mse, dataclasses.replace(base, l1=1.0)).model.weight.abs().sum()
    assert shrunk < plain
    clipped = fit(nn.Linear(4, 1), (x, y), _mse, dataclasses.replace(base, grad_clip=1e-3, epochs=1))
    assert clipped.model.weight.abs().max() < 0.6  # default init is U(-0.5, 0.5); steps stay tiny


def test_device_selection() -> None:
    assert select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert select_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA"):
            select_device("cuda")


def test_optimizer_and_scheduler_names_are_checked() -> None:
    params = list(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer(params, TrainConfig(optimizer="lion"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schedule"):
        make_scheduler(make_optimizer(params, TrainConfig()), TrainConfig(schedule="warp"), 1)  # type: ignore[arg-type]


def test_flatten_parameters_trains_like_the_separate_tensors() -> None:
    """After flatten_parameters every weight and gradient is a view of one flat tensor, and Adam
    with clipping on the flat tensor takes the steps it takes on the separate tensors."""
    from nets.train import flatten_parameters

    torch.manual_seed(0)
    flat_net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    ref.load_state_dict(flat_net.state_dict())
    flat = flatten_parameters(flat_net)
    assert flat.numel() == sum(p.numel() for p in ref.parameters())
    for p in flat_net.parameters():
        assert p.untyped_storage().data_ptr() == flat.untyped_storage().data_ptr()
        assert p.grad.untyped_storage().data_ptr() == flat.grad.untyped_storage().data_ptr()
    opt_flat = torch.optim.Adam([flat], lr=1e-2)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=1e-2)
    x = torch.randn(16, 4)
    for _ in range(5):
        flat.grad.zero_()
        flat_net(x).pow(2).mean().backward()
        torch.nn.utils.clip_grad_norm_([flat], 0.1)
        opt_flat.step()
        opt_ref.zero_grad()
        ref(x).pow(2).mean().backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.1)
        opt_ref.step()
    for a, b in zip(flat_net.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="no trainable"):
        flatten_parameters(torch.nn.Tanh())
