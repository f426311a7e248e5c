"""A DCGAN (``gan``) and a class-conditional DCGAN (``cgan``) on digits, judged by an independent
classifier. Goal (cgan): a CNN trained only on the real training split labels >= 90% of the
cGAN's samples as the class they were conditioned on (``class_agreement``).

GAN training does not fit ``fit``'s single-loss loop, so :func:`train_gan` is its own loop: per
minibatch one discriminator step (real batch vs. a detached fake batch), then one generator step
with the non-saturating loss (nets/gan.py). Pixels are scaled to [-1, 1] for the tanh generator.
The judge is nets/supervised/cnn.py's classifier, trained first on the real images in [0, 1]; it
scores a fixed set of samples after every epoch, so the curves show quality, not just losses.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nets import gan
from nets.conv import CNNConfig
from nets.data import ImageSplits, batches
from nets.supervised import Callback, Part, SupervisedResult, cnn, from_sidecar
from nets.train import EpochLog, predict, seed_everything, select_device

Data = tuple[Tensor, Tensor]  # images [n, 1, H, W] in [0, 1], labels [n] long


@dataclass(frozen=True)
class GANTask:
    """The GAN, how it is trained, and the classifier that judges its samples."""

    net: gan.GANConfig = field(default_factory=lambda: gan.GANConfig(width=32))
    """Generator/discriminator shape (image_size is set from the data); num_classes > 0 makes a cGAN."""
    epochs: int = 50
    """Passes over the training split."""
    batch_size: int = 64
    """Real images per discriminator step (and fakes per generator step)."""
    lr_generator: float = 2e-4
    """Adam learning rate of the generator (DCGAN: 2e-4)."""
    lr_discriminator: float = 2e-4
    """Adam learning rate of the discriminator."""
    beta1: float = 0.5
    """Adam beta1: DCGAN found the default 0.9 oscillates and 0.5 stabilises training."""
    beta2: float = 0.999
    """Adam beta2."""
    mode_seeking: float = 0.3
    """Weight of the mode-seeking term (Mao et al. 2019, MSGAN): the generator also minimises
    ``1 / (|G(z1, y) - G(z2, y)| / |z1 - z2|)`` over pairs of fakes (with one label). Without it the
    cGAN here ignored its noise, one image per class (within-class diversity 0.47, real digits
    2.23; with 0.3: 2.06), and the GAN covered 8 of 10 classes (with 0.3: 10)."""
    mismatch_weight: float = 0.0
    """cGAN only: weight of a third discriminator term that calls real images with a wrong label
    fake (the matching-aware discriminator of Reed et al. 2016), so the label is not ignored."""
    ema_decay: float = 0.99
    """Sample from an exponential moving average of the generator's weights (0 = the raw weights):
    the raw generator's class agreement swung from epoch to epoch here (0.65 to 1.0 in one run),
    the average's is steadier (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN
    Training")."""
    sample_every: int = 1
    """Epochs between the sample grids returned as figures (the last epoch always has one)."""
    eval_samples: int = 1000
    """Samples the judge classifies (a cGAN draws them evenly over the classes)."""
    judge: cnn.CNNTask = field(default_factory=lambda: replace(
        cnn.CNNTask(), ensemble=1, train=replace(cnn.CNNTask().train, epochs=30),
    ))
    """The independent classifier (the cnn script's, one network), trained on the real training split only."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto, cpu or cuda (the judge follows judge.train.device)."""
    seed: int = 0
    """Seeds the GAN's weights, batches and noise; grids use seed, judged samples seed + 1."""

    def __post_init__(self) -> None:
        if self.mode_seeking < 0 or self.mismatch_weight < 0:
            raise ValueError("mode_seeking and mismatch_weight must be >= 0")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.epochs < 1 or self.batch_size < 1 or self.eval_samples < 1 or self.sample_every < 0:
            raise ValueError("epochs, batch_size and eval_samples must be >= 1 and sample_every >= 0")
        if self.net.conditional and self.eval_samples % self.net.num_classes:
            raise ValueError(f"eval_samples ({self.eval_samples}) must be a multiple of num_classes "
                             f"({self.net.num_classes}) so every class gets the same number of samples")

    def quick(self) -> GANTask:
        """The seconds-long version: 4 GAN epochs, a 3-epoch judge, 100 judged samples."""
        judge = replace(self.judge, train=replace(self.judge.train, epochs=3))
        return replace(self, epochs=4, judge=judge, eval_samples=100)


