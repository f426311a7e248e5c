"""Tests for nets/autoencoder.py and nets/gan.py: shapes, gradient flow, hand-computed losses,
and short learning runs (a linear AE against PCA, a VAE, one GAN training step). The char
language model (nets/rnn.py) is in tests/test_nets_rnn.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nets.autoencoder import (
    DEFAULT_HIDDEN,
    AEOutput,
    Autoencoder,
    AutoencoderConfig,
    VAE,
    VAEOutput,
    autoencoder_loss,
    make_autoencoder,
    negative_elbo,
    pca_baseline,
    sample_prior,
)
from nets.gan import Discriminator, GANConfig, Generator, discriminator_loss, generator_loss
from nets.gan import sample as gan_sample
from nets_checks import assert_grads_flow as _assert_grads_flow


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn digits scaled to [0, 1], split 1500 train / 297 test with a fixed permutation."""
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:1500]], x[perm[1500:]]


# ---------------------------------------------------------------- autoencoders

AE_KINDS = ["linear", "deep", "sparse", "denoising"]


@pytest.mark.parametrize("kind", AE_KINDS)
def test_autoencoder_shapes(kind: str) -> None:
    cfg = AutoencoderConfig(in_features=20, code=3, kind=kind)  # type: ignore[arg-type]
    model = make_autoencoder(cfg)
    assert isinstance(model, Autoencoder)
    x = torch.rand(5, 20)
    out = model(x)
    assert isinstance(out, AEOutput)
    assert out.reconstruction.shape == (5, 20) and out.code.shape == (5, 3)
    assert model.encode(x).shape == (5, 3) and model.decode(out.code).shape == (5, 20)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if kind == "linear":
        assert len(linears) == 2
    else:
        assert cfg.hidden_sizes == DEFAULT_HIDDEN
        assert len(linears) == 2 * (len(DEFAULT_HIDDEN) + 1)
        assert ((out.reconstruction >= 0) & (out.reconstruction <= 1)).all()


def test_linear_autoencoder_is_affine() -> None:
    torch.manual_seed(0)
    model = Autoencoder(AutoencoderConfig(in_features=10, code=4, kind="linear"))
    a, b = torch.randn(3, 10), torch.randn(3, 10)
    mid = model((a + b) / 2).reconstruction
    torch.testing.assert_close(mid, (model(a).reconstruction + model(b).reconstruction) / 2)


@pytest.mark.parametrize("kind", [*AE_KINDS, "vae"])
def test_autoencoder_gradients_reach_every_parameter(kind: str) -> None:
    torch.manual_seed(0)
    hidden = () if kind == "linear" else (10, 6)
    cfg = AutoencoderConfig(in_features=12, code=3, hidden=hidden, kind=kind)  # type: ignore[arg-type]
    model = make_autoencoder(cfg)
    x = torch.rand(8, 12)
    if isinstance(model, VAE):
        negative_elbo(x.round(), model(x.round())).mean().backward()
    else:
        autoencoder_loss(model, x, model(x), training=True).backward()
    _assert_grads_flow(model)


def test_autoencoder_config_errors() -> None:
    with pytest.raises(ValueError, match="linear autoencoder has no hidden"):
        AutoencoderConfig(in_features=4, hidden=(3,), kind="linear")
    with pytest.raises(ValueError, match="VAE"):
        Autoencoder(AutoencoderConfig(in_features=4, kind="vae"))
    with pytest.raises(ValueError, match="kind='vae'"):
        VAE(AutoencoderConfig(in_features=4, kind="deep"))
    with pytest.raises(ValueError, match="activation"):
        AutoencoderConfig(in_features=4, activation="swish")  # type: ignore[arg-type]


def test_sparse_loss_adds_l1_of_code_only_when_training() -> None:
    torch.manual_seed(0)
    cfg = AutoencoderConfig(in_features=6, code=2, hidden=(5,), kind="sparse", sparsity_weight=0.5)
    model = Autoencoder(cfg)
    x = torch.rand(4, 6)
    out = model(x)
    mse = ((out.reconstruction - x) ** 2).mean()
    l1 = out.code.abs().sum(dim=1).mean()
    torch.testing.assert_close(autoencoder_loss(model, x, out, training=True), mse + 0.5 * l1)
    torch.testing.assert_close(autoencoder_loss(model, x, out, training=False), mse)
    deep = Autoencoder(AutoencoderConfig(in_features=6, code=2, hidden=(5,), kind="deep"))
    out = deep(x)
    deep_mse = ((out.reconstruction - x) ** 2).mean()
    torch.testing.assert_close(autoencoder_loss(deep, x, out, training=True), deep_mse)


