"""``arena supervised gan|cgan``: quick runs write a complete run folder whose checkpoints
reproduce the samples; the judge's scores are checked on hand-built cases; slow runs reach the
cGAN's class-agreement goal."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from torch import nn

from arena.io.checkpoint import config_from_dict, load_checkpoint, load_weights, save_checkpoint
from arena.io.datasets import load_images
from arena.supervised.common import Common
from arena.supervised.gan import CganCommand, GanCommand
from nets.conv import CNN, CNNConfig
from nets.gan import GANConfig, Generator
from nets.supervised import gan


@pytest.mark.parametrize("command", [GanCommand, CganCommand], ids=["gan", "cgan"])
def test_quick_run_folder_and_checkpoint(tmp_path: Path, command: type[GanCommand]) -> None:
    run = command(common=Common(quick=True, run_dir=tmp_path / "run", progress=False)).run()
    metrics = json.loads((run / "metrics.json").read_text())
    conditional = command is CganCommand
    expected = {"classifier_test_accuracy", "mean_max_probability", "class_histogram", "classes_covered",
                "sample_diversity", "real_diversity", "wall_time", "device"}
    assert expected <= set(metrics)
    assert ("class_agreement" in metrics) == conditional
    assert math.isclose(sum(metrics["class_histogram"]), 1.0, abs_tol=1e-3)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    assert all(math.isfinite(r[k]) for r in rows for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert (run / "classifier" / "metrics.jsonl").exists()
    assert (run / "plots" / "samples_epoch_004.png").stat().st_size > 1000
    assert (run / "plots" / "learning_curves.png").stat().st_size > 1000

    # The checkpoints rebuild the generator and the judge: the same seed gives the same samples,
    # so the judge's scores in metrics.json come back exactly.
    tensors, meta = load_checkpoint(run / "generator.safetensors")
    generator = load_weights(Generator(config_from_dict(GANConfig, meta["config"])), tensors).eval()
    assert generator.cfg.conditional == conditional and meta["part"] == "generator"
    tensors, judge_meta = load_checkpoint(run / "classifier.safetensors")
    judge = load_weights(CNN(config_from_dict(CNNConfig, judge_meta["config"])), tensors).eval()
    scores = gan.judge_samples(generator, judge, 100, seed=meta["eval_seed"])
    for key in ("sample_diversity", "class_histogram", "mean_max_probability", "class_agreement"):
        assert scores.get(key) == pytest.approx(metrics.get(key), abs=1e-6)
    images = gan.sample_images(generator, 20, seed=3)
    assert images.shape == (20, 1, 8, 8) and 0 <= float(images.min()) <= float(images.max()) <= 1
    assert torch.equal(images, gan.sample_images(generator, 20, seed=3))
    assert load_checkpoint(run / "discriminator.safetensors")[1]["config"] == meta["config"]


def test_checkpoint_round_trip_generates_identical_images(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = load_images("digits")
    task = replace(gan.cgan_task(), epochs=1, batch_size=32, sample_every=0, eval_samples=10)
    run = gan.train_gan(task, (data.x[:64], data.y[:64]))
    assert set(run.figures) == {"samples_epoch_001"} and run.figures["samples_epoch_001"].shape == (100, 8, 8)
    save_checkpoint(tmp_path / "g.safetensors", run.generator, {"config": asdict(run.generator.cfg)})
    tensors, meta = load_checkpoint(tmp_path / "g.safetensors")
    reloaded = load_weights(Generator(config_from_dict(GANConfig, meta["config"])), tensors)
    labels = torch.arange(30) % 10
    assert torch.equal(gan.sample_images(run.generator, 30, 7, labels), gan.sample_images(reloaded, 30, 7, labels))
    assert not torch.equal(gan.sample_images(reloaded, 30, 7, labels), gan.sample_images(reloaded, 30, 8, labels))


def test_averaged_generator_follows_the_live_one() -> None:
    cfg = GANConfig(width=4, latent=3)
    live, averaged = Generator(cfg), Generator(cfg)
    before = [p.clone() for p in averaged.parameters()]
    gan._update_average(averaged, live, decay=0.75)
    for a, b, p in zip(averaged.parameters(), before, live.parameters()):
        assert torch.allclose(a, 0.75 * b + 0.25 * p)
    gan._update_average(averaged, live, decay=0.0)
    assert all(torch.equal(a, p) for a, p in zip(averaged.parameters(), live.parameters()))


def test_mean_pairwise_distance_by_hand() -> None:
    images = torch.zeros(4, 1, 2, 2)
    images[1, 0, 0, 0] = 1.0  # distance 1 from image 0
    images[3] = 0.5  # distance sqrt(4 * 0.25) = 1 from image 2 (zeros)
    labels = torch.tensor([0, 0, 1, 1])
    assert gan.mean_pairwise_distance(images, labels) == pytest.approx(1.0)
    # All six pairs: 0-1: 1, 0-2: 0, 0-3: 1, 1-2: 1, 1-3: sqrt(0.25 + 3 * 0.25) = 1, 2-3: 1.
    assert gan.mean_pairwise_distance(images) == pytest.approx(5 / 6)


class _PixelJudge(nn.Module):
    """A stub judge: class 1 if the image's mean is above 0.5, else class 0 (of 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))  # predict() finds the device from a parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = (x.flatten(1).mean(1) > 0.5).long()
        return nn.functional.one_hot(bright, 10).float() * 20.0


class _ConstantGenerator(nn.Module):
    """Ignores the noise: class 0 -> black image (-1), every other class -> white (+1)."""

    def __init__(self) -> None:
        super().__init__()
        self.cfg = GANConfig(num_classes=10, latent=2)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.where(labels > 0, 1.0, -1.0)[:, None, None, None].expand(-1, 1, 8, 8)


def test_judge_scores_of_a_noise_ignoring_generator() -> None:
    scores = gan.judge_samples(_ConstantGenerator(), _PixelJudge(), 100, seed=0)  # type: ignore[arg-type]
    assert scores["class_agreement"] == pytest.approx(0.2)  # class 0 (black -> 0) and class 1 (white -> 1)
    assert scores["per_class_agreement"] == [1.0, 1.0] + [0.0] * 8
    assert scores["class_histogram"][:2] == [0.1, 0.9] and scores["classes_covered"] == 2
    assert scores["sample_diversity"] == 0.0  # a generator that ignores its noise has none
    assert scores["mean_max_probability"] == pytest.approx(1.0)


def test_task_rejects_uneven_class_samples() -> None:
    with pytest.raises(ValueError, match="multiple of num_classes"):
        replace(gan.cgan_task(), eval_samples=105)
    with pytest.raises(ValueError, match="ema_decay"):
        replace(gan.GANTask(), ema_decay=1.0)


@pytest.mark.slow
def test_cgan_samples_are_labelled_as_their_class(tmp_path: Path) -> None:
    run = CganCommand(common=Common(run_dir=tmp_path / "run", progress=False)).run()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classifier_test_accuracy"] >= 0.95
    assert metrics["class_agreement"] >= 0.90  # the goal
    assert metrics["classes_covered"] == 10