class GANRun(NamedTuple):
    """What :func:`train_gan` returns."""

    generator: gan.Generator  # the weight average (the raw generator when ema_decay is 0): sample from this
    raw_generator: gan.Generator  # the generator's own last weights
    discriminator: gan.Discriminator
    history: list[dict[str, float]]  # one row per epoch
    figures: dict[str, np.ndarray]  # samples_epoch_XXX: [100, H, W] in [0, 1]


def cgan_task() -> GANTask:
    """The class-conditional defaults: 10 digit classes."""
    return GANTask(net=gan.GANConfig(width=32, num_classes=10), mismatch_weight=1.0)


def train(
    cfg: GANTask, data: ImageSplits, callbacks: Sequence[Callback] = (), judge_callbacks: Sequence[Callback] = (),
) -> SupervisedResult:
    """Train the judge on real images, then the GAN (``callbacks`` get its epochs,
    ``judge_callbacks`` the judge's); judge the generator's samples.

    Returns a SupervisedResult whose ``model`` is an ``nn.ModuleDict`` with ``generator``,
    ``discriminator`` and ``classifier``; ``figures`` holds ``samples_epoch_XXX`` grids
    ``[100, H, W]`` in [0, 1] (for a cGAN row r, i.e. images 10r..10r+9, is class r).
    """
    train_data, _, test_data = data
    judge = cnn.train(cfg.judge, data, judge_callbacks)
    classifier = judge.model.eval()
    start = time.perf_counter()
    run = train_gan(cfg, train_data, classifier, callbacks)
    gan_time = time.perf_counter() - start
    generator, history = run.generator, run.history
    scores = judge_samples(generator, classifier, cfg.eval_samples, seed=cfg.seed + 1)
    raw = judge_samples(run.raw_generator, classifier, cfg.eval_samples, seed=cfg.seed + 1)
    real_probs = torch.softmax(predict(classifier, test_data[0]).float(), 1)
    metrics = {
        **scores,
        **{f"{k}_raw_generator": raw[k] for k in ("class_agreement", "sample_diversity") if k in raw},
        # The same distance on real test images: a generator that ignores its noise scores
        # far below it even when the judge agrees with every sample.
        "real_diversity": mean_pairwise_distance(test_data[0], test_data[1] if generator.cfg.conditional else None),
        "classifier_test_accuracy": judge.metrics["test_accuracy"],
        "classifier_test_confidence": float(real_probs.max(1).values.mean()),
        "final_d_loss": history[-1]["d_loss"],
        "final_g_loss": history[-1]["g_loss"],
        "eval_seed": cfg.seed + 1,
        "wall_time": gan_time + judge.metrics["wall_time"],
        "gan_wall_time": gan_time,
        "classifier_wall_time": judge.metrics["wall_time"],
        "generator_parameters": sum(p.numel() for p in generator.parameters()),
        "discriminator_parameters": sum(p.numel() for p in run.discriminator.parameters()),
    }
    models = nn.ModuleDict({"generator": generator, "discriminator": run.discriminator, "classifier": classifier})
    return SupervisedResult(models, metrics, history, run.figures)