def test_denoising_corrupts_only_in_training() -> None:
    cfg = AutoencoderConfig(in_features=400, code=4, hidden=(8,), kind="denoising", noise_std=0.3)
    model = Autoencoder(cfg)
    x = torch.rand(50, 400)
    noisy = model.train().corrupt(x, torch.Generator().manual_seed(0))
    assert (noisy - x).std().item() == pytest.approx(0.3, rel=0.05)
    assert torch.equal(model.eval().corrupt(x), x)
    assert torch.equal(model(x).code, model.encode(x))  # eval forward sees the clean input
    model.train()
    assert not torch.equal(model(x, torch.Generator().manual_seed(1)).code, model.encode(x))
    deep = Autoencoder(AutoencoderConfig(in_features=400, code=4, hidden=(8,), kind="deep")).train()
    assert torch.equal(deep.corrupt(x), x)


def test_pca_baseline_matches_sklearn(digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    from sklearn.decomposition import PCA

    train, test = digits
    for k in (1, 8, 20):
        pca = PCA(n_components=k).fit(train.numpy())
        recon = pca.inverse_transform(pca.transform(test.numpy()))
        expected = float(((torch.from_numpy(recon) - test) ** 2).mean())
        assert pca_baseline(train, test, k) == pytest.approx(expected, rel=1e-4)
    variance = float(((test - train.mean(0)) ** 2).mean())
    assert pca_baseline(train, test, 0) == pytest.approx(variance, rel=1e-5)
    assert pca_baseline(train, train, 64) == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match="k must be"):
        pca_baseline(train, test, 65)