def train_gan(
    cfg: GANTask, train_data: Data, judge: nn.Module | None = None, callbacks: Sequence[Callback] = (),
) -> GANRun:
    """The alternating D/G loop (last weights are kept: a GAN has no validation loss to select by).

    Per epoch: ``d_loss``, ``g_loss`` (batch means), ``d_real``/``d_fake`` (mean D(x) on real and
    fake images, 0.5 at the equilibrium), and with a ``judge`` its :func:`judge_samples` scores
    of the averaged generator.
    """
    rng = seed_everything(cfg.seed)
    device = select_device(cfg.device)
    x, y = train_data
    net = replace(cfg.net, image_size=x.shape[-1], channels=x.shape[1])
    generator, discriminator = gan.Generator(net).to(device), gan.Discriminator(net).to(device)
    averaged = copy.deepcopy(generator)
    # torch.optim.Adam directly: TrainConfig has no betas, and DCGAN's beta1 = 0.5 matters here.
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_generator, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_discriminator, betas=(cfg.beta1, cfg.beta2))
    real = ((x * 2 - 1).to(device), y.to(device))  # tanh range
    history: list[dict[str, float]] = []
    figures: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        sums = dict.fromkeys(("d_loss", "g_loss", "d_real", "d_fake"), 0.0)
        count = 0
        for images, labels in batches(real, cfg.batch_size, shuffle=True, generator=rng):
            B = len(images)
            half = B // 2
            cond = labels if net.conditional else None
            # Fakes of the batch's classes; with mode seeking, fakes i and i + half share a label.
            fake_cond = cond
            if cond is not None and cfg.mode_seeking:
                fake_cond = cond[torch.arange(B, device=device) % max(half, 1)]
            z = torch.randn(B, net.latent, device=device)
            fake = generator(z, fake_cond)  # (B, C, H, W)

            # Discriminator: real -> 1, fake -> 0 (the fake is detached: G is not updated here).
            real_logits = discriminator(images, cond)
            fake_logits = discriminator(fake.detach(), fake_cond)
            d_loss = gan.discriminator_loss(real_logits, fake_logits)
            if cond is not None and cfg.mismatch_weight:
                d_loss = d_loss + cfg.mismatch_weight * mismatch_loss(discriminator, images, cond, net.num_classes)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            # Generator: make the freshly updated D call the same fakes real.
            g_loss = gan.generator_loss(discriminator(fake, fake_cond))
            total = g_loss
            if cfg.mode_seeking and half:
                pairs = slice(0, half), slice(half, 2 * half)
                total = total + cfg.mode_seeking * mode_seeking_loss(*(fake[p] for p in pairs), *(z[p] for p in pairs))
            opt_g.zero_grad(set_to_none=True)
            total.backward()
            opt_g.step()
            _update_average(averaged, generator, cfg.ema_decay)

            step = {"d_loss": d_loss, "g_loss": g_loss, "d_real": torch.sigmoid(real_logits).mean(),
                    "d_fake": torch.sigmoid(fake_logits).mean()}
            for k, v in step.items():
                sums[k] += float(v.detach()) * B
            count += B
        metrics = {"epoch": float(epoch), **{k: v / count for k, v in sums.items()}}
        if judge is not None:
            scores = judge_samples(averaged, judge, cfg.eval_samples, seed=cfg.seed + 1)
            metrics.update({k: v for k, v in scores.items() if isinstance(v, float)})
        metrics["wall_time"] = time.perf_counter() - start
        if epoch == cfg.epochs or (cfg.sample_every and epoch % cfg.sample_every == 0):
            figures[f"samples_epoch_{epoch:03d}"] = sample_grid(averaged, seed=cfg.seed)
        history.append(metrics)
        for cb in callbacks:
            cb(EpochLog(epoch, metrics, True))  # True as in fit without validation: the last weights are kept
    for m in (averaged, generator, discriminator):
        m.eval()
    return GANRun(averaged, generator, discriminator, history, figures)


def checkpoints(cfg: GANTask, data: ImageSplits, result: SupervisedResult) -> dict[str, Part]:
    """One checkpoint per part (``generator``, ``discriminator``, ``classifier``), each with its
    network's config beside the task."""
    meta = {"task": dataclasses.asdict(cfg), "sample_seed": cfg.seed, "eval_seed": result.metrics["eval_seed"]}
    parts = {}
    for part, model in result.model.items():
        # An ensemble judge (--judge.ensemble > 1) holds CNNs of one config under members.N.
        config = model.cfg if hasattr(model, "cfg") else model.members[0].cfg
        parts[part] = Part(model, {**meta, "part": part, "config": dataclasses.asdict(config)})
    return parts


def build(sidecar: dict[str, Any]) -> nn.Module:
    """The network of one gan/cgan checkpoint, by its ``part``: a Generator, a Discriminator,
    or the judge (one CNN or an ensemble of them)."""
    part = sidecar["part"]
    if part == "classifier":
        members = from_sidecar(GANTask, sidecar["task"]).judge.ensemble
        return cnn.make_classifier(from_sidecar(CNNConfig, sidecar["config"]), members)
    if part not in ("generator", "discriminator"):
        raise ValueError(f"unknown part {part!r}: generator, discriminator or classifier")
    make = gan.Generator if part == "generator" else gan.Discriminator
    return make(from_sidecar(gan.GANConfig, sidecar["config"]))


def mode_seeking_loss(fake_1: Tensor, fake_2: Tensor, z_1: Tensor, z_2: Tensor, eps: float = 1e-5) -> Tensor:
    """MSGAN's term ``1 / (mean|fake_1 - fake_2| / mean|z_1 - z_2| + eps)`` (Mao et al. 2019): small
    when different noise gives different images. Fakes ``[h, C, H, W]`` from noise ``[h, latent]``,
    pair i sharing its label."""
    ratio = (fake_1 - fake_2).abs().mean() / (z_1 - z_2).abs().mean()
    return 1.0 / (ratio + eps)


def mismatch_loss(discriminator: gan.Discriminator, images: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``BCE(D(real image, wrong label), 0)``, the wrong label drawn uniformly from the other
    classes (Reed et al. 2016): a projection discriminator must then check the label."""
    shift = torch.randint(1, num_classes, labels.shape, device=labels.device)
    logits = discriminator(images, (labels + shift) % num_classes)
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def sample_images(generator: gan.Generator, n: int, seed: int, labels: Tensor | None = None) -> Tensor:
    """``n`` samples ``[n, C, H, W]`` in [0, 1] (CPU) from noise seeded by ``seed``; a cGAN gets
    ``labels`` (default: ``arange(n) % num_classes``). Same weights + seed -> same images."""
    cfg = generator.cfg
    if cfg.conditional and labels is None:
        labels = torch.arange(n) % cfg.num_classes
    device = next(generator.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    return ((gan.sample(generator, n, labels, gen) + 1) / 2).clamp(0, 1).cpu()


def sample_grid(generator: gan.Generator, seed: int, rows: int = 10) -> np.ndarray:
    """``rows x 10`` samples ``[rows * 10, H, W]`` in [0, 1]; for a cGAN row r is class r."""
    cfg = generator.cfg
    labels = torch.arange(rows).repeat_interleave(10) % cfg.num_classes if cfg.conditional else None
    return sample_images(generator, rows * 10, seed, labels)[:, 0].numpy()


def judge_samples(generator: gan.Generator, judge: nn.Module, n: int, seed: int) -> dict[str, Any]:
    """Classify ``n`` samples with the independent ``judge`` (inputs in [0, 1]).

    Returns:
        ``mean_max_probability`` (the judge's mean confidence), ``class_histogram`` (fraction of
        samples per predicted class: mode coverage), ``classes_covered`` (classes predicted for
        at least half their fair share, ``0.5 / num_classes``, of the samples),
        ``sample_diversity`` (:func:`mean_pairwise_distance`, within each conditioned class for a
        cGAN: a generator that ignores its noise has none), and for a cGAN
        ``class_agreement`` (fraction predicted as the conditioned class) and
        ``per_class_agreement`` (one fraction per class).
    """
    cfg = generator.cfg
    labels = torch.arange(n) % cfg.num_classes if cfg.conditional else None
    images = sample_images(generator, n, seed, labels)
    probs = torch.softmax(predict(judge, images).float(), 1).cpu()
    predicted = probs.argmax(1)
    k = probs.shape[1]
    histogram = torch.bincount(predicted, minlength=k).float() / n
    scores: dict[str, Any] = dict(
        mean_max_probability=float(probs.max(1).values.mean()),
        classes_covered=float((histogram >= 0.5 / k).sum()),
        sample_diversity=mean_pairwise_distance(images, labels),
        class_histogram=[round(float(h), 4) for h in histogram],
    )
    if labels is not None:
        hit = (predicted == labels).float()
        scores["class_agreement"] = float(hit.mean())
        scores["per_class_agreement"] = [round(float(hit[labels == c].mean()), 4) for c in range(cfg.num_classes)]
    return scores


def mean_pairwise_distance(images: Tensor, labels: Tensor | None = None) -> float:
    """Mean Euclidean distance between pairs of images ``[n, C, H, W]`` (in [0, 1]): over all
    pairs, or with ``labels [n]`` within each class, averaged over the classes."""
    flat = images.flatten(1).float().cpu()
    if labels is None:
        return float(torch.pdist(flat).mean())
    labels = labels.cpu()
    groups = [flat[labels == c] for c in torch.unique(labels)]
    return float(torch.stack([torch.pdist(g).mean() for g in groups if len(g) > 1]).mean())


@torch.no_grad()
def _update_average(averaged: nn.Module, live: nn.Module, decay: float) -> None:
    """``averaged <- decay * averaged + (1 - decay) * live`` for parameters; buffers (BatchNorm
    running statistics) are copied from the live generator."""
    for a, p in zip(averaged.parameters(), live.parameters()):
        a.lerp_(p, 1.0 - decay)
    for a, b in zip(averaged.buffers(), live.buffers()):
        a.copy_(b)