def test_linear_autoencoder_matches_pca(digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Full-batch Adam on the linear AE reaches the PCA subspace: within 2% of PCA's test MSE, and
    never below PCA on the training data (PCA is the optimal rank-k reconstruction there)."""
    train, test = digits
    torch.manual_seed(0)
    model = Autoencoder(AutoencoderConfig(in_features=64, code=8, kind="linear"))
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for step in range(1000):
        loss = autoencoder_loss(model, train, model(train), training=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 299:
            with torch.no_grad():
                early = autoencoder_loss(model, test, model(test), training=False).item()
    model.eval()
    with torch.no_grad():
        test_mse = autoencoder_loss(model, test, model(test), training=False).item()
        train_mse = autoencoder_loss(model, train, model(train), training=False).item()
    pca_test = pca_baseline(train, test, 8)
    assert early <= 1.05 * pca_test
    assert test_mse <= 1.02 * pca_test
    assert train_mse >= pca_baseline(train, train, 8) * (1 - 1e-4)


def test_negative_elbo_hand_value() -> None:
    # Zero logits: each pixel costs ln 2 whatever its value; mean 0 and log-var 0: KL is 0.
    x = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    out = VAEOutput(torch.zeros(2, 3), torch.zeros(2, 2), torch.zeros(2, 2))
    torch.testing.assert_close(negative_elbo(x, out), torch.full((2,), 3 * math.log(2.0)))
    # KL of N(mu, sigma^2) from N(0, 1) in one dimension: (mu^2 + sigma^2 - 1 - ln sigma^2) / 2.
    out = VAEOutput(torch.zeros(1, 3), torch.tensor([[2.0]]), torch.tensor([[math.log(0.5)]]))
    kl = (4.0 + 0.5 - 1.0 - math.log(0.5)) / 2
    assert negative_elbo(x[:1], out).item() == pytest.approx(3 * math.log(2.0) + kl)


def test_vae_trains_and_samples(digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    train, _ = digits
    x = (train[:512] > 0.5).float()
    torch.manual_seed(0)
    model = VAE(AutoencoderConfig(in_features=64, code=4, hidden=(64,), kind="vae"))
    out = model(x)
    assert out.logits.shape == (512, 64) and out.mean.shape == out.log_var.shape == (512, 4)

    def evaluate() -> float:
        with torch.no_grad():
            nelbo = negative_elbo(x, model(x, torch.Generator().manual_seed(0)))
        assert nelbo.shape == (512,) and torch.isfinite(nelbo).all() and (nelbo > 0).all()
        return nelbo.mean().item()

    before = evaluate()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = negative_elbo(x, model(x)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = evaluate()
    assert after < 0.7 * before
    probs = sample_prior(model, 10, torch.Generator().manual_seed(0))
    assert probs.shape == (10, 64)
    assert ((probs >= 0) & (probs <= 1)).all()
    torch.testing.assert_close(probs, sample_prior(model, 10, torch.Generator().manual_seed(0)))


# ---------------------------------------------------------------- gan

GAN_GRID = [(size, classes) for size in (8, 28) for classes in (0, 10)]


def _gan(size: int, classes: int) -> tuple[GANConfig, Generator, Discriminator]:
    torch.manual_seed(0)
    cfg = GANConfig(image_size=size, latent=8, width=8, num_classes=classes)
    return cfg, Generator(cfg), Discriminator(cfg)


def _labels(cfg: GANConfig, batch: int) -> torch.Tensor | None:
    return torch.arange(batch) % cfg.num_classes if cfg.conditional else None


@pytest.mark.parametrize(("size", "classes"), GAN_GRID)
def test_gan_shapes(size: int, classes: int) -> None:
    cfg, g, d = _gan(size, classes)
    labels = _labels(cfg, 4)
    images = g(torch.randn(4, 8), labels)
    assert images.shape == (4, 1, size, size)
    assert ((images >= -1) & (images <= 1)).all()
    assert d(images, labels).shape == (4,)
    assert cfg.base_size == {8: 2, 28: 7}[size] and cfg.num_upsamples == 2
    rgb = GANConfig(image_size=size, channels=3, latent=8, width=8, num_classes=classes)
    rgb_images = Generator(rgb)(torch.randn(2, 8), _labels(rgb, 2))
    assert rgb_images.shape == (2, 3, size, size)
    assert Discriminator(rgb)(rgb_images, _labels(rgb, 2)).shape == (2,)


def test_gan_conditioning_changes_outputs() -> None:
    cfg, g, d = _gan(8, 10)
    g.eval(), d.eval()
    z = torch.randn(1, 8).expand(2, 8)
    images = g(z, torch.tensor([1, 2]))
    assert not torch.allclose(images[0], images[1])
    same = images[:1].expand(2, -1, -1, -1)
    logits = d(same, torch.tensor([1, 2]))
    assert not torch.allclose(logits[0], logits[1])


def test_gan_label_errors() -> None:
    cfg, g, d = _gan(8, 10)
    with pytest.raises(ValueError, match="class-conditional"):
        g(torch.randn(2, 8))
    with pytest.raises(ValueError, match="labels must be"):
        d(torch.zeros(2, 1, 8, 8), torch.tensor([1, 2, 3]))
    _, g0, _ = _gan(8, 0)
    with pytest.raises(ValueError, match="unconditional"):
        g0(torch.randn(2, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="image_size"):
        GANConfig(image_size=7)


def test_gan_losses_hand_values() -> None:
    def softplus(v: float) -> float:
        return math.log1p(math.exp(v))

    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 0.0])
    d_expected = (softplus(-0.0) + softplus(-2.0)) / 2 + (softplus(-1.0) + softplus(0.0)) / 2
    assert discriminator_loss(real, fake).item() == pytest.approx(d_expected)
    assert generator_loss(fake).item() == pytest.approx((softplus(1.0) + softplus(0.0)) / 2)
    # A perfect discriminator (huge margins) has near-zero loss; the non-saturating generator loss
    # is then large with a gradient that does not vanish.
    assert discriminator_loss(torch.tensor([30.0]), torch.tensor([-30.0])).item() < 1e-10
    fake = torch.tensor([-30.0], requires_grad=True)
    generator_loss(fake).backward()
    assert fake.grad is not None and fake.grad.item() == pytest.approx(-1.0)


@pytest.mark.parametrize(("size", "classes"), GAN_GRID)
def test_gan_gradients_and_one_training_step(size: int, classes: int) -> None:
    cfg, g, d = _gan(size, classes)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    labels = _labels(cfg, 6)
    real = torch.rand(6, 1, size, size) * 2 - 1
    g_before = [p.detach().clone() for p in g.parameters()]
    d_before = [p.detach().clone() for p in d.parameters()]

    fake = g(torch.randn(6, 8), labels)
    d_loss = discriminator_loss(d(real, labels), d(fake.detach(), labels))
    opt_d.zero_grad()
    d_loss.backward()
    _assert_grads_flow(d)
    assert all(p.grad is None for p in g.parameters())  # detached fakes: G untouched
    opt_d.step()

    g_loss = generator_loss(d(fake, labels))
    opt_g.zero_grad()
    g_loss.backward()
    _assert_grads_flow(g)
    opt_g.step()

    assert all(not torch.equal(a, b) for a, b in zip(g_before, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, d.parameters(), strict=True))


def test_gan_sample_shape_determinism_and_mode() -> None:
    cfg, g, _ = _gan(28, 10)
    labels = torch.arange(5)
    a = gan_sample(g, 5, labels, gen=torch.Generator().manual_seed(0))
    b = gan_sample(g, 5, labels, gen=torch.Generator().manual_seed(0))
    assert a.shape == (5, 1, 28, 28)
    torch.testing.assert_close(a, b)
    assert g.training
    with pytest.raises(ValueError, match="class-conditional"):
        gan_sample(g, 5)
